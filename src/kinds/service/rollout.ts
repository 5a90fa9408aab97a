/**
 * Replaces a service's running instances with a new spec (and code directory) by a strategy:
 * rolling (surge/unavailable), blue-green (full new set, one switch, old set kept warm) or canary
 * (weight steps with analysis against the stable set). New instances get traffic only once ready;
 * old ones leave the pool, drain, then stop. Any failure — not ready within the progress
 * deadline, crashed during the rollout, failed canary analysis — rolls back when auto_rollback
 * is on, so traffic ends on the previous release.
 */
import { instanceLabel, type InstanceOutput, type ServiceSpec } from './service-spec.js';
import { quantile } from '../../proxy/data-plane.js';
import { Duration } from '../../util/duration.js';
import { sumTraffic, trafficDelta, type InstanceTraffic, type TrafficDirector } from './traffic-director.js';

export interface RolloutSide {
  spec: ServiceSpec;
  codeDir: string;
  release: number | null;
  /** The side's code is not a snapshot (the live stack directory): keep its instances until the end. */
  keepOld?: boolean;
}

export interface RolloutDeps {
  service: string;
  traffic: TrafficDirector | undefined;
  /** Starts instance `index` of `side` on `ports` and waits until it is ready; throws otherwise. */
  start(side: RolloutSide, index: number, ports: Record<string, number>): Promise<InstanceOutput>;
  stop(instance: InstanceOutput, spec: ServiceSpec): Promise<void>;
  isRunning(instance: InstanceOutput): Promise<boolean>;
  /** Ports for a new instance: fresh ones for `auto`, the fixed ones otherwise. */
  newPorts(spec: ServiceSpec): Promise<Record<string, number>>;
  releasePorts(instance: InstanceOutput): void;
  /** Waits: the crash watcher, the monitor window and canary pauses. */
  sleep(ms: number): Promise<void>;
  /**
   * Monotonic milliseconds on the clock `sleep` waits on, for the deadlines of those waits.
   * Default: performance.now(), which is right with a real sleep; a test passes both from one
   * ManualClock.
   */
  ms?(): number;
  progress(message: string): void;
}

export interface RolloutResult {
  ok: boolean;
  rolledBack: boolean;
  /** What runs (and gets traffic) now. */
  instances: InstanceOutput[];
  /** Blue-green: the previous set, still running for instant rollback. */
  standby: InstanceOutput[];
  reason?: string;
}

const LATENCY_FLOOR_MS = 100;

const elapsed = (deps: RolloutDeps): number => (deps.ms ? deps.ms() : performance.now());

const hasFixedPorts = (s: ServiceSpec) => Object.values(s.ports).some((p) => typeof p === 'number');

export async function rollout(
  deps: RolloutDeps,
  from: RolloutSide,
  current: InstanceOutput[],
  to: RolloutSide,
): Promise<RolloutResult> {
  deps.traffic?.claim(deps.service);
  try {
    let strategy = to.spec.deploy.strategy;
    if (strategy !== 'rolling' && hasFixedPorts(to.spec)) {
      deps.progress(`${strategy} needs a second set of ports; fixed ports allow only rolling (stop, then start)`);
      strategy = 'rolling';
    }
    if (strategy === 'canary' && !deps.traffic) {
      deps.progress("canary needs the daemon's proxy to split traffic; doing a rolling update instead");
      strategy = 'rolling';
    }
    const live = current.filter((i) => !i.gone);
    switch (strategy) {
      case 'blue-green':
        return await blueGreen(deps, from, live, to);
      case 'canary':
        return await canary(deps, from, live, to);
      default:
        return await rolling(deps, from, live, to, true);
    }
  } finally {
    deps.traffic?.release(deps.service);
  }
}

function route(deps: RolloutDeps, instances: InstanceOutput[]): void {
  deps.traffic?.route(
    deps.service,
    instances.map((instance) => ({ instance, weight: 100 })),
  );
}

