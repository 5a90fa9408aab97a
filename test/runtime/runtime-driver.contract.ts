/**
 * The RuntimeDriver contract, as one suite every driver runs (process now; docker and swarm
 * later): `runtimeDriverContract('process', (stateDir) => new ProcessDriver({ stateDir }))`.
 *
 * Instances are POSIX shell scripts (`/bin/sh -c`), so the same suite runs in a busybox image.
 * Everything real: processes, signals, log files; no timing thresholds, only deadlines.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InstanceHandle, InstanceSpec, InstanceStatus, RuntimeDriver } from '../../src/runtime/runtime-driver.js';
import { Duration } from '../../src/util/duration.js';
import { isAlive, killProcessesUnder, processesWithArg, waitForExit } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { pidOf, withHandleData } from '../helpers/instance-pid.js';

export type MakeDriver = (stateDir: string) => RuntimeDriver | Promise<RuntimeDriver>;

const STACK = 'contract';
/** A long-running instance with no children of its own (the shell becomes sleep). */
const RUNS = 'echo ready; exec sleep 600';

export function runtimeDriverContract(name: string, makeDriver: MakeDriver): void {
  describe(`RuntimeDriver contract: ${name}`, () => {
    let dir: string;
    let stateDir: string;
    let driver: RuntimeDriver;
    const started: { driver: RuntimeDriver; handle: InstanceHandle }[] = [];

    /** An instance running `script` under /bin/sh in the test's directory. */
    const spec = (script: string, extra: Partial<InstanceSpec> = {}): InstanceSpec => {
      const index = started.length;
      return {
        id: `svc-${index}-${randomBytes(3).toString('hex')}`,
        stack: STACK,
        service: 'svc',
        index,
        command: script,
        args: null,
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        user: null,
        memoryBytes: null,
        cpuCores: null,
        ports: {},
        specHash: 'contract-hash',
        ...extra,
      };
    };

    const start = async (
      script: string,
      extra: Partial<InstanceSpec> = {},
      by: RuntimeDriver = driver,
    ): Promise<InstanceHandle> => {
      const handle = await by.start(spec(script, extra));
      started.push({ driver: by, handle });
      return handle;
    };

    const logsOf = (h: InstanceHandle) => driver.logs(h, { lines: 1000 });
    const waitForLog = (h: InstanceHandle, text: string) =>
      waitFor(async () => (await logsOf(h)).includes(text), { what: `"${text}" in the log of ${h.id}` });
    const waitForEnd = (h: InstanceHandle) =>
      waitFor(
        async (): Promise<InstanceStatus | undefined> => {
          const s = await driver.inspect(h);
          return s.state === 'running' ? undefined : s;
        },
        { what: `${h.id} to end` },
      );

    beforeEach(async () => {
      dir = makeTempDir(`driver-${name}`);
      stateDir = path.join(dir, '.groundwork');
      mkdirSync(stateDir);
      driver = await makeDriver(stateDir);
      started.length = 0;
    });

    afterEach(async () => {
      // Stop through the driver what is still running (that is part of the contract), then sweep.
      for (const { driver: d, handle } of started) {
        if ((await d.inspect(handle)).state === 'running') await d.stop(handle, Duration.seconds(2));
        await d.forget(handle);
      }
      const leftovers = await killProcessesUnder(dir);
      removeTempDir(dir);
      expect(leftovers, 'processes left running after stopping every instance').toBe(0);
    });

    it('declares its name and capabilities', () => {
      expect(driver.name).toBe(name);
      for (const k of ['users', 'limits', 'adoption'] as const) expect(typeof driver.capabilities[k]).toBe('boolean');
    });

    it('start gives a handle whose instance inspects as running', async () => {
      const h = await start(RUNS);
      expect(pidOf(h)).toBeGreaterThan(0);
      expect(h.service).toBe('svc');
      expect(h.specHash).toBe('contract-hash');
      expect(await driver.inspect(h)).toEqual({ state: 'running', pid: pidOf(h) });
      expect(isAlive(pidOf(h))).toBe(true);
      await waitForLog(h, 'ready');
    });

    it('passes env and cwd to the instance', async () => {
      const h = await start('echo "value=$GREETING cwd=$(pwd)"; exec sleep 600', {
        env: { PATH: process.env.PATH ?? '/bin', GREETING: 'hi there' },
      });
      await waitForLog(h, `value=hi there cwd=${dir}`);
    });

    it('stop: an instance that handles SIGTERM exits on its own within the grace period', async () => {
      const h = await start("trap 'echo stopping; exit 0' TERM; echo ready; while :; do sleep 0.05; done");
      await waitForLog(h, 'ready');
      const s = await driver.stop(h, Duration.seconds(20));
      // Exit code 0 from its own trap, not a SIGKILL after the grace period.
      expect(s).toEqual({ state: 'exited', exitCode: 0, signal: null });
      expect(isAlive(pidOf(h))).toBe(false);
      expect(await logsOf(h)).toContain('stopping');
      expect(await driver.inspect(h)).toEqual({ state: 'exited', exitCode: 0, signal: null });
    });

    it('stop: an instance that ignores SIGTERM is SIGKILLed after the grace period', async () => {
      const h = await start("trap '' TERM; echo ready; while :; do sleep 0.05; done");
      await waitForLog(h, 'ready');
      const s = await driver.stop(h, Duration.milliseconds(300));
      expect(s).toMatchObject({ state: 'exited', signal: 'SIGKILL' });
      expect(isAlive(pidOf(h))).toBe(false);
    });

    it('stop takes down the processes the instance started, too', async () => {
      const marker = `contract-child-${randomBytes(4).toString('hex')}`;
      const h = await start(`sh -c 'while :; do sleep 0.05; done' ${marker} & echo ready; wait`);
      await waitForLog(h, 'ready');
      await waitFor(() => processesWithArg(marker).length === 1, { what: 'the background child to run' });
      await driver.stop(h, Duration.seconds(5));
      await waitFor(() => processesWithArg(marker).length === 0, { what: 'the background child to be gone' });
    });

    it('stop of an instance that already ended resolves with how it ended', async () => {
      const h = await start('sleep 0.2; exit 5');
      await waitForEnd(h);
      expect(await driver.stop(h, Duration.seconds(1))).toEqual({ state: 'exited', exitCode: 5, signal: null });
    });

    it('reports the exit code of an instance that exits', async () => {
      const h = await start('sleep 0.3; exit 3');
      expect(await waitForEnd(h)).toEqual({ state: 'exited', exitCode: 3, signal: null });
    });

    it.each([['SIGKILL'], ['SIGTERM']] as const)('reports the signal of an instance killed by %s', async (signal) => {
      const h = await start(RUNS);
      await waitForLog(h, 'ready');
      process.kill(pidOf(h), signal);
      expect(await waitForEnd(h)).toEqual({ state: 'exited', exitCode: null, signal });
    });

    it('a new driver over the same state directory lists and adopts running instances', async () => {
      const a = await start(RUNS, { ports: { http: 23456 } });
      const other = await start(RUNS, { stack: 'another-stack' });
      const second = await makeDriver(stateDir);
      const listed = await second.list(STACK);
      expect(listed.map((h) => h.id)).toEqual([a.id]);
      const adopted = listed[0] as InstanceHandle;
      expect(adopted).toMatchObject({
        id: a.id,
        handle: a.handle,
        specHash: a.specHash,
        service: 'svc',
        index: a.index,
        ports: { http: 23456 },
      });
      expect(await second.inspect(adopted)).toEqual({ state: 'running', pid: pidOf(a) });
      expect((await second.list('another-stack')).map((h) => h.id)).toEqual([other.id]);
      // The adopting driver can stop what it did not start.
      const s = await second.stop(adopted, Duration.seconds(5));
      expect(s.state).toBe('exited');
      expect(isAlive(pidOf(a))).toBe(false);
    });

    it('logs returns the last lines of the instance output (stdout and stderr)', async () => {
      const h = await start(
        'for i in 1 2 3 4 5; do echo "line $i"; done; echo "to stderr" >&2; echo done; exec sleep 600',
      );
      await waitForLog(h, 'done');
      const all = await driver.logs(h, { lines: 100 });
      expect(all).toContain('line 1\nline 2\nline 3\nline 4\nline 5\n');
      expect(all).toContain('to stderr');
      expect(await driver.logs(h, { lines: 2 })).toBe('to stderr\ndone\n');
    });

    it('stats report resident memory and CPU time of a running instance, nothing once it is gone', async () => {
      const h = await start(RUNS);
      await waitForLog(h, 'ready');
      const s = await driver.stats(h);
      expect(s?.rssBytes).toBeGreaterThan(0);
      expect(s?.cpuSeconds).toBeGreaterThanOrEqual(0);
      await driver.stop(h, Duration.seconds(5));
      expect(await driver.stats(h)).toBeUndefined();
    });

    it('forget removes a gone instance from list; inspect then says missing', async () => {
      const h = await start('sleep 0.1; exit 0');
      await waitForEnd(h);
      expect((await driver.list(STACK)).map((x) => x.id)).toContain(h.id);
      await driver.forget(h);
      expect((await driver.list(STACK)).map((x) => x.id)).not.toContain(h.id);
      expect(await driver.inspect(h)).toEqual({ state: 'missing' });
    });

    it('start that fails throws, with the reason, and leaves nothing running', async () => {
      await expect(driver.start(spec('echo hi', { cwd: path.join(dir, 'no-such-dir') }))).rejects.toThrow(
        /no-such-dir/,
      );
      expect(await driver.list(STACK)).toEqual([]);
    });

    it('pid reuse: a handle whose start time does not match is not running', async () => {
      const h = await start(RUNS);
      await waitForLog(h, 'ready');
      const reused: InstanceHandle = withHandleData(h, { startTicks: Number(h.handle.data.startTicks) + 1 });
      expect((await driver.inspect(reused)).state).not.toBe('running');
      expect(await driver.stats(reused)).toBeUndefined();
      // The real instance is untouched.
      expect(await driver.inspect(h)).toEqual({ state: 'running', pid: pidOf(h) });
    });

    it('pid reuse: stop through a stale handle never signals an unrelated process that now has its pid', async () => {
      const h = await start('sleep 0.1; exit 0');
      await waitForEnd(h);
      // An unrelated process group leader, standing in for whatever the kernel gave the old pids to.
      const unrelated = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
      const pid = unrelated.pid as number;
      try {
        const stale: InstanceHandle = withHandleData(h, { pid, pgid: pid });
        await driver.stop(stale, Duration.milliseconds(100));
        expect(isAlive(pid), 'the unrelated process survived').toBe(true);
      } finally {
        unrelated.kill('SIGKILL');
        await waitForExit(pid);
      }
    });
  });
}
