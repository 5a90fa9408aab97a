/**
 * Keeps every instance of every applied service running and watched: restarts exited
 * instances by their restart policy (backoff, crash-loop detection), runs readiness and liveness
 * probes, and records state changes as events. Instances are found in recorded state, so a
 * restarted daemon adopts what is running (same pids) and still learns how a dead one ended.
 */
import type { Address } from '../model/resource.js';
import type { CoreEvent } from '../core/events.js';
import type { InstanceState, InstanceView } from '../core/status.js';
import type { Supervision } from '../core/supervision.js';
import type { KindContext } from '../kinds/resource-kind.js';
import type { ServiceKind } from '../kinds/service/service-kind.js';
import { handleOf } from '../kinds/service/service-kind.js';
import { probeTarget } from '../kinds/service/probe-target.js';
import {
  describeInstance,
  instanceLabel,
  checkedServiceOutputs,
  serviceOutputsOf,
  serviceSpecOf,
  type InstanceOutput,
  type ProbeSpec,
  type ServiceSpec,
} from '../kinds/service/service-spec.js';
import { probe } from '../observe/probe.js';
import { InstanceExitedError, type InstanceStatus, type RuntimeDriver } from '../runtime/runtime-driver.js';
import type { ResourceRow, Store } from '../store/store.js';
import { singleFlight } from '../util/single-flight.js';
import type { Clock } from '../util/clock.js';
import { Duration } from '../util/duration.js';
import { errorMessage } from '../util/error-message.js';
import { isDiskFull } from '../util/disk-space.js';
import { droppedLines } from '../observe/log-files.js';

/** How often a start that failed for a full disk is tried again. */
const DISK_FULL_RETRY = Duration.seconds(2);
import type { Logger } from '../util/logger.js';
import { DEFAULT_BACKOFF, RestartTracker, type BackoffSettings } from './restart-policy.js';
import { baseEnv } from '../kinds/service/service-kind.js';
import path from 'node:path';

export { INSTANCE_STATES, type InstanceState, type InstanceView } from '../core/status.js';

interface Monitor {
  address: Address;
  service: string;
  index: number;
  inst: InstanceOutput | undefined;
  up: boolean;
  state: InstanceState;
  reason: string;
  since: number;
  restarts: number;
  tracker: RestartTracker;
  ready: boolean;
  lastProbe: string | null;
  lastExit: InstanceView['lastExit'];
  timers: Set<NodeJS.Timeout>;
  /** A restart is running right now (not merely scheduled). */
  busy: boolean;
  /** The liveness probe stopped the instance: its exit counts as a failure whatever the code. */
  livenessKill: boolean;
  generation: number;
}

export interface SupervisorDeps {
  store: Store;
  kind: ServiceKind;
  /** A kind context for restarts (ports are kept per instance, so no allocation happens). */
  context: () => Promise<KindContext>;
  /** The runtime drivers (looked up on every poll, so not through `context`). */
  drivers: KindContext['drivers'];
  /** Stack name and directory, for probes. */
  stack: () => { name: string; dir: string };
  clock: Clock;
  logger: Logger;
  backoff?: BackoffSettings;
  /** How often instances are checked for exit. */
  pollEvery?: Duration;
  /** The installation's bus: instance state changes, exits, restarts. */
  publish(e: CoreEvent): void;
  /** Called after an instance's state or readiness changed (the daemon updates traffic). */
  onChange?: (address: Address) => void;
}

