/**
 * Acceptance of rollouts and rollbacks against real processes and sockets: a daemon in-process
 * with the built-in proxy (test/helpers/lab-daemon.ts), a service whose releases differ in a build
 * marker it sends with every answer, light load through the proxy listener the whole time, and
 * deploys/rollbacks through the real CLI (`run(argv)`), which finds the daemon by its daemon.json.
 *
 * - every strategy rolls a good release out with 0 failed requests;
 * - every rollback trigger (build fails, exits at start, fails health, crash-loops, answers 500s
 *   in its canary step) rolls back: the deploy exits non-zero, the release is marked, the service
 *   runs the previous release with all its replicas, and the bad release got no traffic (or, as a
 *   canary, no more than its weight);
 * - `rollback --to vN` restores code and config; pruning keeps `keep_releases`.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReleaseRecord } from '../../src/store/store.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import {
  describeSamples,
  failed,
  freePort,
  startLabDaemon,
  startTraffic,
  writeLabStack,
  writeServer,
  type LabDaemon,
  type LabStackOptions,
  type Mode,
  type Sample,
} from '../helpers/lab-daemon.js';
import { serviceOutputsOf } from '../../src/kinds/service/service-spec.js';
import { processesUnder, tryCmdline } from '../helpers/processes.js';
import { instancesOf, readState } from '../helpers/state.js';
import { binomialLower, binomialUpper, PoolRecorder } from './pool-recorder.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { pidOf } from '../helpers/instance-pid.js';

interface Lab {
  dir: string;
  port: number;
  d: LabDaemon;
  options: LabStackOptions;
}
interface Outcome {
  ok: boolean;
  release: number | null;
  attempted: number | null;
  rolledBack: boolean;
  reason?: string;
}
interface Releases {
  service: string;
  current: number | null;
  releases: ReleaseRecord[];
}

const open: Lab[] = [];

afterEach(async () => {
  // Whatever down left running is killed here; the down test below asserts that down stops everything.
  for (const l of open.splice(0)) {
    await l.d.close();
    removeTempDir(l.dir);
  }
});

/** A lab running release v1 (build b1, good), healthy and answering through the proxy. */
async function openLab(o: Omit<LabStackOptions, 'listenerPort'> = {}): Promise<Lab> {
  const dir = makeTempDir('deploy');
  const port = await freePort();
  const options: LabStackOptions = { ...o, listenerPort: port };
  writeServer(dir, 'b1');
  writeLabStack(dir, options);
  const d = await startLabDaemon(dir, port);
  const lab: Lab = { dir, port, d, options };
  open.push(lab);
  await d.api.waitAllHealthy(['web']);
  let seen = '';
  await waitFor(
    async () => {
      const t = startTraffic(d.webUrl, 1, 0);
      await new Promise((r) => setTimeout(r, 30));
      const s = await t.stop();
      seen = describeSamples(s);
      return s.length > 0 && s.every((x) => x.status === 200 && x.build === 'b1');
    },
    { what: 'the proxy to answer from b1' },
  ).catch(async (e: Error) => {
    throw new Error(
      `${e.message}; last answers: ${seen}; status: ${JSON.stringify((await d.daemon.status()).services)}`,
    );
  });
  return lab;
}

/** openLab, then a good deploy of b2: v2 runs, with its own copy of the code to roll back to. */
async function openLabAtV2(o: Omit<LabStackOptions, 'listenerPort'> = {}): Promise<Lab> {
  const lab = await openLab(o);
  writeServer(lab.dir, 'b2');
  const out = await cli(lab, ['deploy', 'web', '-m', 'good b2']);
  expect(out.outcome, out.run.stdout + out.run.stderr).toMatchObject({ ok: true, release: 2 });
  await expectRunning(lab, 2, 'b2');
  return lab;
}

