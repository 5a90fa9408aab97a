/** The process driver against the shared RuntimeDriver contract, and what only it promises: nothing escapes stop. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE_MARKER, ProcessDriver } from '../../src/runtime/process/process-driver.js';
import type { InstanceHandle, InstanceSpec } from '../../src/runtime/runtime-driver.js';
import { Duration } from '../../src/util/duration.js';
import { ensureBuilt } from '../helpers/dist.js';
import { isAlive, killProcessesUnder, processesWithArg, tryEnviron } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { runtimeDriverContract } from './runtime-driver.contract.js';
import { pidOf, processDataOf } from '../helpers/instance-pid.js';

runtimeDriverContract('process', (stateDir) => new ProcessDriver({ stateDir }));

/** Every live process whose environment carries the instance's marker, read from /proc here (not by the driver). */
function markedProcesses(id: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => isAlive(pid) && tryEnviron(pid)?.[INSTANCE_MARKER] === id);
}

function writerPidOf(stateDir: string, id: string): number {
  const rec = JSON.parse(readFileSync(path.join(stateDir, 'instances', `${id}.json`), 'utf8')) as {
    logWriter: { pid: number };
  };
  return rec.logWriter.pid;
}

function trackingCgroupOf(stateDir: string, id: string): string | undefined {
  const rec = JSON.parse(readFileSync(path.join(stateDir, 'instances', `${id}.json`), 'utf8')) as {
    trackingCgroup?: string;
  };
  return rec.trackingCgroup;
}

/** A loop that ignores SIGTERM, named by `marker` on its command line. */
const stubborn = (marker: string) => `sh -c 'trap "" TERM HUP; while :; do sleep 1; done' ${marker}`;

describe.each([
  ['with a tracking cgroup', true],
  ['without cgroups (environment marker, process group)', false],
])('process driver: stop leaves no process behind, %s', (_label, trackingCgroups) => {
  let dir: string;
  let stateDir: string;
  let driver: ProcessDriver;
  const handles: InstanceHandle[] = [];

  beforeEach(() => {
    ensureBuilt(); // the log writer runs from dist/
    dir = makeTempDir('escape');
    stateDir = path.join(dir, '.groundwork');
    mkdirSync(stateDir);
    driver = new ProcessDriver({ stateDir, trackingCgroups });
    handles.length = 0;
  });

  afterEach(async () => {
    const cgroups = handles.map((h) => trackingCgroupOf(stateDir, h.id)).filter((c): c is string => c !== undefined);
    for (const h of handles) await driver.forget(h);
    for (const c of cgroups) expect(existsSync(c), `tracking cgroup ${c} removed`).toBe(false);
    const leftovers = await killProcessesUnder(dir);
    removeTempDir(dir);
    expect(leftovers, 'processes left after stop').toBe(0);
  });

  const start = async (script: string): Promise<InstanceHandle> => {
    const spec: InstanceSpec = {
      id: `esc-${randomBytes(3).toString('hex')}`,
      stack: 'escape',
      service: 'svc',
      index: handles.length,
      command: script,
      args: null,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      user: null,
      memoryBytes: null,
      cpuCores: null,
      ports: {},
      specHash: 'h',
    };
    const h = await driver.start(spec);
    handles.push(h);
    return h;
  };

  /** Stops `h`, then checks /proc: no process with the marker, the instance's env marker, or its log writer. */
  const stopAndExpectNothingLeft = async (h: InstanceHandle, markers: string[]) => {
    const writer = writerPidOf(stateDir, h.id);
    await driver.stop(h, Duration.milliseconds(300));
    for (const m of markers) expect(processesWithArg(m), `processes named ${m}`).toEqual([]);
    expect(markedProcesses(h.id), `processes with ${INSTANCE_MARKER}=${h.id}`).toEqual([]);
    expect(isAlive(pidOf(h))).toBe(false);
    expect(isAlive(writer), 'the log writer').toBe(false);
  };

  it('a child that ignores SIGTERM, whose parent (the service) dies at SIGTERM', async () => {
    const m = `child-${randomBytes(4).toString('hex')}`;
    const h = await start(`${stubborn(m)} & echo ready; wait`);
    await waitFor(() => processesWithArg(m).length === 1, { what: 'the stubborn child' });
    await stopAndExpectNothingLeft(h, [m]);
  });

  it('a setsid grandchild (another session and process group) that ignores SIGTERM', async () => {
    const m = `setsid-${randomBytes(4).toString('hex')}`;
    const h = await start(`sh -c "setsid ${stubborn(m).replace(/"/g, '\\"')} &"; echo ready; exec sleep 600`);
    const [pid] = await waitFor(() => (processesWithArg(m).length === 1 ? processesWithArg(m) : undefined), {
      what: 'the setsid grandchild',
    });
    // It really left: its session is not the shim's.
    const sid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[4]);
    expect(sid).not.toBe(processDataOf(h).pgid);
    await stopAndExpectNothingLeft(h, [m]);
  });

  it('a daemonizing service (restart: never): the service exited, its double-forked daemon still runs', async () => {
    const m = `daemon-${randomBytes(4).toString('hex')}`;
    // It exits once the test says so (the file `go`), so start() sees it running first.
    const h = await start(`(setsid ${stubborn(m)} &) ; while [ ! -e go ]; do sleep 0.05; done; exit 0`);
    writeFileSync(path.join(dir, 'go'), '');
    await waitFor(async () => (await driver.inspect(h)).state === 'exited', { what: 'the service to exit' });
    await waitFor(() => processesWithArg(m).length === 1, { what: 'the daemon it left' });
    await stopAndExpectNothingLeft(h, [m]);
  });

  it.runIf(trackingCgroups)(
    'with a tracking cgroup, even a grandchild that cleared its environment (when the host lets us make one)',
    async (ctx) => {
      const m = `noenv-${randomBytes(4).toString('hex')}`;
      const h = await start(`setsid env -i /bin/sh -c 'trap "" TERM; while :; do sleep 1; done' ${m} & exec sleep 600`);
      if (!trackingCgroupOf(stateDir, h.id)) {
        await driver.stop(h, Duration.milliseconds(100));
        await killProcessesUnder(dir);
        ctx.skip('no writable cgroup hierarchy on this host: only the environment marker tracks processes');
      }
      await waitFor(() => processesWithArg(m).length === 1, { what: 'the grandchild without environment' });
      await stopAndExpectNothingLeft(h, [m]);
    },
  );
});
