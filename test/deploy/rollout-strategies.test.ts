/**
 * Each rollout strategy of src/deploy/rollout.ts, called directly on a ManualClock: no daemon, no
 * processes. The traffic side is the proxy's own pool table, balancer and counters
 * (rollout-world.ts), so the canary analysis reads real counters filled by real picks. Every
 * assertion is about decisions, their order and the clock time they happened at (in ms); the
 * end-to-end behaviour with real processes is in rollouts.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { standbyExpired, standbyUntil } from '../../src/deploy/rollout.js';
import { RolloutWorld, webSpec, type Behaviour, type ServiceConfig } from './rollout-world.js';

type Deploy = NonNullable<ServiceConfig['deploy']>;

/** A world running v1 (`replicas` instances) under load, and the specs of v1 and v2. */
function world(deploy: Deploy, v2: Behaviour = {}, replicas = 2) {
  const w = new RolloutWorld({ 1: {}, 2: v2 });
  const spec = webSpec({ replicas, deploy });
  const current = w.seed(1, replicas);
  w.startLoad();
  return { w, spec, current, run: () => w.rollout(spec, current, spec) };
}

const timeline = (w: RolloutWorld) => w.events.map((e) => `${e.t} ${e.what}`);
const routed = (w: RolloutWorld) => w.routes.map((r) => `${r.t} ${JSON.stringify(r.weights)}`);

