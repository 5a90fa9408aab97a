/**
 * `service`: replicas of one command, run by a RuntimeDriver. Apply starts instances and waits for
 * them to be healthy; keeping them running afterwards is the daemon's job (supervision).
 *
 * Instances are adopted, never duplicated: before starting instance N, any live instance N the
 * driver still knows (say, from an apply that was killed half-way) is reused when it was started
 * from the same spec, or stopped when it was not.
 */
import { randomBytes } from 'node:crypto';
import { chownSync } from 'node:fs';
import { findReferences } from '../../config/references.js';
import { address } from '../../model/resource.js';
import { ensureUser } from '../../runtime/process/os-user.js';
import { ByteSize } from '../../util/byte-size.js';
import { Duration } from '../../util/duration.js';
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject } from '../../model/resource.js';
import type { InstanceHandle, RuntimeDriver } from '../../runtime/runtime-driver.js';
import { probe } from '../../observe/probe.js';
import { diffByFields } from '../field-diff.js';
import { PartialFailure, type DiffResult, type KindContext, type ReadResult, type ResourceKind } from '../resource-kind.js';
import { dependencyValues, instanceSpecHash, resolveInstance } from './instance-env.js';
import { probeTarget } from './probe-target.js';
import { asServiceOutputs, asServiceSpec, toJson, type InstanceOutput, type ServiceSpec } from './service-spec.js';

const REPLACE_ON = ['runtime'] as const;
/** How long an instance without a health check must stay up to count as started. */
const SETTLE = Duration.milliseconds(300);

