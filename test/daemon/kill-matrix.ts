/**
 * Issue 10's SIGKILL matrix, shared by the process and the docker runtime: the daemon (a real
 * `groundwork up` process) is killed at kill point k of a rolling deploy, a blue-green deploy, a
 * rollback and a switch back to a blue-green standby set, by the test-only hook GROUNDWORK_TEST_KILL_AT (src/core/test-kill-point.ts), which
 * makes "point k" the same moment on every run. After each kill a new daemon starts (without
 * applying) and the case checks:
 *
 * - no release is left `deploying` or `building`, and the one release marked `active` is the one
 *   state records, which is where the operation started or where it was going;
 * - exactly the wanted instances run: `replicas` of the recorded release, all healthy, plus the
 *   blue-green standby set only when state records one; no surge or green leftovers;
 * - `down` stops the daemon and leaves no process or container of the stack.
 *
 * Each case starts with a fresh daemon that applies the stack (which `down` stopped) on the state
 * the previous case left; a failed case sweeps what it left, so the next one still runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { ReleasesView } from '../../src/core/operations.js';
import { TEST_KILL_ENV } from '../../src/core/test-kill-point.js';
import { TEST_IMAGE } from '../helpers/docker.js';
import { describeLeftovers, engineObjectsOf, isEmpty, processesOf, sweepLeftovers } from '../helpers/leftovers.js';
import { isAlive, tryCmdline, tryCwd } from '../helpers/processes.js';
import { writeStack, type ServiceConfig } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { footprintOf, spawnUp, type SpawnedDaemon } from './daemon-harness.js';

export type MatrixRuntime = 'process' | 'docker';
/**
 * `standby rollback`: a blue-green deploy (not killed) leaves the previous set warm; the rollback
 * to it (a switch back to the standby set, no rollout) is killed.
 */
export type Scenario = 'rolling deploy' | 'blue-green deploy' | 'rollback' | 'standby rollback';

const isBlueGreen = (s: Scenario) => s === 'blue-green deploy' || s === 'standby rollback';

/** Marks the stack's node processes (on their command line). */
const MARKER = 'kill-matrix-server';

