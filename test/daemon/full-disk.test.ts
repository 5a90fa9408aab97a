/**
 * Issue 10: a full disk under the state directory is a state, not a crash. The daemon keeps
 * supervising (a killed instance is restarted and kept in memory), every change is refused with a
 * clear message, `status` says so, and after space returns the state catches up and commands work.
 * The state directory is a small tmpfs mounted by the test (root only: CI runs as root).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StatusView } from '../../src/core/status.js';
import { jsonOf, runCli, runCliOk, STACK_FRAME } from '../helpers/cli.js';
import { writeStack } from '../helpers/lab.js';
import { isAlive, killProcessesUnder, processesUnder } from '../helpers/processes.js';
import { instancesOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { spawnUp, type SpawnedDaemon } from './daemon-harness.js';
import { pidOf } from '../helpers/instance-pid.js';

const isRoot = process.getuid?.() === 0;

/** Logs nothing after start, and ignores a failed write: the disk will be full. */
const SERVER = `import http from 'node:http';
const port = Number(process.env.PORT);
http.createServer((req, res) => res.end('ok\\n')).listen(port, '127.0.0.1', () => { try { console.log('up'); } catch {} });
process.on('SIGTERM', () => process.exit(0));
`;

function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full. Top up with small writes so not even a page is left.
    const small = Buffer.alloc(512, 1);
    try {
      for (;;) writeSync(fd, small);
    } catch {
      /* full to the byte */
    }
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!isRoot)('a full disk under the state directory (needs root to mount a tmpfs)', () => {
  const dir = makeTempDir('fulldisk');
  const stateDir = path.join(dir, '.groundwork');
  let daemon: SpawnedDaemon | undefined;
  let mounted = false;

  afterAll(async () => {
    if (daemon && isAlive(daemon.pid)) daemon.child.kill('SIGKILL');
    await killProcessesUnder(dir);
    if (mounted) execFileSync('umount', ['-l', stateDir]);
    removeTempDir(dir);
  });

  it('refuses changes clearly, keeps supervising, and catches up when space returns', async () => {
    mkdirSync(stateDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m,mode=0700', 'tmpfs', stateDir]);
    mounted = true;
    writeFileSync(path.join(dir, 'server.mjs'), SERVER);
    const web = {
      command: 'node',
      args: ['server.mjs'],
      ports: { http: 'auto' as const },
      env: { PORT: '${port.http}' },
      health: { http: { path: '/' }, interval: '500ms', timeout: '1s' },
      stop_grace: '2s',
    };
    writeStack(dir, { stack: 'fulldisk', services: { web } });
    daemon = await spawnUp(dir);
    const first = await waitFor(
      async () => (await daemon?.api.service('web'))?.instances.find((i) => i.state === 'healthy'),
      {
        what: 'web healthy',
        timeoutMs: 30_000,
      },
    );

    const filler = path.join(stateDir, 'filler');
    fill(filler);
    const cwd = { cwd: dir };
    writeStack(dir, { stack: 'fulldisk', services: { web: { ...web, env: { ...web.env, CHANGED: '1' } } } });
    for (const argv of [
      ['apply', '-m', 'on a full disk'],
      ['restart', 'web'],
      ['deploy', 'web'],
    ]) {
      const r = await runCli(argv, cwd);
      expect(r.code, `groundwork ${argv.join(' ')}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`the disk holding ${stateDir} is full`);
      expect(r.stderr).toMatch(/fix: free space/);
      expect(r.stderr).not.toMatch(STACK_FRAME);
    }
    const status = jsonOf<StatusView>(await runCliOk(['status', '--json'], cwd));
    expect(status.storage.full).toBe(true);
    expect(isAlive(daemon.pid)).toBe(true);

    // A crash on a full disk: nothing may start that is not recorded first, and the record cannot
    // be written, so the instance waits (no restart counted) and the daemon keeps going.
    process.kill(first.pid as number, 'SIGKILL');
    await waitFor(
      async () =>
        (await daemon?.api.service('web'))?.instances.find((i) => /disk holding the state is full/.test(i.reason)),
      { what: 'web waiting for space', timeoutMs: 30_000 },
    );
    expect(isAlive(daemon.pid)).toBe(true);

    rmSync(filler);
    // Once there is room the instance starts again and is recorded.
    const second = await waitFor(
      async () =>
        (await daemon?.api.service('web'))?.instances.find((i) => i.state === 'healthy' && i.pid !== first.pid),
      { what: 'web restarted after space returned', timeoutMs: 30_000 },
    ).catch(async (e: unknown) => {
      throw new Error(
        `${String(e)}\nstatus: ${JSON.stringify(await daemon?.api.service('web'))}\ndaemon: ${daemon?.output().slice(-3000)}`,
      );
    });
    expect(second.restarts).toBe(1);
    await waitFor(() => (pidOf(instancesOf(dir, 'web')[0]) === second.pid ? true : undefined), {
      what: 'the restarted instance recorded',
      timeoutMs: 15_000,
    });
    expect(jsonOf<StatusView>(await runCliOk(['status', '--json'], cwd)).storage.full).toBe(false);
    await runCliOk(['apply', '-m', 'space again'], cwd);
    await runCliOk(['restart', 'web'], cwd);
    await runCliOk(['down'], cwd);
    expect(await daemon.exited).toBe(0);
    expect(processesUnder(dir)).toEqual([]);
  });
});