describe('rolling', () => {
  it('max_surge 1: a new instance is ready and routed before its old one leaves; the old ones stop after the monitor window', async () => {
    const { w, run } = world({ strategy: 'rolling', max_surge: 1, monitor: '2s' }, {}, 3);
    const r = await run();
    expect(r).toMatchObject({ ok: true, rolledBack: false });
    expect(w.names(r.instances)).toEqual(['v2#0', 'v2#1', 'v2#2']);
    expect(timeline(w)).toEqual([
      '0 claim web',
      '0 start v2#0',
      '200 ready v2#0',
      '200 drain v1#0',
      '200 start v2#1',
      '400 ready v2#1',
      '400 drain v1#1',
      '400 start v2#2',
      '600 ready v2#2',
      '600 drain v1#2',
      // The monitor window (2 s) after the last slot: the replaced instances stay parked (out of
      // the pool, running) so a rollback is a switch back; they stop only once it passed.
      '2600 drain v1#0',
      '2600 stop v1#0',
      '2600 drain v1#1',
      '2600 stop v1#1',
      '2600 drain v1#2',
      '2600 stop v1#2',
      '2600 release web',
    ]);
    expect(routed(w)).toEqual([
      '0 {"v1#0":100,"v1#1":100,"v1#2":100}',
      '200 {"v2#0":100,"v1#0":100,"v1#1":100,"v1#2":100}',
      '200 {"v2#0":100,"v1#1":100,"v1#2":100}',
      '400 {"v2#0":100,"v2#1":100,"v1#1":100,"v1#2":100}',
      '400 {"v2#0":100,"v2#1":100,"v1#2":100}',
      '600 {"v2#0":100,"v2#1":100,"v2#2":100,"v1#2":100}',
      '600 {"v2#0":100,"v2#1":100,"v2#2":100}',
    ]);
    // max_unavailable 0, max_surge 1: never fewer than 3 nor more than 4 serving.
    for (const x of w.routes) expect(Object.keys(x.weights).length).toBeGreaterThanOrEqual(3);
    for (const x of w.routes) expect(Object.keys(x.weights).length).toBeLessThanOrEqual(4);
    expect(w.requests.filter((q) => q.status !== 200)).toEqual([]);
    expect(w.requests.filter((q) => q.t > 600 && q.to.startsWith('v1'))).toEqual([]);
  });

  it('max_surge 0: each old instance stops before its replacement starts in the same slot and ports', async () => {
    const { w, current, run } = world({ strategy: 'rolling', max_surge: 0, monitor: '1s' });
    const r = await run();
    expect(r).toMatchObject({ ok: true, rolledBack: false });
    expect(timeline(w)).toEqual([
      '0 claim web',
      '0 drain v1#0',
      '0 stop v1#0',
      '0 start v2#0',
      '200 ready v2#0',
      '200 drain v1#1',
      '200 stop v1#1',
      '200 start v2#1',
      '400 ready v2#1',
      '1400 release web',
    ]);
    expect(routed(w)).toEqual([
      '0 {"v1#0":100,"v1#1":100}',
      '0 {"v1#1":100}',
      '200 {"v2#0":100,"v1#1":100}',
      '200 {"v2#0":100}',
      '400 {"v2#0":100,"v2#1":100}',
    ]);
    expect(r.instances.map((i) => i.ports)).toEqual(current.map((i) => i.ports));
  });

  it('a new instance that exits within the monitor window rolls back: the parked old set is routed again at once', async () => {
    // v2#0 is ready at 200 and exits 1500 ms later (t=1700), inside the 2 s window that starts at 400.
    const { w, current, run } = world({ strategy: 'rolling', max_surge: 1, monitor: '2s' }, { exitAfterMs: 1500 });
    const r = await run();
    expect(r).toMatchObject({ ok: false, rolledBack: true });
    expect(r.reason).toMatch(/^instance 0 \(pid \d+\) exited within 2s of the rollout$/);
    // The same v1 processes come back (no cold start), v2 is stopped.
    expect(r.instances.map((i) => i.id)).toEqual(current.map((i) => i.id));
    expect(timeline(w)).toEqual([
      '0 claim web',
      '0 start v2#0',
      '200 ready v2#0',
      '200 drain v1#0',
      '200 start v2#1',
      '400 ready v2#1',
      '400 drain v1#1',
      '1700 exit v2#0',
      // The crash watcher (every 100 ms) sees it first and takes v2#0 out of the pool.
      '1800 stop v2#0',
      '1800 drain v2#1',
      '1800 stop v2#1',
      '1800 release web',
    ]);
    expect(routed(w).slice(-3)).toEqual([
      '1700 {"v2#1":100}',
      '1800 {"v1#0":100,"v1#1":100}',
      '1800 {"v1#0":100,"v1#1":100}',
    ]);
    expect(w.progress.map((p) => p.what)).toContain('rolling back to the previous release (v1)');
    // The pool stays on v1 after the rollout returned (the crash watcher used to route an empty
    // set here, as the rollback retired v2#1: every request then went unanswered).
    await w.clock.advance(1000);
    expect(w.countsBetween(1801, 2801)).toEqual({ 'v1#0': 500, 'v1#1': 500 });
  });

  it('a release that fails health never gets traffic and rolls back with the old set untouched', async () => {
    const { w, current, run } = world({ strategy: 'rolling' }, { failStart: 'failed 2 health checks in a row' });
    const r = await run();
    expect(r).toMatchObject({ ok: false, rolledBack: true, reason: 'instance 0 failed 2 health checks in a row' });
    expect(r.instances.map((i) => i.id)).toEqual(current.map((i) => i.id));
    expect(timeline(w)).toEqual(['0 claim web', '0 start v2#0', '200 not ready v2#0', '200 release web']);
    expect(w.routes.flatMap((x) => Object.keys(x.weights)).filter((n) => n.startsWith('v2'))).toEqual([]);
    expect(w.requests.filter((q) => q.status !== 200)).toEqual([]);
  });

  it('auto_rollback false: a failed release stays as it is, reported as not rolled back', async () => {
    const { w, run } = world(
      { strategy: 'rolling', max_surge: 1, monitor: '2s', auto_rollback: false },
      { exitAfterMs: 100 },
    );
    const r = await run();
    expect(r).toMatchObject({ ok: false, rolledBack: false });
    expect(timeline(w)).not.toContain('2600 stop v1#0');
    expect(w.progress.map((p) => p.what)).not.toContain('rolling back to the previous release (v1)');
  });
});