async function cli(
  lab: Lab,
  args: string[],
): Promise<{ run: CliResult; outcome: Outcome | undefined; progress: string[] }> {
  const run = await runCli([...args, '--json'], { cwd: lab.dir });
  let outcome: Outcome | undefined;
  const progress: string[] = [];
  for (const line of run.stdout.split('\n').filter(Boolean)) {
    try {
      const j = JSON.parse(line) as { type?: string; result?: Outcome; message?: string };
      if (j.type === 'result') outcome = j.result;
      if (j.type === 'progress' && j.message) progress.push(j.message);
    } catch {
      /* not JSON */
    }
  }
  return { run, outcome, progress };
}

function releases(lab: Lab): Promise<Releases> {
  return lab.d.api.json<Releases>('GET', '/v1/services/web/releases');
}

/**
 * Deploys `build` (written as server.mjs in `mode`) under light load; returns what the load saw
 * and every change of web's pools with the proxy's per-backend counts.
 */
async function deployUnderLoad(
  lab: Lab,
  build: string,
  mode: Mode,
  crashAfterMs?: number,
): Promise<{ samples: Sample[]; out: Awaited<ReturnType<typeof cli>>; pools: PoolRecorder; before: string[] }> {
  writeServer(lab.dir, build, mode, crashAfterMs);
  return cliUnderLoad(lab, ['deploy', 'web', '-m', `${build} ${mode}`]);
}

/** Runs the CLI with `args` under light load (from 200 ms before to 300 ms after), recording web's pools. */
async function cliUnderLoad(
  lab: Lab,
  args: string[],
): Promise<{ samples: Sample[]; out: Awaited<ReturnType<typeof cli>>; pools: PoolRecorder; before: string[] }> {
  const before = instancesOf(lab.dir, 'web').map((i) => i.id);
  const pools = new PoolRecorder(lab.d.proxy, 'web:');
  const traffic = startTraffic(lab.d.webUrl);
  await new Promise((r) => setTimeout(r, 200));
  const out = await cli(lab, args);
  await new Promise((r) => setTimeout(r, 300));
  const samples = await traffic.stop();
  pools.finish();
  return { samples, out, pools, before };
}

/**
 * The canary step as the proxy saw it: the first pool that puts a backend of the new release
 * beside the stable instances (`stableIds`). Asserts it is one canary at exactly the step's
 * weight share (`share`), and returns how many of the step's requests it got.
 */
function canaryStep(pools: PoolRecorder, stableIds: string[], share: number): { got: number; of: number } {
  const isStable = (backend: string) => stableIds.some((id) => backend.includes(`#${id}:`));
  const step = pools.intervals().find((iv) => Object.keys(iv.weights).some((b) => !isStable(b)));
  expect(step, `no pool with a canary:\n${pools.describe()}`).toBeDefined();
  const weights = Object.entries(step?.weights ?? {});
  const canaries = weights.filter(([b]) => !isStable(b));
  expect(canaries, pools.describe()).toHaveLength(1);
  const sum = weights.reduce((a, [, w]) => a + w, 0);
  const [id, weight] = canaries[0] ?? ['', 0];
  expect(weight / sum, `the canary's weight share\n${pools.describe()}`).toBeCloseTo(share, 5);
  const got = step?.requests[id] ?? 0;
  const of = step?.total ?? 0;
  expect(got, `the canary's requests in its step\n${pools.describe()}`).toBeLessThanOrEqual(binomialUpper(of, share));
  return { got, of };
}

/**
 * Blue-green's promise: one pool change moves traffic from the old set to the new one, nothing
 * routes to the old set after it, and every request sent after it is answered by `build`.
 * Requests sent before the switch may still be answered by the old set (they were in flight).
 */