export class Supervisor implements Supervision {
  private readonly monitors = new Map<string, Monitor>();
  private readonly paused = new Set<Address>();
  private readonly stoppedServices = new Set<Address>();
  /** Monitors whose instance could not be written to the store (disk full): retried every poll. */
  private readonly unrecorded = new Set<Monitor>();
  /** Instances of services an orchestrator supervises (swarm), as sync() last read them. */
  private readonly unsupervised = new Map<Address, InstanceOutput[]>();
  private poller: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: SupervisorDeps) {}

  private key(address: Address, index: number): string {
    return `${address}#${index}`;
  }
  private now(): number {
    return this.deps.clock.now().getTime();
  }

  /**
   * Adopts what state records and starts watching. Resolves after the first inspection of every
   * adopted instance, so one that died while no daemon ran is `starting` (being restarted), not
   * reported `healthy` from state until the first poll.
   */
  async start(): Promise<void> {
    for (const row of await this.deps.store.resources.listResources())
      if (row.kind === 'service') this.syncRow(row.address, row);
    const every = (this.deps.pollEvery ?? Duration.milliseconds(200)).toMilliseconds();
    // A poll reads the store between inspections: a tick while one still runs books one more.
    this.poller = setInterval(() => this.polling.trigger(), every);
    this.polling.trigger();
    await this.polling.idle();
  }

  private readonly polling = singleFlight(
    () => this.poll(),
    (e) => this.deps.logger.log('error', 'supervision poll failed', { error: errorMessage(e) }),
  );

  close(): void {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    for (const m of this.monitors.values()) this.clearTimers(m);
  }

  /** Stop watching a service while apply changes it; resolves when no restart is in flight. */
  async pause(address: Address): Promise<void> {
    this.paused.add(address);
    for (const m of this.monitorsOf(address)) this.clearTimers(m);
    while (this.monitorsOf(address).some((m) => m.busy)) await new Promise((r) => setTimeout(r, 20));
  }

  /** Resume after apply: rebuild the monitors from what apply recorded. */
  async resume(address: Address): Promise<void> {
    this.paused.delete(address);
    this.stoppedServices.delete(address);
    await this.sync(address);
  }

  private monitorsOf(address: Address): Monitor[] {
    return [...this.monitors.values()].filter((m) => m.address === address);
  }

  private driverFor(spec: ServiceSpec): RuntimeDriver {
    const d = this.deps.drivers[spec.runtime];
    if (!d) throw new Error(`runtime ${spec.runtime} is not available`);
    return d;
  }

  /** Builds monitors for a service from its recorded row; forgets monitors of removed instances. */
  async sync(address: Address): Promise<void> {
    this.syncRow(address, await this.deps.store.resources.tryGetResource(address));
  }

  private syncRow(address: Address, row: ResourceRow | undefined): void {
    this.unsupervised.delete(address);
    const old = this.monitorsOf(address);
    for (const m of old) this.clearTimers(m);
    if (!row || row.kind !== 'service') {
      for (const m of old) this.monitors.delete(this.key(m.address, m.index));
      return;
    }
    const spec = serviceSpecOf(row);
    if (!this.deps.kind.backendFor(spec).supervised) {
      // The cluster's orchestrator owns swarm tasks: no monitors, no restarts from here. Their
      // instances are kept as read, for readyInstances (the proxy's path does not wait on the store).
      for (const m of old) this.monitors.delete(this.key(address, m.index));
      this.unsupervised.set(
        address,
        serviceOutputsOf(row).instances.filter((i) => !i.gone),
      );
      return;
    }
    const instances = serviceOutputsOf(row).instances;
    for (const m of old)
      if (!instances.some((i) => i.index === m.index)) this.monitors.delete(this.key(address, m.index));
    for (const inst of instances) {
      const k = this.key(address, inst.index);
      const prev = this.monitors.get(k);
      const sameInstance = prev?.inst?.id === inst.id;
      const m: Monitor = {
        address,
        service: address.slice('service.'.length),
        index: inst.index,
        inst,
        up: true,
        // An instance handed over by apply or a rollout passed its readiness check when it started,
        // and an adopted one was serving: both keep traffic until probes say otherwise.
        state: sameInstance && prev ? prev.state : 'healthy',
        reason: sameInstance && prev ? prev.reason : 'ready when started; probing',
        since: sameInstance && prev ? prev.since : this.now(),
        restarts: inst.restarts ?? 0,
        tracker: prev?.tracker ?? new RestartTracker(this.deps.backoff ?? DEFAULT_BACKOFF),
        ready: sameInstance && prev ? prev.ready : !inst.gone,
        lastProbe: sameInstance && prev ? prev.lastProbe : null,
        lastExit: prev?.lastExit ?? null,
        timers: new Set(),
        busy: false,
        livenessKill: false,
        generation: (prev?.generation ?? 0) + 1,
      };
      this.monitors.set(k, m);
      if (inst.gone) {
        m.up = false;
        void this.onExit(
          m,
          spec,
          { state: 'exited', exitCode: inst.exitCode ?? null, signal: null },
          inst.gone,
          inst.exitCode !== 0,
        );
      } else {
        this.startProbes(m, spec);
      }
    }
  }

  private setState(m: Monitor, state: InstanceState, reason: string): void {
    if (m.state === state && m.reason === reason) return;
    m.state = state;
    m.reason = reason;
    m.since = this.now();
    this.deps.publish({ type: 'instance', address: m.address, instance: `${m.service}/${m.index}`, state, reason });
    this.deps.logger.log('info', 'instance state', { service: m.service, index: m.index, state, reason });
    this.deps.onChange?.(m.address);
  }

  /** A timer that forgets itself once it fired, so long-running probe loops hold one handle each. */
  private schedule(m: Monitor, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      m.timers.delete(t);
      fn();
    }, ms);
    m.timers.add(t);
  }

  private clearTimers(m: Monitor): void {
    for (const t of m.timers) clearTimeout(t);
    m.timers.clear();
    m.generation++;
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    for (const m of [...this.unrecorded]) {
      if (this.monitors.get(this.key(m.address, m.index)) === m) await this.recordInstance(m, m.inst);
      else this.unrecorded.delete(m);
    }
    for (const m of [...this.monitors.values()]) {
      if (!m.up || m.busy || !m.inst || this.paused.has(m.address) || this.stoppedServices.has(m.address)) continue;
      const row = await this.deps.store.resources.tryGetResource(m.address);
      if (!row) continue;
      const spec = serviceSpecOf(row);
      let status: InstanceStatus;
      try {
        status = await this.driverFor(spec).inspect(handleOf(m.inst, m.service));
      } catch (e) {
        this.deps.logger.log('warn', 'inspect failed', { service: m.service, error: (e as Error).message });
        continue;
      }
      if (status.state !== 'running' && m.up && !m.busy && !this.paused.has(m.address)) {
        m.up = false;
        await this.onExit(m, spec, status, undefined);
      }
    }
  }

  private async onExit(
    m: Monitor,
    spec: ServiceSpec,
    status: InstanceStatus,
    why: string | undefined,
    startFailed = false,
  ): Promise<void> {
    this.clearTimers(m);
    m.ready = false;
    const code = status.state === 'exited' ? status.exitCode : null;
    const signal = status.state === 'exited' ? status.signal : null;
    const reason =
      why ??
      (status.state === 'exited'
        ? `exited${code !== null ? ` with code ${code}` : ''}${signal ? ` (${signal})` : ''}`
        : 'vanished');
    m.lastExit = { code, signal, at: new Date(this.now()).toISOString() };
    this.deps.publish({
      type: 'instance',
      address: m.address,
      instance: `${m.service}/${m.index}`,
      state: 'exit',
      reason: `${m.inst ? instanceLabel(m.inst) : 'an instance'} ${reason}`,
    });
    // A failed start ran for no time at all (else a long-lived instance's start time would reset the backoff).
    const ran = startFailed || !m.inst ? 0 : this.now() - Date.parse(m.inst.startedAt);
    const livenessKill = m.livenessKill;
    m.livenessKill = false;
    const decision = m.tracker.decide(
      spec.restart,
      livenessKill || startFailed ? (code === 0 || code === null ? 1 : code) : code,
      this.now(),
      ran,
    );
    if (!decision.restart) {
      this.setState(m, 'exited', `${reason}; ${decision.reason}`);
      await this.recordInstance(m, m.inst ? { ...m.inst, gone: reason } : undefined);
      return;
    }
    this.setState(
      m,
      decision.crashLoop ? 'crashloop' : 'starting',
      `${reason}; ${decision.crashLoop ? decision.reason : `restarting${decision.delay.toMilliseconds() ? ` in ${decision.delay}` : ''}`}`,
    );
    const gen = m.generation;
    this.schedule(m, decision.delay.toMilliseconds(), () => {
      void this.restart(m, gen);
    });
  }

  private async restart(m: Monitor, gen: number): Promise<void> {
    if (this.closed || gen !== m.generation || this.paused.has(m.address) || this.stoppedServices.has(m.address))
      return;
    const row = await this.deps.store.resources.tryGetResource(m.address);
    if (!row) return;
    m.busy = true;
    const spec = serviceSpecOf(row);
    const driver = this.driverFor(spec);
    const ports = m.inst?.ports ?? {};
    try {
      if (m.inst) {
        const h = handleOf(m.inst, m.service);
        if ((await driver.inspect(h)).state === 'running') await driver.stop(h, Duration.parse(spec.stop_grace));
        await driver.forget(h);
      }
      const ctx = await this.deps.context();
      const inst = await this.deps.kind.startOne(
        ctx,
        m.address,
        spec,
        m.index,
        ports,
        m.inst?.codeDir ?? ctx.dir,
        m.inst?.release ?? null,
      );
      m.restarts++;
      m.inst = { ...inst, restarts: m.restarts };
      m.up = true;
      m.busy = false;
      await this.recordInstance(m, m.inst);
      this.deps.publish({
        type: 'instance',
        address: m.address,
        instance: `${m.service}/${m.index}`,
        state: 'restarted',
        reason: `${instanceLabel(inst)} (restart #${m.restarts})`,
      });
      this.setState(m, 'starting', `restarted (${instanceLabel(inst)})`);
      this.startProbes(m, spec);
    } catch (e) {
      m.busy = false;
      m.up = false;
      if (isDiskFull(e)) {
        // Nothing starts that is not recorded first, and the record cannot be written. Not the
        // service's fault: no restart is counted, and the start is tried again until space returns.
        this.setState(
          m,
          'exited',
          `cannot start: the disk holding the state is full; retrying every ${DISK_FULL_RETRY}`,
        );
        const gen2 = m.generation;
        this.schedule(m, DISK_FULL_RETRY.toMilliseconds(), () => {
          void this.restart(m, gen2);
        });
        return;
      }
      m.restarts++;
      // An instance that ended at once with code 0 simply finished (on-failure leaves it be).
      const code = e instanceof InstanceExitedError ? e.exitCode : null;
      await this.onExit(
        m,
        spec,
        { state: 'exited', exitCode: code, signal: null },
        `failed to start: ${(e as Error).message}`,
        code !== 0,
      );
    }
  }

  /** Writes one instance's new facts into the service's recorded outputs. */
  private async recordInstance(m: Monitor, inst: InstanceOutput | undefined): Promise<void> {
    try {
      // Read and written in one store call: monitors of other instances of the service record
      // theirs concurrently, and each must keep the others' updates.
      await this.deps.store.resources.updateOutputs(m.address, (outputs) => {
        const outs = serviceOutputsOf({ address: m.address, outputs });
        const others = outs.instances.filter((i) => i.index !== m.index);
        const instances = inst ? [...others, inst] : others;
        return checkedServiceOutputs(m.address, { ...outs, instances: instances.sort((a, b) => a.index - b.index) });
      });
      this.unrecorded.delete(m);
    } catch (e) {
      // A full disk must not stop supervision: the monitor holds the instance, and every poll
      // tries to record it again until space returns.
      if (!this.unrecorded.has(m))
        this.deps.logger.log('error', 'cannot record an instance; supervising it from memory and retrying', {
          service: m.service,
          index: m.index,
          error: errorMessage(e),
        });
      this.unrecorded.add(m);
    }
  }

  private startProbes(m: Monitor, spec: ServiceSpec): void {
    if (!m.inst) return;
    const st = this.deps.stack();
    const env = baseEnv(m.service, m.index, st.name, spec.user, spec.runtime);
    const cwd = path.resolve(m.inst.codeDir ?? st.dir, spec.cwd);
    if (!spec.health) {
      m.ready = true;
      this.setState(m, 'healthy', 'running (no health check)');
    } else {
      this.probeLoop(m, spec.health, 'readiness', env, cwd);
    }
    if (spec.liveness) this.probeLoop(m, spec.liveness, 'liveness', env, cwd);
  }

  private probeLoop(
    m: Monitor,
    p: ProbeSpec,
    role: 'readiness' | 'liveness',
    env: Record<string, string>,
    cwd: string,
  ): void {
    const inst = m.inst;
    if (!inst) return;
    const target = probeTarget(p, inst.ports, cwd, env);
    if (!target) return;
    const interval = Duration.parse(p.interval);
    const timeout = Duration.parse(p.timeout);
    const startPeriodEnds = Date.parse(inst.startedAt) + Duration.parse(p.start_period).toMilliseconds();
    const gen = m.generation;
    let successes = 0;
    let failures = 0;
    const tick = async () => {
      if (gen !== m.generation || this.closed || !m.up) return;
      const r = await probe(target, timeout);
      if (gen !== m.generation || this.closed || !m.up) return;
      this.deps.publish({
        type: 'probe',
        address: m.address,
        instance: `${m.service}/${m.index}`,
        role,
        ok: r.ok,
        detail: r.detail,
      });
      if (role === 'readiness') m.lastProbe = r.detail;
      if (r.ok) {
        successes++;
        failures = 0;
      } else if (this.now() >= startPeriodEnds) {
        failures++;
        successes = 0;
      }
      if (role === 'readiness') {
        if (
          r.ok &&
          successes >= p.healthy &&
          (!m.ready || m.state !== 'healthy' || m.reason.startsWith('ready when started'))
        ) {
          m.ready = true;
          this.setState(m, 'healthy', r.detail);
        }
        if (!r.ok && failures >= p.unhealthy && (m.ready || m.state === 'starting')) {
          m.ready = false;
          this.setState(m, 'unhealthy', `${failures} failed probes: ${r.detail}`);
        }
      } else if (!r.ok && failures >= p.unhealthy) {
        this.deps.publish({
          type: 'instance',
          address: m.address,
          instance: `${m.service}/${m.index}`,
          state: 'liveness-failed',
          reason: r.detail,
        });
        failures = 0;
        const row = await this.deps.store.resources.tryGetResource(m.address);
        if (row && m.inst) {
          const spec = serviceSpecOf(row);
          // Stopping it makes the poller see the exit and restart it; a liveness kill is a failure.
          m.livenessKill = true;
          await this.driverFor(spec).stop(handleOf(m.inst, m.service), Duration.parse(spec.stop_grace));
          return;
        }
      }
      this.schedule(m, interval.toMilliseconds(), () => {
        void tick();
      });
    };
    this.schedule(m, role === 'readiness' ? 0 : interval.toMilliseconds(), () => {
      void tick();
    });
  }

  /** Forget a service whose instances were stopped on purpose: no monitors, no restarts. */
  forget(address: Address): void {
    for (const m of this.monitorsOf(address)) {
      this.clearTimers(m);
      this.monitors.delete(this.key(m.address, m.index));
    }
    this.stoppedServices.add(address);
  }

  /** Instances that should get traffic: up and ready. */
  readyInstances(address: Address): InstanceOutput[] {
    const unsupervised = this.unsupervised.get(address);
    if (unsupervised) return unsupervised;
    return this.monitorsOf(address)
      .filter((m) => m.up && m.ready && m.inst)
      .map((m) => m.inst as InstanceOutput)
      .sort((a, b) => a.index - b.index);
  }

  view(): InstanceView[] {
    return [...this.monitors.values()]
      .sort((a, b) => a.address.localeCompare(b.address) || a.index - b.index)
      .map((m) => ({
        service: m.service,
        index: m.index,
        id: m.inst?.id ?? null,
        pid: m.up && m.inst ? describeInstance(m.inst).pid : null,
        state: m.state,
        reason: m.reason,
        since: new Date(m.since).toISOString(),
        startedAt: m.up ? (m.inst?.startedAt ?? null) : null,
        restarts: m.restarts,
        ports: m.inst?.ports ?? {},
        ready: m.ready,
        lastProbe: m.lastProbe,
        limits: m.inst?.limits ?? null,
        lastExit: m.lastExit,
        logDroppedLines: m.inst?.logFile ? (droppedLines(m.inst.logFile, m.inst.id) ?? null) : null,
      }));
  }
}