const SERVER = (build: string) => `import http from 'node:http';
const port = Number(process.env.PORT);
http.createServer((req, res) => res.end(req.url === '/healthz' ? 'ok\\n' : '${build}\\n'))
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/** Writes build `build` of the service's code into `dir` (both runtimes' files). */
export function writeBuild(dir: string, build: string): void {
  writeFileSync(path.join(dir, 'server.mjs'), SERVER(build));
  mkdirSync(path.join(dir, 'www'), { recursive: true });
  writeFileSync(path.join(dir, 'www', 'index.html'), `${build}\n`);
  writeFileSync(path.join(dir, 'www', 'healthz'), 'ok\n');
}

function service(runtime: MatrixRuntime, scenario: Scenario): ServiceConfig {
  const common = {
    replicas: 2,
    ports: { http: 'auto' as const },
    env: { PORT: '${port.http}' },
    // Short: readiness in one quick probe, a short monitor window, nothing to drain.
    health: { http: { path: '/healthz' }, interval: '200ms', timeout: '1s', healthy: 1 },
    stop_grace: '2s',
    deploy: {
      strategy: isBlueGreen(scenario) ? ('blue-green' as const) : ('rolling' as const),
      max_surge: 1,
      monitor: '300ms',
      drain_timeout: '1s',
      progress_deadline: '30s',
      blue_green: { keep_old_for: '10m' },
    },
  };
  if (runtime === 'process') return { ...common, command: 'node', args: ['server.mjs', MARKER] };
  return {
    ...common,
    runtime: 'docker',
    image: TEST_IMAGE,
    command: 'exec httpd -f -p 127.0.0.1:${port.http} -h www',
  };
}

export function writeMatrixStack(dir: string, stack: string, runtime: MatrixRuntime, scenario: Scenario): void {
  writeStack(dir, { stack, services: { web: service(runtime, scenario) } });
}

/** What runs of the stack, seen from outside the daemon. */
interface Running {
  /** Process: pids; docker: instance ids (the container's label). */
  ids: string[];
  /** Per running instance: process: its code directory (the release's); docker: unused. */
  releaseOf: Map<string, string>;
}

function running(dir: string, runtime: MatrixRuntime, stack: string): Running {
  const releaseOf = new Map<string, string>();
  if (runtime === 'process') {
    for (const p of processesOf(footprintOf(dir))) {
      const cmd = tryCmdline(p.pid) ?? [];
      if (path.basename(cmd[0] ?? '') !== 'node' || !cmd.includes(MARKER)) continue;
      releaseOf.set(String(p.pid), tryCwd(p.pid) ?? '');
    }
  } else {
    const out = execFileSync(
      'docker',
      [
        'ps',
        '--no-trunc',
        '--filter',
        `label=groundwork.stack=${stack}`,
        '--format',
        '{{.Label "groundwork.instance"}} {{.Label "groundwork.release"}}',
      ],
      { encoding: 'utf8' },
    );
    for (const line of out.trim().split('\n').filter(Boolean)) {
      const [id, rel] = line.split(' ');
      releaseOf.set(id ?? '', rel ?? '');
    }
  }
  return { ids: [...releaseOf.keys()], releaseOf };
}

export interface CaseResult {
  /** The release the service runs after recovery. */
  release: number;
  /** The release the operation was moving from / to. */
  from: number;
  to: number;
  standby: number;
  /** What the killed daemon printed (its kill point). */
  killedAt: string;
}

/**
 * One cell of the matrix: up (apply) with the hook set to `op:k`, the operation, the kill, a new
 * daemon, the checks, down. Returns what it saw (the caller may assert more).
 */
export async function killCase(
  dir: string,
  stack: string,
  runtime: MatrixRuntime,
  scenario: Scenario,
  k: number,
  track: (d: SpawnedDaemon | undefined) => void,
): Promise<CaseResult> {
  let current: SpawnedDaemon | undefined;
  const tracking = (d: SpawnedDaemon | undefined) => {
    current = d;
    track(d);
  };
  try {
    return await oneCase(dir, stack, runtime, scenario, k, tracking);
  } catch (e) {
    // A failed case leaves nothing for the next one: its daemon and what the stack runs go.
    if (current && isAlive(current.pid)) current.child.kill('SIGKILL');
    await current?.exited;
    track(undefined);
    await sweepLeftovers(footprintOf(dir));
    throw e;
  }
}

async function oneCase(
  dir: string,
  stack: string,
  runtime: MatrixRuntime,
  scenario: Scenario,
  k: number,
  track: (d: SpawnedDaemon | undefined) => void,
): Promise<CaseResult> {
  const op = scenario === 'rollback' || scenario === 'standby rollback' ? 'rollback' : 'deploy';
  const victim = await spawnUp(dir, { env: { [TEST_KILL_ENV]: `${op}:${k}` } });
  track(victim);
  await victim.api.waitAllHealthy(['web'], 60_000);
  if (scenario === 'standby rollback') {
    // The hook counts rollbacks only: this deploy runs to its end and leaves a standby set.
    writeBuild(dir, `build-${k}-${Date.now()}`);
    await deployOk(victim, `before standby rollback k=${k}`);
  }
  const before = await victim.api.json<ReleasesView>('GET', '/v1/services/web/releases?limit=100');
  const from = before.current ?? -1;
  let to: number;
  const message = `${scenario} k=${k}`;
  let body: Record<string, unknown>;
  if (op === 'deploy') {
    writeBuild(dir, `build-${k}-${Date.now()}`);
    to = Math.max(0, ...before.releases.map((r) => r.seq)) + 1;
    body = { message };
  } else if (scenario === 'standby rollback') {
    const standbyOf = (await victim.api.service('web')).standby?.release;
    if (standbyOf === undefined || standbyOf === null) throw new Error('the blue-green deploy left no standby set');
    to = standbyOf;
    body = { message, to };
  } else {
    // Roll back to the deployed release whose code is not the one running now.
    const codeNow = before.releases.find((r) => r.seq === from)?.dir;
    const target = before.releases.find(
      (r) => r.kind !== 'config' && r.dir !== codeNow && r.status !== 'pruned' && r.status !== 'build-failed',
    );
    if (!target) throw new Error(`no release to roll back to: ${JSON.stringify(before.releases)}`);
    to = target.seq;
    body = { message, to };
  }
  const answer = victim.api.lines('POST', `/v1/services/web/${op}`, body, 120_000).then(
    (lines) => ({ lines }),
    (e: unknown) => ({ error: e }),
  );
  const done = await answer;
  // Killed: the answer broke off. Not killed (the operation had fewer points): it ended normally.
  if ('lines' in done) victim.child.kill('SIGKILL');
  const code = await victim.exited;
  const killedAt = /kill point \d+: .*/.exec(victim.output())?.[0] ?? '';
  expect(
    'lines' in done ? 'the operation finished' : code,
    `the daemon was to be killed at ${op} point ${k}; it exited ${code}: ${JSON.stringify(done).slice(0, 2000)}\n${victim.output().slice(-3000)}`,
  ).toBe('SIGKILL');
  track(undefined);

  const d = await spawnUp(dir, { args: ['--no-apply'] });
  track(d);
  const status = await d.api.waitAllHealthy(['web'], 60_000);
  const web = status.services.find((s) => s.name === 'web');
  const after = await d.api.json<ReleasesView>('GET', '/v1/services/web/releases?limit=100');
  const context = `${runtime} ${scenario} k=${k} (${killedAt}); v${from} → v${to}; releases: ${JSON.stringify(after.releases.map((r) => [r.seq, r.status]))}`;
  expect(
    after.releases.filter((r) => r.status === 'deploying' || r.status === 'building'),
    context,
  ).toEqual([]);
  const current = after.current ?? -1;
  expect([from, to], context).toContain(current);
  expect(
    after.releases.filter((r) => r.status === 'active').map((r) => r.seq),
    context,
  ).toEqual([current]);
  const standby = web?.standby?.instances ?? 0;
  if (!isBlueGreen(scenario)) expect(web?.standby ?? null, context).toBeNull();
  // A standby set is the release that does not run: the previous one after a recorded deploy, the
  // rollback's target while the switch back was not recorded.
  if (standby) expect(web?.standby?.release, context).toBe(current === from ? to : from);
  if (scenario === 'blue-green deploy' && current === from) expect(standby, context).toBe(0);

  // Exactly the wanted instances: replicas of the recorded release (plus a recorded standby set).
  const currentDir = after.releases.find((r) => r.seq === current)?.dir ?? '?';
  const seen = await waitFor(
    () => {
      const r = running(dir, runtime, stack);
      return r.ids.length === 2 + standby ? r : undefined;
    },
    { what: `${2 + standby} running instances (${context})`, timeoutMs: 20_000 },
  ).catch(() => running(dir, runtime, stack));
  expect(seen.ids.length, `${context}: running ${JSON.stringify([...seen.releaseOf])}`).toBe(2 + standby);
  const mine = web?.instances ?? [];
  expect(mine).toHaveLength(2);
  // The daemon's instances are the recorded ones, running from the recorded release's code.
  const ids = mine.map((i) => (runtime === 'process' ? String(i.pid) : (i.id ?? '')));
  expect(
    // Docker: status names the container (gw-STACK-ID), its label the instance (ID).
    ids.every((id) => seen.ids.some((s) => s === id || id.endsWith(`-${s}`))),
    `${context}: status says ${mine.map((i) => `${i.id} pid ${i.pid} (${i.state}, ${i.reason})`).join(', ')}; running: ${seen.ids.join(', ')}`,
  ).toBe(true);
  if (runtime === 'process')
    expect(
      ids.map((pid) => seen.releaseOf.get(pid)),
      `${context}: code directories of the running instances`,
    ).toEqual([currentDir, currentDir]);

  // down stops everything, with the daemon.
  await d.api.down(true, 60_000);
  expect(await d.exited, context).toBe(0);
  track(undefined);
  const leftProcesses = processesOf(footprintOf(dir));
  const leftObjects = await engineObjectsOf(footprintOf(dir));
  if (leftProcesses.length || leftObjects.containers.length || leftObjects.services.length) {
    const left = await sweepLeftovers(footprintOf(dir));
    expect(isEmpty(left), `${context}: left after down:\n  ${describeLeftovers(left)}`).toBe(true);
  }
  return { release: current, from, to, standby, killedAt };
}

/** A deploy through the API that must succeed. */
async function deployOk(d: SpawnedDaemon, message: string): Promise<void> {
  const lines = (await d.api.lines('POST', '/v1/services/web/deploy', { message })) as {
    type: string;
    result?: { ok: boolean };
  }[];
  const result = lines.find((l) => l.type === 'result');
  if (!result?.result?.ok) throw new Error(`deploy "${message}" failed: ${JSON.stringify(lines)}`);
}

/** Brings the stack up once, optionally deploys builds, and stops it (a case starts from this). */
export async function prepareStack(dir: string, deploys: number, track: (d: SpawnedDaemon | undefined) => void) {
  writeBuild(dir, 'build-0');
  const d = await spawnUp(dir);
  track(d);
  await d.api.waitAllHealthy(['web'], 60_000);
  for (let i = 1; i <= deploys; i++) {
    writeBuild(dir, `build-prep-${i}`);
    await deployOk(d, `prep ${i}`);
  }
  await d.api.down(true, 60_000);
  await d.exited;
  track(undefined);
}

/**
 * The kill points of each scenario. A deploy has 12 (1 copying the code: release `building`;
 * 2 built; 3 journal step started; 4-7 starting / ready of each new instance; 8-9 draining and
 * stopping the old ones, or the blue-green switch and standby; 10 rolled out, not recorded;
 * 11 recorded, change not finished; 12 done): all but 2 and 12, which add nothing to their
 * neighbours. A rollback has 10 (no build): all of them.
 */
export const KILL_POINTS: Record<Scenario, number[]> = {
  'rolling deploy': [1, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  'blue-green deploy': [1, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  rollback: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  // 1 journal step started; 2 traffic switched back (then the current set stops); 3 switched, not
  // yet recorded; 4 recorded, change not finished.
  'standby rollback': [1, 2, 3, 4],
};

/**
 * Every kill point of one scenario in its own stack directory, one after the other; each case's
 * failure is collected (and its leftovers swept) so the others still run, then all are reported.
 */
export async function killMatrix(runtime: MatrixRuntime, scenario: Scenario): Promise<CaseResult[]> {
  const dir = makeTempDir(`kill-matrix-${runtime}`);
  const stack = `km${runtime[0]}${Math.random().toString(36).slice(2, 8)}`;
  let daemon: SpawnedDaemon | undefined;
  const track = (d: SpawnedDaemon | undefined) => {
    daemon = d;
  };
  const results: CaseResult[] = [];
  const failures: string[] = [];
  try {
    writeMatrixStack(dir, stack, runtime, scenario);
    await prepareStack(dir, scenario === 'rollback' ? 2 : scenario === 'standby rollback' ? 1 : 0, track);
    for (const k of KILL_POINTS[scenario]) {
      try {
        results.push(await killCase(dir, stack, runtime, scenario, k, track));
      } catch (e) {
        failures.push(`point ${k}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    const d = daemon as SpawnedDaemon | undefined;
    if (d && isAlive(d.pid)) d.child.kill('SIGKILL');
    const left = await sweepLeftovers(footprintOf(dir));
    removeTempDir(dir);
    if (!isEmpty(left)) failures.push(`left after the matrix:\n  ${describeLeftovers(left)}`);
  }
  if (failures.length)
    throw new Error(`${runtime} ${scenario}: ${failures.length} failed:\n- ${failures.join('\n- ')}`);
  return results;
}

/** One line per case, for the test's output. */
export function describeResults(runtime: MatrixRuntime, scenario: Scenario, results: CaseResult[]): string {
  return results
    .map(
      (r) =>
        `${runtime} ${scenario}: ${r.killedAt || '?'} → runs v${r.release} (v${r.from} → v${r.to})${r.standby ? ` + standby of ${r.standby}` : ''}`,
    )
    .join('\n');
}