async function retire(deps: RolloutDeps, inst: InstanceOutput, spec: ServiceSpec, why: string): Promise<void> {
  deps.progress(`draining and stopping instance ${inst.index} (${instanceLabel(inst)}): ${why}`);
  if (deps.traffic) await deps.traffic.drain(deps.service, inst, Duration.parse(spec.deploy.drain_timeout));
  await deps.stop(inst, spec);
  deps.releasePorts(inst);
}

async function rolling(
  deps: RolloutDeps,
  from: RolloutSide,
  current: InstanceOutput[],
  to: RolloutSide,
  mayRollBack: boolean,
  firstSlot = 0,
): Promise<RolloutResult> {
  const fixed = hasFixedPorts(to.spec);
  const surge = fixed ? 0 : to.spec.deploy.max_surge;
  // Replaced instances leave the pool and drain, but keep running until the rollout (and its
  // monitor window) has succeeded: a rollback is then a switch back, with no cold start and no
  // need for the old code (which, for a release run from the live stack directory, may be gone).
  const keepRetired = surge > 0;
  const slots = current.map((i) => i.index);
  let old = [...current].sort((a, b) => a.index - b.index);
  const parked: InstanceOutput[] = [];
  const fresh: InstanceOutput[] = [];
  // New instances that died mid-rollout leave the pool at once (a watcher checks every 100 ms),
  // not only at the next slot boundary.
  const died = new Set<InstanceOutput>();
  const serving = () => [...fresh.filter((f) => !died.has(f)), ...old];
  const st: FailState = { fresh, old, parked, slots };
  // The watcher stops routing the moment the rollout has decided (failed or passed): after that,
  // fail() and the final retirements own the pool, and a late "serving()" from here would undo
  // them (after a rollback it routed an empty set: the parked old set had been moved out of `old`).
  let watching = true;
  const stopWatching = () => {
    watching = false;
  };
  const watcher = (async () => {
    while (watching) {
      await deps.sleep(100);
      for (const f of [...fresh]) {
        if (!watching) return;
        if (!died.has(f) && !(await deps.isRunning(f)) && watching) {
          died.add(f);
          route(deps, serving());
        }
      }
    }
  })();
  try {
    return await rollingSteps();
  } finally {
    watching = false;
    await watcher;
  }

  async function rollingSteps(): Promise<RolloutResult> {
    for (let slot = firstSlot; slot < to.spec.replicas; slot++) {
      const prev = old.find((i) => i.index === slot);
      let next: InstanceOutput;
      try {
        if (prev && surge === 0) {
          old = old.filter((i) => i !== prev);
          st.old = old;
          route(deps, serving());
          await retire(deps, prev, from.spec, 'replaced (no surge)');
          next = await deps.start(to, slot, prev.ports);
        } else {
          next = await deps.start(to, slot, await deps.newPorts(to.spec));
        }
      } catch (e) {
        stopWatching();
        return fail(deps, from, to, st, (e as Error).message, mayRollBack);
      }
      fresh.push(next);
      route(deps, serving());
      if (prev && old.includes(prev)) {
        old = old.filter((i) => i !== prev);
        st.old = old;
        route(deps, serving());
        if (keepRetired) {
          if (deps.traffic)
            await deps.traffic.drain(deps.service, prev, Duration.parse(from.spec.deploy.drain_timeout));
          parked.push(prev);
        } else await retire(deps, prev, from.spec, `replaced by ${instanceLabel(next)}`);
      }
      const crashed = [...died][0] ?? (await firstDead(deps, fresh));
      if (crashed) {
        fresh.splice(fresh.indexOf(crashed), 1);
        stopWatching();
        return fail(
          deps,
          from,
          to,
          st,
          `instance ${crashed.index} (${instanceLabel(crashed)}) exited during the rollout`,
          mayRollBack,
          [crashed],
        );
      }
      deps.progress(`instance ${slot + 1}/${to.spec.replicas} on the new release (${instanceLabel(next)})`);
    }
    // Stability window: a release that dies right after passing its checks is still rolled back.
    const monitor = Duration.parse(to.spec.deploy.monitor).toMilliseconds();
    const until = elapsed(deps) + monitor;
    while (elapsed(deps) < until) {
      await deps.sleep(Math.min(200, Math.max(0, until - elapsed(deps))));
      const crashed = [...died][0] ?? (await firstDead(deps, fresh));
      if (crashed) {
        fresh.splice(fresh.indexOf(crashed), 1);
        stopWatching();
        return fail(
          deps,
          from,
          to,
          st,
          `instance ${crashed.index} (${instanceLabel(crashed)}) exited within ${to.spec.deploy.monitor} of the rollout`,
          mayRollBack,
          [crashed],
        );
      }
    }
    stopWatching();
    for (const extra of old) {
      old = old.filter((i) => i !== extra);
      st.old = old;
      route(deps, serving());
      await retire(deps, extra, from.spec, 'scaled down');
    }
    for (const p of parked) await retire(deps, p, from.spec, 'rollout succeeded');
    return { ok: true, rolledBack: false, instances: fresh, standby: [] };
  }
}