export function baseEnv(service: string, index: number, stack: string, user: string | null): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    GROUNDWORK_STACK: stack, GROUNDWORK_SERVICE: service, GROUNDWORK_INSTANCE: String(index),
  };
  for (const k of ['LANG', 'LC_ALL', 'TZ']) if (process.env[k]) env[k] = process.env[k] as string;
  if (!user && process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

export function handleOf(i: InstanceOutput, service: string): InstanceHandle {
  return { id: i.id, service, index: i.index, pid: i.pid, pgid: i.pgid, startTicks: i.startTicks, startedAt: i.startedAt, specHash: i.specHash, logFile: i.logFile, limits: i.limits, ports: i.ports };
}

export class ServiceKind implements ResourceKind {
  readonly kind = 'service' as const;

  check(_address: Address, _spec: JsonObject): Diagnostic[] {
    return [];
  }

  diff(oldRaw: JsonObject, nextRaw: JsonObject, oldOutputs: JsonObject): DiffResult {
    const d = diffByFields(oldRaw, nextRaw, REPLACE_ON);
    const next = asServiceSpec(nextRaw);
    const live = asServiceOutputs(oldOutputs).instances.filter((i) => !i.gone);
    if (live.length !== next.replicas && !d.changes.includes('replicas')) d.changes.push('instances');
    return d;
  }

  private driver(ctx: KindContext, spec: ServiceSpec): RuntimeDriver {
    const d = ctx.drivers[spec.runtime];
    if (!d) throw new Error(`runtime \`${spec.runtime}\` is not available here; use runtime: process`);
    return d;
  }

  async create(ctx: KindContext, address: Address, raw: JsonObject): Promise<JsonObject> {
    return this.converge(ctx, address, undefined, asServiceSpec(raw), []);
  }

  async update(ctx: KindContext, address: Address, _old: JsonObject, next: JsonObject, outputs: JsonObject): Promise<JsonObject> {
    return this.converge(ctx, address, asServiceSpec(_old), asServiceSpec(next), asServiceOutputs(outputs).instances);
  }

  /**
   * Brings the instances to `spec`, one index at a time (stop old N, start new N, wait healthy),
   * keeping instances already running from the same spec. Ports stay with their index.
   */
  private async converge(ctx: KindContext, address: Address, old: ServiceSpec | undefined, spec: ServiceSpec, current: InstanceOutput[]): Promise<JsonObject> {
    const name = address.slice('service.'.length);
    const driver = this.driver(ctx, spec);
    const adoptable = (await driver.list(ctx.stack)).filter((h) => h.service === name);
    const result: InstanceOutput[] = [];
    const grace = Duration.parse(old?.stop_grace ?? spec.stop_grace);
    const fail = async (message: string): Promise<never> => {
      // Keep what exists in state, so nothing is orphaned.
      const kept = [...result, ...current.filter((c) => !result.some((r) => r.index === c.index))];
      throw new PartialFailure(message, toJson({ instances: kept.sort((a, b) => a.index - b.index) }));
    };
    for (let index = 0; index < Math.max(spec.replicas, current.length); index++) {
      const existing = current.find((c) => c.index === index);
      if (index >= spec.replicas) {
        if (existing) await this.stopInstance(ctx, address, driver, existing, name, grace, 'scaled down');
        continue;
      }
      const ports = await this.portsFor(ctx, spec, existing?.ports ?? adoptable.find((h) => h.index === index)?.ports ?? {});
      const hash = instanceSpecHash(spec, ports, dependencyValues(ctx, spec));
      if (existing && !existing.gone && existing.specHash === hash && (await driver.inspect(handleOf(existing, name))).state === 'running') {
        result.push(existing);
        continue;
      }
      // An instance started by an interrupted run: adopt it if it matches, otherwise stop it.
      for (const h of adoptable.filter((a) => a.index === index && a.id !== existing?.id)) {
        const status = await driver.inspect(h);
        if (status.state === 'running' && h.specHash === hash && !result.some((r) => r.index === index)) {
          ctx.progress(address, `adopted instance ${index} (pid ${h.pid})`);
          result.push({ ...outputOf(h, index), ports });
        } else {
          if (status.state === 'running') await driver.stop(h, grace);
          await driver.forget(h);
        }
      }
      if (result.some((r) => r.index === index)) {
        if (existing) await this.stopInstance(ctx, address, driver, existing, name, grace, 'replaced by adopted instance');
        continue;
      }
      if (existing) await this.stopInstance(ctx, address, driver, existing, name, grace, 'updating');
      let started: InstanceOutput;
      try {
        started = await this.startInstance(ctx, address, driver, name, spec, index, ports, hash);
      } catch (e) {
        return fail((e as Error).message);
      }
      result.push(started);
      ctx.progress(address, `instance ${index + 1}/${spec.replicas} ready (pid ${started.pid})`);
    }
    // Ports of scaled-down instances go back to the pool.
    for (const c of current) if (c.index >= spec.replicas) for (const p of Object.values(c.ports)) ctx.ports.release(p);
    return toJson({ instances: result.sort((a, b) => a.index - b.index) });
  }

  private async portsFor(ctx: KindContext, spec: ServiceSpec, previous: Record<string, number>): Promise<Record<string, number>> {
    const ports: Record<string, number> = {};
    for (const [pn, pv] of Object.entries(spec.ports).sort(([a], [b]) => a.localeCompare(b))) {
      if (typeof pv === 'number') { ports[pn] = pv; ctx.ports.reserve(pv); continue; }
      const prev = previous[pn];
      ports[pn] = prev !== undefined && prev >= 1 ? prev : await ctx.ports.allocate();
      ctx.ports.reserve(ports[pn] as number);
    }
    return ports;
  }

  /**
   * Starts instance `index` on the given ports and waits until it is ready; throws (leaving
   * nothing running) when it does not become ready. The daemon's supervisor restarts through this.
   */
  async startOne(ctx: KindContext, address: Address, spec: ServiceSpec, index: number, ports: Record<string, number>): Promise<InstanceOutput> {
    const name = address.slice('service.'.length);
    const hash = instanceSpecHash(spec, ports, dependencyValues(ctx, spec));
    return this.startInstance(ctx, address, this.driver(ctx, spec), name, spec, index, ports, hash);
  }

  private async startInstance(ctx: KindContext, address: Address, driver: RuntimeDriver, name: string, spec: ServiceSpec, index: number, ports: Record<string, number>, hash: string): Promise<InstanceOutput> {
    const resolved = resolveInstance(ctx, name, spec, ports, baseEnv(name, index, ctx.stack, spec.user));
    if (spec.user) chownVolumesFor(ctx, spec);
    const id = `${name}-${index}-${randomBytes(3).toString('hex')}`;
    ctx.progress(address, `starting instance ${index + 1}/${spec.replicas}`);
    const handle = await driver.start({
      id, stack: ctx.stack, service: name, index, ...resolved, user: spec.user, ports,
      memoryBytes: spec.resources?.memory ? ByteSize.parse(spec.resources.memory).toBytes() : null,
      cpuCores: spec.resources?.cpu ?? null, specHash: hash,
    });
    const out = outputOf(handle, index);
    const ok = await this.waitReady(ctx, address, driver, name, spec, out, resolved.env);
    if (ok !== true) {
      await driver.stop(handle, Duration.parse(spec.stop_grace));
      await driver.forget(handle);
      throw new Error(`service ${name} instance ${index} ${ok}; its log: ${handle.logFile}`);
    }
    return out;
  }

  /** true, or the reason the instance did not become ready. */
  private async waitReady(ctx: KindContext, address: Address, driver: RuntimeDriver, name: string, spec: ServiceSpec, inst: InstanceOutput, env: Record<string, string>): Promise<true | string> {
    const handle = handleOf(inst, name);
    const exitReason = async (): Promise<string | undefined> => {
      const s = await driver.inspect(handle);
      if (s.state === 'running') return undefined;
      return s.state === 'exited' ? `exited${s.exitCode !== null ? ` with code ${s.exitCode}` : ''}${s.signal ? ` (${s.signal})` : ''}` : 'vanished';
    };
    if (!spec.health) {
      await ctx.sleep(SETTLE.toMilliseconds());
      return (await exitReason()) ?? true;
    }
    const target = probeTarget(spec.health, inst.ports, resolveCwd(ctx, spec), env);
    if (!target) return 'has a health check without a port to probe';
    const interval = Duration.parse(spec.health.interval);
    const timeout = Duration.parse(spec.health.timeout);
    const deadline = Date.now() + Duration.parse(spec.deploy.progress_deadline).toMilliseconds();
    let successes = 0;
    let last = 'no probe yet';
    // Probe quickly at first, so a fast service is ready in milliseconds, then at the interval.
    let wait = Math.min(100, interval.toMilliseconds());
    while (Date.now() < deadline) {
      const gone = await exitReason();
      if (gone) return gone;
      const r = await probe(target, timeout);
      last = r.detail;
      successes = r.ok ? successes + 1 : 0;
      if (successes >= spec.health.healthy) return true;
      await ctx.sleep(r.ok ? interval.toMilliseconds() : wait);
      wait = Math.min(wait * 2, interval.toMilliseconds());
    }
    ctx.progress(address, `instance ${inst.index} not healthy: ${last}`);
    return `did not become healthy within ${spec.deploy.progress_deadline} (last probe: ${last})`;
  }

  private async stopInstance(ctx: KindContext, address: Address, driver: RuntimeDriver, inst: InstanceOutput, name: string, grace: Duration, why: string): Promise<void> {
    ctx.progress(address, `stopping instance ${inst.index} (${why})`);
    const h = handleOf(inst, name);
    await driver.stop(h, grace);
    await driver.forget(h);
  }

  async read(ctx: KindContext, address: Address, raw: JsonObject, outputs: JsonObject): Promise<ReadResult> {
    const spec = asServiceSpec(raw);
    const name = address.slice('service.'.length);
    const driver = this.driver(ctx, spec);
    const drift: string[] = [];
    const instances: InstanceOutput[] = [];
    for (const inst of asServiceOutputs(outputs).instances) {
      const s = await driver.inspect(handleOf(inst, name));
      if (s.state === 'running') {
        const { gone: _gone, ...rest } = inst;
        instances.push(rest);
        continue;
      }
      const why = s.state === 'exited' ? `exited${s.exitCode !== null ? ` with code ${s.exitCode}` : ''}${s.signal ? ` (${s.signal})` : ''}` : 'is gone';
      drift.push(`instance ${inst.index} (pid ${inst.pid}) ${why}`);
      instances.push({ ...inst, gone: why });
    }
    return { exists: true, spec: raw, outputs: toJson({ instances }), drift };
  }

  async delete(ctx: KindContext, address: Address, raw: JsonObject, outputs: JsonObject): Promise<void> {
    const spec = asServiceSpec(raw);
    const name = address.slice('service.'.length);
    const driver = this.driver(ctx, spec);
    const grace = Duration.parse(spec.stop_grace);
    const known = asServiceOutputs(outputs).instances;
    const strays = (await driver.list(ctx.stack)).filter((h) => h.service === name && !known.some((k) => k.id === h.id));
    await Promise.all([
      ...known.map((i) => this.stopInstance(ctx, address, driver, i, name, grace, 'deleting')),
      ...strays.map(async (h) => { await driver.stop(h, grace); await driver.forget(h); }),
    ]);
    for (const i of known) for (const p of Object.values(i.ports)) ctx.ports.release(p);
  }
}

/** Volumes a service uses, without a declared owner, are handed to the service's user. */
function chownVolumesFor(ctx: KindContext, spec: ServiceSpec): void {
  if (!spec.user || process.getuid?.() !== 0) return;
  const user = ensureUser(spec.user);
  for (const t of [spec.command ?? '', spec.cwd, ...(spec.args ?? []), ...Object.values(spec.env)]) {
    for (const m of findReferences(t)) {
      if (m.ref?.kind !== 'volume') continue;
      const out = ctx.outputsOf(address('volume', m.ref.name));
      if (!out || out.ownerDeclared === true || typeof out.path !== 'string') continue;
      if (out.uid !== user.uid) chownSync(out.path, user.uid, user.gid);
    }
  }
}

function outputOf(h: InstanceHandle, index: number): InstanceOutput {
  return { index, id: h.id, pid: h.pid, pgid: h.pgid, startTicks: h.startTicks, startedAt: h.startedAt, specHash: h.specHash, logFile: h.logFile, limits: h.limits, ports: h.ports };
}

function resolveCwd(ctx: KindContext, spec: ServiceSpec): string {
  return spec.cwd.startsWith('/') ? spec.cwd : `${ctx.dir}/${spec.cwd}`;
}