describe('blue-green', () => {
  it('starts the whole green set, then switches in one pool change; no request after it reaches blue, which stays warm', async () => {
    const { w, current, run } = world({ strategy: 'blue-green', blue_green: { keep_old_for: '5m' } });
    const r = await run();
    expect(r).toMatchObject({ ok: true, rolledBack: false });
    expect(w.names(r.instances)).toEqual(['v2#0', 'v2#1']);
    expect(r.standby.map((i) => i.id)).toEqual(current.map((i) => i.id));
    expect(timeline(w)).toEqual([
      '0 claim web',
      '0 start v2#0',
      '200 ready v2#0',
      '200 start v2#1',
      '400 ready v2#1',
      '400 release web',
    ]);
    expect(routed(w)).toEqual(['0 {"v1#0":100,"v1#1":100}', '400 {"v2#0":100,"v2#1":100}']);
    const [before, after] = w.perRoute();
    expect(Object.keys(before?.counts ?? {}).sort()).toEqual(['v1#0', 'v1#1']);
    expect(after?.total).toBeGreaterThan(0);
    expect(after?.counts).toEqual({ 'v2#0': (after?.total ?? 0) / 2, 'v2#1': (after?.total ?? 0) / 2 });
    // Blue was neither drained nor stopped: it is the instant rollback.
    expect(current.every((i) => w.isRunning(i))).toBe(true);
  });

  it('the standby set is kept until keep_old_for after the switch, not a millisecond less', async () => {
    const { w, run } = world({ strategy: 'blue-green', blue_green: { keep_old_for: '5m' } });
    await run();
    const switchedAt = w.clock.now();
    const standby = {
      until: standbyUntil(webSpec({ deploy: { blue_green: { keep_old_for: '5m' } } }), switchedAt).toISOString(),
    };
    w.stopLoad();
    await w.clock.advance(5 * 60_000 - 1);
    expect(standbyExpired(standby, w.clock.now())).toBe(false);
    await w.clock.advance(1);
    expect(standbyExpired(standby, w.clock.now())).toBe(true);
  });

  it('a green instance that fails health: green is stopped, blue keeps every request', async () => {
    const { w, current, run } = world({ strategy: 'blue-green' }, { failStart: 'did not become healthy within 60s' });
    const r = await run();
    expect(r).toMatchObject({ ok: false, rolledBack: true, standby: [] });
    expect(r.instances.map((i) => i.id)).toEqual(current.map((i) => i.id));
    expect(routed(w)).toEqual(['0 {"v1#0":100,"v1#1":100}']);
    expect(w.requests.every((q) => q.to.startsWith('v1') && q.status === 200)).toBe(true);
  });

  it('a green instance that dies before the switch: no switch, green stopped', async () => {
    // v2#0 is ready at 200 and exits at 300, before v2#1 is ready (400).
    const { w, run } = world({ strategy: 'blue-green' }, { exitAfterMs: 100 });
    const r = await run();
    expect(r).toMatchObject({ ok: false, rolledBack: true, reason: 'instance 0 exited before the switch' });
    expect(routed(w)).toEqual(['0 {"v1#0":100,"v1#1":100}']);
    expect(timeline(w).filter((e) => e.includes('stop'))).toEqual(['400 stop v2#0', '400 stop v2#1']);
  });
});