interface FailState {
  /** New instances still running. */
  fresh: InstanceOutput[];
  /** Old instances still serving. */
  old: InstanceOutput[];
  /** Old instances out of the pool but still running (previous release without its own code). */
  parked: InstanceOutput[];
  /** Slots the previous release had. */
  slots: number[];
}

async function firstDead(deps: RolloutDeps, list: InstanceOutput[]): Promise<InstanceOutput | undefined> {
  for (const i of list) if (!(await deps.isRunning(i))) return i;
  return undefined;
}

/**
 * Stops the new release and, when allowed, brings the previous one back in every slot it had:
 * parked instances return to the pool at once, missing slots are started from its code.
 */
async function fail(
  deps: RolloutDeps,
  from: RolloutSide,
  to: RolloutSide,
  st: FailState,
  reason: string,
  mayRollBack: boolean,
  dead: InstanceOutput[] = [],
): Promise<RolloutResult> {
  deps.progress(`rollout failed: ${reason}`);
  for (const d of dead) {
    await deps.stop(d, to.spec).catch(() => undefined);
    deps.releasePorts(d);
  }
  if (!to.spec.deploy.auto_rollback || !mayRollBack) {
    const instances = [...st.fresh, ...st.old, ...st.parked];
    route(deps, instances);
    return { ok: false, rolledBack: false, instances, standby: [], reason };
  }
  deps.progress(`rolling back to the previous release${from.release !== null ? ` (v${from.release})` : ''}`);
  const restored: InstanceOutput[] = [...st.old];
  for (const p of st.parked) if (await deps.isRunning(p)) restored.push(p);
  // Traffic goes to the previous release as soon as it has anything running.
  route(deps, restored.length ? restored : st.fresh);
  let fresh = [...st.fresh];
  for (const slot of st.slots.sort((a, b) => a - b)) {
    if (restored.some((r) => r.index === slot)) continue;
    try {
      const back = await deps.start(from, slot, await deps.newPorts(from.spec));
      restored.push(back);
      route(deps, restored);
    } catch (e) {
      deps.progress(`could not restart slot ${slot} of the previous release: ${(e as Error).message}`);
    }
  }
  if (restored.length === 0 && fresh.length) {
    deps.progress('the previous release could not be started again; keeping the new instances');
    route(deps, fresh);
    return { ok: false, rolledBack: false, instances: fresh, standby: [], reason };
  }
  route(deps, restored);
  for (const f of fresh) await retire(deps, f, to.spec, 'rollback');
  fresh = [];
  return { ok: false, rolledBack: true, instances: restored.sort((a, b) => a.index - b.index), standby: [], reason };
}

