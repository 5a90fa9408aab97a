/**
 * A world for rollout.ts with no processes and no sockets, on a ManualClock: the proxy's own
 * pool table, balancer and traffic counters (src/proxy/node: real code) behind a TrafficDirector,
 * instances that become ready, fail or exit when their release says so, and a steady load whose
 * every request is picked by the real smooth weighted round-robin and counted by the real
 * counters the canary analysis reads. Everything that happens is recorded with its time on the
 * clock, so tests assert decisions, their order, and when they happened, in milliseconds.
 */
import type { StackConfig } from '../../src/config/schema.js';
import { rollout, type RolloutDeps, type RolloutResult, type RolloutSide } from '../../src/kinds/service/rollout.js';
import type { InstanceTraffic, TrafficDirector } from '../../src/kinds/service/traffic-director.js';
import { serviceSpecOf, type InstanceOutput, type ServiceSpec } from '../../src/kinds/service/service-spec.js';
import { buildModel } from '../../src/model/build-model.js';
import { pickBackend } from '../../src/proxy/node/balancer.js';
import { ERROR } from '../../src/proxy/node/metrics.js';
import { PoolTable } from '../../src/proxy/node/pool.js';
import type { Duration } from '../../src/util/duration.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { processHandle } from '../../src/runtime/process/process-handle.js';

export type ServiceConfig = NonNullable<StackConfig['services']>[string];

/** The normalised spec of service `web` with `config` (defaults filled in by the model builder). */
export function webSpec(config: Partial<ServiceConfig>): ServiceSpec {
  const stack: StackConfig = {
    stack: 'sim',
    services: { web: { command: 'node server.mjs', ports: { http: 'auto' }, replicas: 2, ...config } },
  };
  const { model, diagnostics } = buildModel(
    stack,
    { dir: '/sim', configHash: 'sim', file: '/sim/groundwork.yaml' },
    { cli: {}, env: {} },
  );
  const r = model?.resources.find((x) => x.address === 'service.web');
  if (!r) throw new Error(`the sim stack is invalid: ${diagnostics.map((d) => d.message).join('; ')}`);
  return serviceSpecOf(r);
}

/** How the instances of one release behave. */
export interface Behaviour {
  /** From start to ready. Default 200 ms. */
  readyAfterMs?: number;
  /** Start fails (not ready) with this reason, after readyAfterMs. */
  failStart?: string;
  /** Exits this long after it became ready. */
  exitAfterMs?: number;
  /** Status of every answer. Default 200. */
  status?: number;
  /** Latency of every answer. Default 20 ms. */
  latencyMs?: number;
}

export interface Event {
  t: number;
  what: string;
}

export interface Routed {
  t: number;
  /** Requests sent before this change (the index of the first request under it). */
  after: number;
  /** Instance name (`v1#0`) -> weight. */
  weights: Record<string, number>;
}

export interface Request {
  t: number;
  /** Instance name, or '' when no backend took it. */
  to: string;
  status: number;
}

const SERVICE = 'web';

export class RolloutWorld {
  readonly clock = new ManualClock();
  readonly events: Event[] = [];
  readonly routes: Routed[] = [];
  readonly requests: Request[] = [];
  readonly progress: Event[] = [];
  /** Every instance ever started, by id. */
  readonly instances = new Map<string, InstanceOutput>();
  private readonly running = new Set<string>();
  private readonly pools = new PoolTable({
    maxConnections: 1024,
    maxIdle: 0,
    ejectForMs: 2000,
    maxEjectForMs: 30_000,
    now: () => this.clock.ms(),
  });
  private nextPort = 20_000;
  private nextPid = 5000;
  private load: { cancel(): void } | undefined;

  constructor(private readonly behaviours: Record<number, Behaviour>) {}

  /** `v2#0` for instance 0 of release 2. */
  name(i: InstanceOutput): string {
    return `v${i.release ?? '?'}#${i.index}`;
  }

  private at(what: string): void {
    this.events.push({ t: this.clock.t, what });
  }

  /** Running instances of release `release`, started directly (the set a rollout starts from). */
  seed(release: number, replicas: number): InstanceOutput[] {
    const out: InstanceOutput[] = [];
    for (let index = 0; index < replicas; index++) out.push(this.make(release, index, { http: this.nextPort++ }));
    this.director.route(
      SERVICE,
      out.map((instance) => ({ instance, weight: 100 })),
    );
    return out;
  }

  private make(release: number, index: number, ports: Record<string, number>): InstanceOutput {
    const pid = this.nextPid++;
    const inst: InstanceOutput = {
      index,
      id: `web-${index}-${pid}`,
      // A simulated process: the process driver's handle shape, with a pid no real process has here.
      handle: processHandle.make({ pid, pgid: pid, startTicks: 0 }),
      startedAt: this.clock.now().toISOString(),
      specHash: `spec-v${release}`,
      logFile: `/sim/web-${index}.log`,
      limits: '',
      ports,
      release,
    };
    this.instances.set(inst.id, inst);
    this.running.add(inst.id);
    return inst;
  }

  /** Kills an instance now (as a crash would). */
  kill(inst: InstanceOutput): void {
    this.running.delete(inst.id);
    this.at(`exit ${this.name(inst)}`);
  }

  isRunning(inst: InstanceOutput): boolean {
    return this.running.has(inst.id);
  }