function expectOneSwitch(pools: PoolRecorder, samples: readonly Sample[], build: string): void {
  const changes = pools.changes;
  const green = new Set(changes.at(-1)?.backends.map((b) => b.id) ?? []);
  const first = changes.findIndex((c) => c.backends.some((b) => green.has(b.id)));
  expect(first, pools.describe()).toBeGreaterThanOrEqual(0);
  const after = changes.slice(first).map((c) => c.backends.map((b) => b.id).filter((id) => !green.has(id)));
  expect(after, `old backends routed after the switch:\n${pools.describe()}`).toEqual(after.map(() => []));
  expect(changes[first]?.backends.map((b) => b.id).sort()).toEqual([...green].sort());
  const switchedAt = changes[first]?.at as number;
  const late = samples.filter((x) => x.sent > switchedAt && (x.build !== build || x.status !== 200));
  expect(describeSamples(late), 'requests sent after the switch answered by something else').toBe('');
  expect(samples.filter((x) => x.sent > switchedAt).length).toBeGreaterThan(10);
}

/** The answers of the last 300 ms of `samples` all came from `build`. */
function endsOn(samples: readonly Sample[], build: string): boolean {
  const last = samples[samples.length - 1];
  if (!last) return false;
  const tail = samples.filter((s) => s.sent >= last.sent - 300);
  return tail.length > 0 && tail.every((s) => s.build === build && s.status === 200);
}