async function blueGreen(
  deps: RolloutDeps,
  from: RolloutSide,
  current: InstanceOutput[],
  to: RolloutSide,
): Promise<RolloutResult> {
  const green: InstanceOutput[] = [];
  for (let slot = 0; slot < to.spec.replicas; slot++) {
    try {
      green.push(await deps.start(to, slot, await deps.newPorts(to.spec)));
      deps.progress(`green ${slot + 1}/${to.spec.replicas} ready`);
    } catch (e) {
      const reason = (e as Error).message;
      deps.progress(`green set failed: ${reason}; blue keeps all traffic`);
      for (const g of green) {
        await deps.stop(g, to.spec);
        deps.releasePorts(g);
      }
      return { ok: false, rolledBack: to.spec.deploy.auto_rollback, instances: current, standby: [], reason };
    }
  }
  const crashed = await firstDead(deps, green);
  if (crashed) {
    for (const g of green) {
      await deps.stop(g, to.spec).catch(() => undefined);
      deps.releasePorts(g);
    }
    return {
      ok: false,
      rolledBack: true,
      instances: current,
      standby: [],
      reason: `instance ${crashed.index} exited before the switch`,
    };
  }
  route(deps, green);
  deps.progress(`switched traffic to the new release (${green.length} instances)`);
  const keep = Duration.parse(to.spec.deploy.blue_green.keep_old_for).toMilliseconds();
  if (deps.traffic && keep > 0 && current.length) {
    deps.progress(`the previous set stays warm for ${to.spec.deploy.blue_green.keep_old_for} (instant rollback)`);
    return { ok: true, rolledBack: false, instances: green, standby: current };
  }
  for (const b of current) await retire(deps, b, from.spec, 'blue-green switch');
  return { ok: true, rolledBack: false, instances: green, standby: [] };
}

async function canary(
  deps: RolloutDeps,
  from: RolloutSide,
  current: InstanceOutput[],
  to: RolloutSide,
): Promise<RolloutResult> {
  const traffic = deps.traffic as TrafficDirector;
  const stable = [...current].sort((a, b) => a.index - b.index);
  let cand: InstanceOutput;
  try {
    cand = await deps.start(to, 0, await deps.newPorts(to.spec));
  } catch (e) {
    return {
      ok: false,
      rolledBack: to.spec.deploy.auto_rollback,
      instances: current,
      standby: [],
      reason: (e as Error).message,
    };
  }
  const abort = async (reason: string): Promise<RolloutResult> => {
    deps.progress(`canary failed: ${reason}; all traffic back on the stable set`);
    route(deps, stable);
    if (await deps.isRunning(cand)) await retire(deps, cand, to.spec, 'canary aborted');
    else {
      await deps.stop(cand, to.spec).catch(() => undefined);
      deps.releasePorts(cand);
    }
    return { ok: false, rolledBack: true, instances: stable, standby: [], reason };
  };
  const c = to.spec.deploy.canary;
  for (const step of c.steps) {
    const w = Math.min(100, step.weight);
    const perStable = stable.length ? Math.max(1, Math.round((10 * (100 - w)) / stable.length)) : 0;
    traffic.route(deps.service, [
      ...stable.map((instance) => ({ instance, weight: perStable })),
      { instance: cand, weight: 10 * w },
    ]);
    deps.progress(`canary at ${w}% of traffic for ${step.pause}`);
    await traffic.refresh?.();
    const before = {
      cand: traffic.traffic(deps.service, cand),
      stable: sumTraffic(stable.map((s) => traffic.traffic(deps.service, s))),
    };
    const deadline = elapsed(deps) + Duration.parse(step.pause).toMilliseconds();
    while (elapsed(deps) < deadline) {
      await deps.sleep(Math.min(250, Math.max(0, deadline - elapsed(deps))));
      if (!(await deps.isRunning(cand))) return abort(`the canary (${instanceLabel(cand)}) exited`);
      await traffic.refresh?.();
      // Fail fast: a canary that already breaks the error budget does not wait for the pause.
      const early = analyse(trafficDelta(traffic.traffic(deps.service, cand), before.cand), undefined, c, true);
      if (early) return abort(early);
    }
    await traffic.refresh?.();
    const after = {
      cand: traffic.traffic(deps.service, cand),
      stable: sumTraffic(stable.map((s) => traffic.traffic(deps.service, s))),
    };
    const verdict = analyse(trafficDelta(after.cand, before.cand), trafficDelta(after.stable, before.stable), c, false);
    if (verdict) return abort(verdict);
    deps.progress(`canary step ${w}% passed`);
  }
  deps.progress('canary passed; promoting');
  // The canary takes slot 0; the other slots follow as a rolling update.
  const old0 = stable.find((i) => i.index === 0);
  const others = stable.filter((i) => i !== old0);
  route(deps, [cand, ...others]);
  if (old0) await retire(deps, old0, from.spec, 'the canary takes slot 0');
  const rest = await rolling({ ...deps, traffic: withExtra(deps.traffic, cand) }, from, others, to, true, 1);
  if (!rest.ok && rest.rolledBack) {
    try {
      const back = await deps.start(from, 0, await deps.newPorts(from.spec));
      route(deps, [back, ...rest.instances]);
      await retire(deps, cand, to.spec, 'rollback');
      return { ...rest, instances: [back, ...rest.instances].sort((a, b) => a.index - b.index) };
    } catch {
      return { ...rest, instances: [cand, ...rest.instances].sort((a, b) => a.index - b.index) };
    }
  }
  const instances = [cand, ...rest.instances].sort((a, b) => a.index - b.index);
  route(deps, instances);
  return { ...rest, instances };
}

