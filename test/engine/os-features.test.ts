/**
 * `user:`, `resources:` and volume `owner:` for real (CI runs as root): a service runs as a
 * created OS user (its /proc status says so), a memory limit is set in the instance's cgroup and
 * an allocating process hits it, volume directories get their owners; and where the host has no
 * cgroup hierarchy (an empty /sys/fs/cgroup in a private mount namespace) the limit is reported
 * as not enforced instead of being claimed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeInCgroups } from '../../src/runtime/process/cgroups.js';
import { jsonOf, runCliOk, testEnv } from '../helpers/cli.js';
import { ensureBuilt } from '../helpers/dist.js';
import { httpGet, waitForHttp } from '../helpers/http.js';
import { httpService, teardownStack, writeServerScript } from '../helpers/lab.js';
import { isAlive, waitForExit } from '../helpers/processes.js';
import { writeStack } from '../helpers/stack-file.js';
import { instancesOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { pidOf } from '../helpers/instance-pid.js';

const ROOT = process.getuid?.() === 0;
const MEMORY_LIMIT = 64 * 1024 * 1024;

/** Serves /healthz; GET /alloc allocates and touches 8 MiB chunks until the kernel stops it. */
const ALLOC_SCRIPT = `import http from 'node:http';
const held = [];
http.createServer((req, res) => {
  if (req.url === '/alloc') {
    res.end('allocating\\n');
    setImmediate(() => { for (;;) held.push(Buffer.alloc(8 * 1024 * 1024, 1)); });
    return;
  }
  res.end('ok\\n');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function statusLine(pid: number, key: string): string {
  const m = new RegExp(`^${key}:\\s+(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${key} line`);
  return m[1] as string;
}

function idOf(flag: '-u' | '-g', user: string): number {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
}

/** The memory cgroup directory of a process (cgroup v1 `memory` line, or the v2 unified line). */
function memoryCgroupDir(pid: number): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (v1) return path.join('/sys/fs/cgroup/memory', v1.slice(v1.lastIndexOf(':') + 1));
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2) return path.join('/sys/fs/cgroup', v2.slice(3));
  throw new Error(`no memory cgroup for pid ${pid}: ${lines.join(' | ')}`);
}

const describeAsRoot = ROOT ? describe : describe.skip;
// Skipped only when the tests do not run as root (a developer's machine); CI runs as root.
describeAsRoot('user, resources and volume owner, as root', () => {
  const STACK = 'oslab';
  const user = `gwt${randomBytes(3).toString('hex')}`;
  let dir: string;

  beforeAll(async () => {
    dir = makeTempDir('os');
    // The service's user must be able to enter the directory and read its script.
    chmodSync(dir, 0o755);
    writeServerScript(dir);
    writeFileSync(path.join(dir, 'alloc.mjs'), ALLOC_SCRIPT);
    const services = {
      asuser: httpService({ user }),
      limited: { ...httpService({ resources: { memory: '64MiB' } }), args: ['alloc.mjs'] },
    };
    // The services first: the service step creates the OS user. A volume whose owner is that
    // user fails when it is applied in the same run before the service (nothing orders a volume
    // after the service that creates its owner; reported to the lead), so it comes second.
    writeStack(dir, { stack: STACK, services });
    await runCliOk(['apply', '-m', 'services'], { cwd: dir });
    writeStack(dir, {
      stack: STACK,
      volumes: {
        numeric: { path: 'numeric', owner: '1234:2345', mode: '0750' },
        named: { path: 'named', owner: user, mode: '0700' },
      },
      services,
    });
    await runCliOk(['apply', '-m', 'volumes'], { cwd: dir });
  });

  afterAll(async () => {
    try {
      await teardownStack(dir, STACK);
    } finally {
      removeTempDir(dir);
      try {
        execFileSync('userdel', [user], { stdio: 'ignore' });
      } catch {
        /* never created */
      }
    }
  });

  it('user: the service runs as the created OS user (uid and gid in /proc/PID/status)', async () => {
    const [inst] = instancesOf(dir, 'asuser');
    expect(inst).toBeDefined();
    const pid = pidOf(inst);
    const uid = idOf('-u', user);
    expect(uid).toBeGreaterThan(0);
    // Real, effective, saved and filesystem uid; the same for gid.
    expect(statusLine(pid, 'Uid').split(/\s+/)).toEqual([uid, uid, uid, uid].map(String));
    expect(statusLine(pid, 'Gid').split(/\s+/)).toEqual(Array(4).fill(String(idOf('-g', user))));
    await waitForHttp(inst?.ports.http as number, '/', (b) => b.startsWith('asuser 0'), 'asuser to answer');
  });

  it('volume owner: directories get the declared uid:gid, by number and by name', () => {
    const numeric = statSync(path.join(dir, 'numeric'));
    expect([numeric.uid, numeric.gid, numeric.mode & 0o777]).toEqual([1234, 2345, 0o750]);
    const named = statSync(path.join(dir, 'named'));
    expect([named.uid, named.gid, named.mode & 0o777]).toEqual([idOf('-u', user), idOf('-g', user), 0o700]);
  });

  it('resources.memory: the limit is in the instance cgroup, and a process that allocates past it is killed', async () => {
    const [inst] = instancesOf(dir, 'limited');
    const pid = pidOf(inst);
    expect(inst?.limits).toMatch(/^cgroup v[12]/);
    const cg = memoryCgroupDir(pid);
    const limitFile = existsSync(path.join(cg, 'memory.max'))
      ? path.join(cg, 'memory.max')
      : path.join(cg, 'memory.limit_in_bytes');
    expect(Number(readFileSync(limitFile, 'utf8').trim())).toBe(MEMORY_LIMIT);
    expect((await httpGet(inst?.ports.http as number, '/alloc')).body).toBe('allocating\n');
    await waitForExit(pid, `the allocating service (pid ${pid}) to be stopped by its memory limit`);
    // The kernel, not anything else, stopped it: the cgroup counted allocations it refused.
    const failcnt = path.join(cg, 'memory.failcnt');
    const events = path.join(cg, 'memory.events');
    if (existsSync(failcnt)) expect(Number(readFileSync(failcnt, 'utf8'))).toBeGreaterThan(0);
    else expect(readFileSync(events, 'utf8')).toMatch(/oom_kill [1-9]/);
    // refresh records how it ended.
    const r = jsonOf<{ reports: { address: string; drift: string[] }[] }>(
      await runCliOk(['refresh', '--json'], { cwd: dir }),
    );
    const drift = r.reports.find((d) => d.address === 'service.limited')?.drift.join('; ');
    expect(drift).toContain(`pid ${pid}`);
    expect(drift).toContain('SIGKILL');
  });
});

describeAsRoot('resources where the host has no cgroup hierarchy', () => {
  const STACK = 'nocgroup';
  let dir: string;

  beforeAll(() => {
    dir = makeTempDir('nocg');
    writeServerScript(dir);
    writeStack(dir, { stack: STACK, services: { web: httpService({ resources: { memory: '64MiB', cpu: 0.5 } }) } });
  });

  afterAll(async () => {
    try {
      await teardownStack(dir, STACK);
    } finally {
      removeTempDir(dir);
    }
  });

  it('placeInCgroups on a root without a hierarchy says not enforced, and places nothing', () => {
    const empty = makeTempDir('cgroot');
    try {
      expect(placeInCgroups('x', MEMORY_LIMIT, 0.5, undefined, empty)).toEqual({
        dirs: [],
        description: `not enforced: no cgroup hierarchy at ${empty}`,
      });
    } finally {
      removeTempDir(empty);
    }
  });

  it('apply in a mount namespace whose /sys/fs/cgroup is an empty tmpfs: the instance runs, limits "not enforced"', () => {
    const cli = ensureBuilt();
    // The real CLI as its own process, with an empty /sys/fs/cgroup only in its own mount namespace.
    execFileSync(
      'unshare',
      ['--mount', 'sh', '-c', 'mount -t tmpfs none /sys/fs/cgroup && exec "$0" "$@"', process.execPath, cli, 'apply'],
      { cwd: dir, env: testEnv() as NodeJS.ProcessEnv, stdio: 'pipe' },
    );
    const [inst] = instancesOf(dir, 'web');
    expect(inst?.limits).toBe('not enforced: no cgroup hierarchy at /sys/fs/cgroup');
    expect(isAlive(pidOf(inst))).toBe(true);
  });
});