  /** A TrafficDirector over the proxy's pool table, recording every change. */
  readonly director: TrafficDirector = {
    route: (service, backends) => {
      this.pools.set(
        service,
        backends.map((b) => ({
          id: b.instance.id,
          host: '127.0.0.1',
          port: b.instance.ports.http ?? 1,
          weight: b.weight,
        })),
      );
      const weights: Record<string, number> = {};
      for (const b of backends) weights[this.name(b.instance)] = b.weight;
      this.routes.push({ t: this.clock.t, after: this.requests.length, weights });
    },
    drain: async (_service, instance, _timeout: Duration) => {
      this.at(`drain ${this.name(instance)}`);
      const b = this.pools.backends.get(instance.id);
      if (!b) return;
      b.startDraining();
      await b.whenIdle(); // simulated requests finish as they start: nothing stays in flight
    },
    // Stable addresses are the daemon's listeners; a rollout never calls this.
    expose: () => Promise.resolve(),
    traffic: (_service, instance): InstanceTraffic => {
      const m = this.pools.backends.get(instance.id)?.metrics.snapshot();
      if (!m) return { requests: 0, errors: 0, latency: { bounds: [], counts: [], sum: 0, count: 0 } };
      return { requests: m.requests, errors: m.status['5xx'] + m.status.error, latency: m.latency };
    },
    claim: (service) => this.at(`claim ${service}`),
    release: (service) => this.at(`release ${service}`),
  };

  deps(): RolloutDeps {
    return {
      service: SERVICE,
      traffic: this.director,
      start: async (side, index, ports) => {
        const release = side.release ?? 0;
        const b = this.behaviours[release] ?? {};
        this.at(`start v${release}#${index}`);
        await this.clock.sleep(b.readyAfterMs ?? 200);
        if (b.failStart !== undefined) {
          this.at(`not ready v${release}#${index}`);
          throw new Error(`instance ${index} ${b.failStart}`);
        }
        const inst = this.make(release, index, ports);
        this.at(`ready ${this.name(inst)}`);
        if (b.exitAfterMs !== undefined) this.clock.setTimeout(() => this.kill(inst), b.exitAfterMs);
        return inst;
      },
      stop: async (inst) => {
        this.running.delete(inst.id);
        this.at(`stop ${this.name(inst)}`);
      },
      isRunning: async (inst) => this.running.has(inst.id),
      newPorts: async () => ({ http: this.nextPort++ }),
      releasePorts: () => undefined,
      sleep: (ms) => this.clock.sleep(ms),
      ms: () => this.clock.ms(),
      progress: (message) => this.progress.push({ t: this.clock.t, what: message }),
    };
  }

  /** `perTick` requests every `everyMs` of clock time, each to the backend the balancer picks. */
  startLoad(perTick = 10, everyMs = 10): void {
    this.load = this.clock.setInterval(() => {
      for (let i = 0; i < perTick; i++) this.request();
    }, everyMs);
  }

  stopLoad(): void {
    this.load?.cancel();
  }

  private request(): void {
    const b = pickBackend(this.pools.members(SERVICE), 'round-robin', this.clock.ms(), null);
    if (b === undefined) {
      this.requests.push({ t: this.clock.t, to: '', status: 503 });
      return;
    }
    const inst = this.instances.get(b.id);
    if (!inst) throw new Error(`the pool has backend ${b.id}, which no instance of the world has`);
    const behaviour = this.behaviours[inst.release ?? 0] ?? {};
    // A dead instance answers nothing: the request counts as an error on its backend.
    const status = this.running.has(inst.id) ? (behaviour.status ?? 200) : ERROR;
    b.metrics.start();
    b.metrics.finish(status, behaviour.latencyMs ?? 20);
    this.requests.push({ t: this.clock.t, to: this.name(inst), status });
  }

  /** Runs a rollout from release `from` (its instances: `current`) to release `to` until it returns. */
  async rollout(
    fromSpec: ServiceSpec,
    current: InstanceOutput[],
    toSpec: ServiceSpec,
    releases: { from: number; to: number } = { from: 1, to: 2 },
  ): Promise<RolloutResult> {
    const from: RolloutSide = { spec: fromSpec, codeDir: `/sim/v${releases.from}`, release: releases.from };
    const to: RolloutSide = { spec: toSpec, codeDir: `/sim/v${releases.to}`, release: releases.to };
    return this.clock.run(rollout(this.deps(), from, current, to));
  }

  /** Instance names in a rollout result. */
  names(list: InstanceOutput[]): string[] {
    return list.map((i) => this.name(i));
  }

  /** The routed set (weights) in force at time t. */
  routedAt(t: number): Record<string, number> | undefined {
    let cur: Record<string, number> | undefined;
    for (const r of this.routes) if (r.t <= t) cur = r.weights;
    return cur;
  }

  /** For each routed set, the requests sent while it was in force, by instance name. */
  perRoute(): { routed: Routed; total: number; counts: Record<string, number> }[] {
    return this.routes.map((routed, i) => {
      const end = this.routes[i + 1]?.after ?? this.requests.length;
      const counts: Record<string, number> = {};
      for (const r of this.requests.slice(routed.after, end)) counts[r.to] = (counts[r.to] ?? 0) + 1;
      return { routed, total: end - routed.after, counts };
    });
  }

  /** Requests per instance name sent in [from, to). */
  countsBetween(from: number, to: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) if (r.t >= from && r.t < to) out[r.to] = (out[r.to] ?? 0) + 1;
    return out;
  }
}