/** When a blue-green standby set that went warm at `switchedAt` has served its time (keep_old_for). */
export function standbyUntil(spec: ServiceSpec, switchedAt: Date): Date {
  return new Date(switchedAt.getTime() + Duration.parse(spec.deploy.blue_green.keep_old_for).toMilliseconds());
}

/** The standby set is stopped once `now` reaches its `until`; before that it stays warm for a rollback. */
export function standbyExpired(standby: { until: string }, now: Date): boolean {
  return Date.parse(standby.until) <= now.getTime();
}

/** A director that always keeps `extra` in the routed set (the promoted canary during the rolling phase). */
function withExtra(t: TrafficDirector | undefined, extra: InstanceOutput): TrafficDirector | undefined {
  if (!t) return undefined;
  return {
    route: (service, backends) =>
      t.route(service, [
        ...backends.filter((b) => b.instance !== extra),
        { instance: extra, weight: backends[0]?.weight ?? 100 },
      ]),
    drain: (service, instance, timeout) => t.drain(service, instance, timeout),
    traffic: (service, instance) => t.traffic(service, instance),
    ...(t.refresh ? { refresh: () => (t.refresh as () => Promise<void>)() } : {}),
    claim: (service) => t.claim(service),
    release: (service) => t.release(service),
    expose: (service, address, protocols, instances) => t.expose(service, address, protocols, instances),
  };
}

/** A reason to abort, or undefined. `early` checks the canary alone against the absolute budget. */
export function analyse(
  cand: InstanceTraffic,
  stable: InstanceTraffic | undefined,
  c: ServiceSpec['deploy']['canary'],
  early: boolean,
): string | undefined {
  const rate = (t: InstanceTraffic) => (t.requests ? t.errors / t.requests : 0);
  if (early) {
    if (cand.requests >= Math.max(5, c.min_requests) && rate(cand) > c.max_error_rate && cand.errors >= 3) {
      return `error rate ${(100 * rate(cand)).toFixed(1)}% over ${cand.requests} requests exceeds ${(100 * c.max_error_rate).toFixed(1)}%`;
    }
    return undefined;
  }
  if (cand.requests < c.min_requests) return undefined; // inconclusive: not enough traffic to judge
  const base = stable ? rate(stable) : 0;
  if (rate(cand) - base > c.max_error_rate) {
    return `error rate ${(100 * rate(cand)).toFixed(1)}% vs ${(100 * base).toFixed(1)}% on the stable set (limit +${(100 * c.max_error_rate).toFixed(1)} points)`;
  }
  if (stable && stable.latency.count >= c.min_requests) {
    const p95c = quantile(cand.latency, 0.95);
    const p95s = Math.max(1, quantile(stable.latency, 0.95));
    // A new process is cold (JIT, caches): differences below LATENCY_FLOOR_MS are noise, not a regression.
    if (p95c > c.max_p95_ratio * p95s && p95c - p95s > LATENCY_FLOOR_MS)
      return `p95 latency ${p95c.toFixed(0)} ms vs ${p95s.toFixed(0)} ms on the stable set (limit ×${c.max_p95_ratio})`;
  }
  return undefined;
}