/** The service runs `release` again: current release, every replica healthy, answers from `build`. */
async function expectRunning(lab: Lab, release: number, build: string): Promise<void> {
  expect((await releases(lab)).current).toBe(release);
  const replicas = lab.options.replicas ?? 2;
  let seen = '';
  const web = await waitFor(
    async () => {
      const w = await lab.d.api.service('web');
      seen = JSON.stringify({
        release: w.release,
        instances: w.instances.map((i) => ({ index: i.index, state: i.state, reason: i.reason, pid: i.pid })),
      });
      return w.instances.length === replicas && w.instances.every((i) => i.state === 'healthy' && i.pid !== null)
        ? w
        : undefined;
    },
    { what: 'every replica of web healthy', timeoutMs: 10_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}; status: ${seen}`);
  });
  expect(web.release).toBe(release);
  const t = startTraffic(lab.d.webUrl, 2, 5);
  await new Promise((r) => setTimeout(r, 300));
  const after = await t.stop();
  const wrong = after.filter((x) => x.build !== build || x.status !== 200);
  expect(describeSamples(wrong), `every answer should come from ${build} (v${release}); the others were`).toBe('');
  expect(after.length).toBeGreaterThan(0);
}

/** The deploy of `attempted` exited non-zero, rolled back, and `previous` (build `build`) runs with every replica. */
async function expectRolledBack(
  lab: Lab,
  out: Awaited<ReturnType<typeof cli>>,
  attempted: number,
  previous = 1,
  build = 'b1',
): Promise<void> {
  expect(out.run.code, `deploy should exit non-zero\n${out.run.stdout}${out.run.stderr}`).not.toBe(0);
  expect(out.outcome?.ok).toBe(false);
  expect(out.outcome?.attempted).toBe(attempted);
  expect(out.outcome?.rolledBack, `rolled back (${out.outcome?.reason})`).toBe(true);
  expect(out.outcome?.release).toBe(previous);
  const r = (await releases(lab)).releases.find((x) => x.seq === attempted);
  expect(r?.status).toBe('rolled-back');
  await expectRunning(lab, previous, build);
}

describe('a good release rolls out under load with 0 failed requests', () => {
  for (const strategy of ['rolling', 'blue-green', 'canary'] as const) {
    it(strategy, async () => {
      const lab = await openLab({ strategy });
      const { samples, out, pools, before } = await deployUnderLoad(lab, 'b2', 'good');
      expect(out.outcome, `${out.outcome?.reason}\n${out.progress.join('\n')}\n${out.run.stderr}`).toMatchObject({
        ok: true,
        release: 2,
        rolledBack: false,
      });
      expect(out.run.code).toBe(0);
      expect(failed(samples), describeSamples(samples)).toEqual([]);
      expect(samples.length).toBeGreaterThan(50);
      if (strategy === 'blue-green') expectOneSwitch(pools, samples, 'b2');
      else expect(endsOn(samples, 'b2'), describeSamples(samples)).toBe(true);
      // No backend ever got more than its weight's share (from the proxy's own counts).
      expect(pools.overShare(), pools.describe()).toEqual([]);
      if (strategy === 'canary') {
        // The canary step: one canary at 20% beside the stable set, with its share of the step's
        // requests within the binomial bounds of 20% for that many requests.
        const { got, of } = canaryStep(pools, before, 0.2);
        expect(of, pools.describe()).toBeGreaterThan(50);
        expect(got, pools.describe()).toBeGreaterThanOrEqual(binomialLower(of, 0.2));
      }
      const r = await releases(lab);
      expect(r.current).toBe(2);
      expect(r.releases.find((x) => x.seq === 2)?.status).toBe('active');
      expect(r.releases.find((x) => x.seq === 1)?.status).toBe('superseded');
    });
  }
});

describe('every rollback trigger rolls back, and the bad release gets no more than its canary share', () => {
  it('a build that fails never touches the running release', async () => {
    const lab = await openLab();
    const before = (await lab.d.api.service('web')).instances.map((i) => i.pid);
    writeLabStack(lab.dir, { ...lab.options, web: { build: { command: 'echo building; exit 1' } } });
    const { samples, out } = await deployUnderLoad(lab, 'b2', 'good');
    expect(out.run.code).not.toBe(0);
    expect(out.outcome).toMatchObject({ ok: false, attempted: 2, release: 1, rolledBack: false });
    expect(out.outcome?.reason).toMatch(/build failed: exit code 1/);
    expect(failed(samples), describeSamples(samples)).toEqual([]);
    expect(samples.filter((s) => s.build === 'b2')).toEqual([]);
    expect((await releases(lab)).releases.find((x) => x.seq === 2)?.status).toBe('build-failed');
    expect(
      (await lab.d.api.service('web')).instances.map((i) => i.pid),
      'the same processes still run',
    ).toEqual(before);
    await expectRunning(lab, 1, 'b1');
  });

  it('a release that exits at start gets no traffic and is rolled back', async () => {
    const lab = await openLab();
    const { samples, out } = await deployUnderLoad(lab, 'b2', 'exit-at-start');
    expect(out.outcome?.reason).toMatch(/exited with code 3/);
    await expectRolledBack(lab, out, 2);
    expect(failed(samples), describeSamples(samples)).toEqual([]);
    expect(samples.filter((s) => s.build === 'b2')).toEqual([]);
  });

  for (const strategy of ['rolling', 'blue-green', 'canary'] as const) {
    it(`a release that fails health gets no traffic and is rolled back (${strategy})`, async () => {
      const lab = await openLab({ strategy });
      const { samples, out } = await deployUnderLoad(lab, 'b2', 'health-503');
      expect(out.outcome?.reason).toMatch(/health checks|not healthy|HTTP 503/);
      await expectRolledBack(lab, out, 2);
      expect(failed(samples), describeSamples(samples)).toEqual([]);
      expect(samples.filter((s) => s.build === 'b2')).toEqual([]);
    });
  }

  it('a release that fails health with max_surge 0 (as with fixed ports) is rolled back with every replica restored', async () => {
    // max_surge 0: each old instance stops before its replacement starts. v2 (a deploy, with its
    // own copy of the code) is the release to come back to.
    const lab = await openLabAtV2({ strategy: 'rolling', deploy: { max_surge: 0 } });
    const { samples, out } = await deployUnderLoad(lab, 'b3', 'health-503');
    expect.soft(failed(samples), describeSamples(samples)).toEqual([]);
    expect.soft(samples.filter((s) => s.build === 'b3')).toEqual([]);
    await expectRolledBack(lab, out, 3, 2, 'b2');
  });

  it('a release that crash-loops during a rolling update is rolled back, with every replica restored', async () => {
    const lab = await openLabAtV2({ strategy: 'rolling' });
    // Passes its first health check, exits 100 ms later: the rollout is still going (its next slot alone takes longer).
    const { samples, out, pools } = await deployUnderLoad(lab, 'b3', 'crash-after-ready', 100);
    expect(out.outcome?.reason).toMatch(/exited/);
    // The first new instance had at most its slot's share while it ran (the proxy's counts).
    expect.soft(pools.overShare(), `${pools.describe()}\n${describeSamples(samples)}`).toEqual([]);
    await expectRolledBack(lab, out, 3, 2, 'b2');
  });

  it('a canary that crash-loops is aborted with no more than its weight of traffic', async () => {
    const lab = await openLab({ strategy: 'canary' });
    const { samples, out, pools, before } = await deployUnderLoad(lab, 'b2', 'crash-after-ready', 300);
    expect(out.outcome?.reason).toMatch(/exited/);
    await expectRolledBack(lab, out, 2);
    canaryStep(pools, before, 0.2);
    expect(pools.overShare(), `${pools.describe()}\n${describeSamples(samples)}`).toEqual([]);
  });

  it('a canary that answers 500s is aborted with no more than its weight of traffic', async () => {
    const lab = await openLab({ strategy: 'canary' });
    const { samples, out, pools, before } = await deployUnderLoad(lab, 'b2', 'answer-500');
    expect(out.outcome?.reason).toMatch(/error rate/);
    await expectRolledBack(lab, out, 2);
    const bad = samples.filter((s) => s.build === 'b2');
    expect(bad.length, 'the canary got some traffic').toBeGreaterThan(0);
    expect(canaryStep(pools, before, 0.2).got).toBe(bad.length);
    expect(pools.overShare(), `${pools.describe()}\n${describeSamples(samples)}`).toEqual([]);
    // The only failed requests are the canary's own 500s.
    expect(
      failed(samples).filter((s) => s.build !== 'b2'),
      describeSamples(samples),
    ).toEqual([]);
  });
});

describe('releases', () => {
  it('rollback --to vN restores the code and the config of vN', async () => {
    const lab = await openLab();
    writeLabStack(lab.dir, { ...lab.options, greeting: 'one' });
    expect((await deployUnderLoad(lab, 'b2', 'good')).out.outcome?.ok).toBe(true);
    writeLabStack(lab.dir, { ...lab.options, greeting: 'two' });
    const third = await deployUnderLoad(lab, 'b3', 'good');
    expect(third.out.outcome?.ok).toBe(true);
    expect(third.samples[third.samples.length - 1]?.body).toBe('b3 two\n');

    const traffic = startTraffic(lab.d.webUrl);
    const back = await cli(lab, ['rollback', 'web', '--to', 'v2']);
    await new Promise((r) => setTimeout(r, 300));
    const samples = await traffic.stop();
    expect(back.run.code, back.run.stdout + back.run.stderr).toBe(0);
    expect(back.outcome).toMatchObject({ ok: true, release: 2 });
    expect(failed(samples), describeSamples(samples)).toEqual([]);
    // The working tree still has b3 and the stack file still says "two": v2's copies are what run.
    expect(samples[samples.length - 1]?.body).toBe('b2 one\n');
    expect(endsOn(samples, 'b2')).toBe(true);
    const r = await releases(lab);
    expect(r.current).toBe(2);
    expect(r.releases.find((x) => x.seq === 3)?.status).toBe('rolled-back');
    expect(r.releases.find((x) => x.seq === 2)?.status).toBe('active');
  });

  it("rollback --to v1 (the release `groundwork up` recorded, running from the stack directory) runs v1's code, not today's", async () => {
    const lab = await openLabAtV2();
    // The working tree now holds b2, the code of v2; v1 ran b1, of which apply kept a copy.
    const back = await cli(lab, ['rollback', 'web', '--to', 'v1']);
    expect(back.outcome, back.run.stdout + back.run.stderr).toMatchObject({ ok: true, release: 1 });
    await expectRunning(lab, 1, 'b1');
  });

  it('blue-green rollback to the warm standby is one switch back to the same processes', async () => {
    const lab = await openLabAtV2({ strategy: 'blue-green' });
    writeServer(lab.dir, 'b3');
    const third = await cli(lab, ['deploy', 'web', '-m', 'good b3']);
    expect(third.outcome, third.run.stdout + third.run.stderr).toMatchObject({ ok: true, release: 3 });
    const row = readState(lab.dir).resources.find((r) => r.address === 'service.web');
    const standby = row ? (serviceOutputsOf(row).standby?.instances ?? []) : [];
    expect(standby.map((i) => i.release)).toEqual([2, 2]);

    const { samples, out, pools } = await cliUnderLoad(lab, ['rollback', 'web']);
    expect(out.outcome, out.run.stdout + out.run.stderr).toMatchObject({ ok: true, release: 2 });
    expect(out.progress).toContain('switched traffic back to v2 (warm standby, 2 instances)');
    expect(failed(samples), describeSamples(samples)).toEqual([]);
    expectOneSwitch(pools, samples, 'b2');
    // The standby processes themselves took the traffic back: nothing was started.
    expect(instancesOf(lab.dir, 'web').map((i) => pidOf(i))).toEqual(standby.map((i) => pidOf(i)));
    await expectRunning(lab, 2, 'b2');
  });

  it('groundwork down stops the blue-green standby set too', async () => {
    const lab = await openLabAtV2({ strategy: 'blue-green' });
    expect((await lab.d.api.service('web')).standby?.instances, 'v1 stays warm').toBe(2);
    const down = await runCli(['down'], { cwd: lab.dir });
    expect(down.code, down.stdout + down.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const left = processesUnder(lab.dir);
    expect(
      left.map((pid) => tryCmdline(pid)?.join(' ')),
      'processes still running after down',
    ).toEqual([]);
  });

  it('pruning keeps the last keep_releases deploy releases', async () => {
    const lab = await openLab({ deploy: { keep_releases: 2 } });
    for (let i = 2; i <= 5; i++) {
      writeServer(lab.dir, `b${i}`);
      const out = await cli(lab, ['deploy', 'web']);
      expect(out.outcome, out.run.stdout + out.run.stderr).toMatchObject({ ok: true, release: i });
    }
    const r = await releases(lab);
    const bySeq = new Map(r.releases.map((x) => [x.seq, x]));
    for (const seq of [2, 3]) {
      expect(bySeq.get(seq)?.status, `v${seq}`).toBe('pruned');
      expect(existsSync(bySeq.get(seq)?.dir ?? '/nonexistent'), `v${seq}'s directory is gone`).toBe(false);
    }
    for (const seq of [4, 5]) {
      expect(bySeq.get(seq)?.status, `v${seq}`).not.toBe('pruned');
      expect(existsSync(bySeq.get(seq)?.dir ?? '/nonexistent'), `v${seq}'s directory is kept`).toBe(true);
    }
    // A pruned release cannot come back; the error says why.
    const back = await cli(lab, ['rollback', 'web', '--to', 'v2']);
    expect(back.run.code).not.toBe(0);
    expect(back.run.stderr + back.run.stdout).toMatch(/pruned/);
    // The previous kept release is still there to roll back to.
    expect((await cli(lab, ['rollback', 'web'])).outcome).toMatchObject({ ok: true, release: 4 });
    await expectRunning(lab, 4, 'b4');
  });

  it('the copies of failed builds are pruned too (only keep_releases release directories stay)', async () => {
    const lab = await openLab({ deploy: { keep_releases: 1 } });
    writeLabStack(lab.dir, { ...lab.options, web: { build: { command: 'exit 1' } } });
    for (let i = 0; i < 2; i++)
      expect((await cli(lab, ['deploy', 'web'])).outcome).toMatchObject({ ok: false, rolledBack: false });
    writeLabStack(lab.dir, lab.options);
    for (let i = 0; i < 2; i++) expect((await cli(lab, ['deploy', 'web'])).outcome).toMatchObject({ ok: true });
    const dirs = readdirSync(path.join(lab.dir, '.groundwork', 'releases', 'web'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    // v2 and v3 failed to build, v4 was pruned, v5 runs.
    expect(dirs).toEqual(['v5']);
  });
});