describe('canary', () => {
  const steps = [
    { weight: 20, pause: '1s' },
    { weight: 50, pause: '2s' },
  ];

  it('walks its steps with their weights and pauses, then promotes; each step gives the canary exactly its share', async () => {
    const { w, run } = world({ strategy: 'canary', monitor: '1s', canary: { steps, min_requests: 20 } });
    const r = await run();
    expect(r).toMatchObject({ ok: true, rolledBack: false });
    expect(w.names(r.instances)).toEqual(['v2#0', 'v2#1']);
    expect(routed(w)).toEqual([
      '0 {"v1#0":100,"v1#1":100}',
      '200 {"v1#0":400,"v1#1":400,"v2#0":200}',
      '1200 {"v1#0":250,"v1#1":250,"v2#0":500}',
      '3200 {"v2#0":100,"v1#1":100}',
      '3400 {"v2#1":100,"v1#1":100,"v2#0":100}',
      '3400 {"v2#1":100,"v2#0":100}',
      '4400 {"v2#0":100,"v2#1":100}',
    ]);
    expect(w.progress.map((p) => `${p.t} ${p.what}`).slice(0, 5)).toEqual([
      '200 canary at 20% of traffic for 1s',
      '1200 canary step 20% passed',
      '1200 canary at 50% of traffic for 2s',
      '3200 canary step 50% passed',
      '3200 canary passed; promoting',
    ]);
    // Smooth weighted round-robin is exact: the canary's count is its share of the requests sent
    // under each step, to the request.
    const [, step1, step2] = w.perRoute();
    expect(step1?.total).toBe(1000);
    expect(step1?.counts).toEqual({ 'v1#0': 400, 'v1#1': 400, 'v2#0': 200 });
    expect(step2?.total).toBe(2000);
    expect(step2?.counts).toEqual({ 'v1#0': 500, 'v1#1': 500, 'v2#0': 1000 });
  });

  it('error rate: the canary is aborted at the first check once it has min_requests, before its pause ends', async () => {
    const { w, current, run } = world({ strategy: 'canary', canary: { steps, min_requests: 20 } }, { status: 500 });
    const r = await run();
    expect(r).toMatchObject({
      ok: false,
      rolledBack: true,
      reason: 'error rate 100.0% over 50 requests exceeds 5.0%',
    });
    expect(r.instances.map((i) => i.id)).toEqual(current.map((i) => i.id));
    // Routed at 200, first check 250 ms later: 50 requests (20% of 250) is enough to judge.
    expect(routed(w)).toEqual([
      '0 {"v1#0":100,"v1#1":100}',
      '200 {"v1#0":400,"v1#1":400,"v2#0":200}',
      '450 {"v1#0":100,"v1#1":100}',
    ]);
    expect(timeline(w).slice(-3)).toEqual(['450 drain v2#0', '450 stop v2#0', '450 release web']);
    expect(w.requests.filter((q) => q.status === 500)).toHaveLength(50);
  });

  it('p95 latency: a canary slower than max_p95_ratio × the stable set is aborted when its step ends', async () => {
    const { w, run } = world({ strategy: 'canary', canary: { steps, min_requests: 20 } }, { latencyMs: 400 });
    const r = await run();
    expect(r).toMatchObject({ ok: false, rolledBack: true });
    // Histogram buckets 250-500 ms (canary) and 10-25 ms (stable), interpolated.
    expect(r.reason).toBe('p95 latency 488 ms vs 24 ms on the stable set (limit ×2)');
    expect(routed(w).slice(-1)).toEqual(['1200 {"v1#0":100,"v1#1":100}']);
    expect(w.progress.map((p) => `${p.t} ${p.what}`)).toContain(
      '1200 canary failed: p95 latency 488 ms vs 24 ms on the stable set (limit ×2); all traffic back on the stable set',
    );
  });

  it('p95 latency: a slower canary within the 100 ms cold-start floor passes', async () => {
    // 60 ms against 20 ms is ×3 (over the ×2 limit) but only 40 ms more: not a regression.
    const { w, run } = world({ strategy: 'canary', canary: { steps, min_requests: 20 } }, { latencyMs: 60 });
    const r = await run();
    expect(r).toMatchObject({ ok: true, rolledBack: false });
    expect(w.progress.map((p) => p.what)).toContain('canary step 50% passed');
  });

  it('a canary that exits is aborted at the next check (every 250 ms), with no more than its share meanwhile', async () => {
    // Ready at 200, exits at 500; checks at 450 and 700.
    const { w, run } = world({ strategy: 'canary', canary: { steps, min_requests: 20 } }, { exitAfterMs: 300 });
    const r = await run();
    expect(r).toMatchObject({ ok: false, rolledBack: true });
    expect(r.reason).toMatch(/^the canary \(pid \d+\) exited$/);
    expect(timeline(w).slice(-3)).toEqual(['500 exit v2#0', '700 stop v2#0', '700 release web']);
    const [, step] = w.perRoute();
    expect(step?.total).toBe(5000 / 10);
    expect(step?.counts['v2#0']).toBe(100);
  });
});
