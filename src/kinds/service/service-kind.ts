/**
 * `service`: replicas of one command, run by a RuntimeDriver. Apply starts instances and waits for
 * them to be healthy; keeping them running afterwards is the daemon's job (supervision).
 *
 * Instances are adopted, never duplicated: before starting instance N, any live instance N the
 * driver still knows (say, from an apply that was killed half-way) is reused when it was started
 * from the same spec, or stopped when it was not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from '../../config/load.js';
import { rollout } from './rollout.js';
import { chmodSync, chownSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { copyWorkingTree } from '../../util/copy-tree.js';
import { findReferences } from '../../config/references.js';
import { address } from '../../model/resource.js';
import { ensureUser } from '../../runtime/process/os-user.js';
import { ByteSize } from '../../util/byte-size.js';
import { Duration } from '../../util/duration.js';
import type { Diagnostic } from '../../config/diagnostic.js';
import type { Address, JsonObject } from '../../model/resource.js';
import { InstanceExitedError, type InstanceHandle, type RuntimeDriver } from '../../runtime/runtime-driver.js';
import { noHandle } from '../../runtime/handles.js';
import { probe } from '../../observe/probe.js';
import { diffByFields } from '../../model/field-diff.js';
import { canBind } from './port-allocator.js';
import { ProcessDriver } from '../../runtime/process/process-driver.js';
import { isDockerError } from '../../runtime/docker/docker-client.js';
import { logLimitsOf } from '../../runtime/process/log-limits.js';
import {
  PartialFailure,
  type DiffResult,
  type KindContext,
  type KindContextBase,
  type ReadResult,
  type ResourceKind,
  type RunSetup,
  type RunShares,
} from '../resource-kind.js';
import { dependencyValues, instanceSpecHash, resolveInstance } from './instance-env.js';
import { probeTarget } from './probe-target.js';
import { PortAllocator, recordedPorts } from './port-allocator.js';
import { errorMessage } from '../../util/error-message.js';
import { addressProtocolOf, addressToJson, assignAddress } from './service-address.js';
import {
  backendNameOf,
  runsInContainer,
  type ServiceBackend,
  type ServiceBackendName,
  type ServiceReadResult,
  type ServiceSide,
} from './service-backend.js';
import { SwarmServiceBackend } from './swarm-backend.js';
import {
  instanceLabel,
  serviceOutputsShape,
  serviceSpecShape,
  type InstanceOutput,
  type ServiceOutputs,
  type ServiceSpec,
} from './service-spec.js';

const REPLACE_ON = ['runtime'] as const;
/** How long an instance without a health check must stay up to count as started. */
const SETTLE = Duration.milliseconds(300);

export function baseEnv(
  service: string,
  index: number,
  stack: string,
  user: string | null,
  runtime: ServiceSpec['runtime'] = 'process',
): Record<string, string> {
  const env: Record<string, string> = {
    GROUNDWORK_STACK: stack,
    GROUNDWORK_SERVICE: service,
    GROUNDWORK_INSTANCE: String(index),
  };
  // A container keeps its image's PATH and HOME; a process gets the host's.
  if (runsInContainer(runtime)) return env;
  env.PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  for (const k of ['LANG', 'LC_ALL', 'TZ']) if (process.env[k]) env[k] = process.env[k] as string;
  if (!user && process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

export function handleOf(i: InstanceOutput, service: string): InstanceHandle {
  return {
    id: i.id,
    service,
    index: i.index,
    handle: i.handle,
    startedAt: i.startedAt,
    specHash: i.specHash,
    logFile: i.logFile,
    limits: i.limits,
    ports: i.ports,
  };
}

/**
 * The `service` resource kind: what the engine, the deployer and the supervisor call. Each call
 * goes to the service's backend (local instances or a Swarm service), chosen from its spec.
 */
export class ServiceKind implements ResourceKind<ServiceSpec, ServiceOutputs> {
  readonly kind = 'service' as const;
  readonly shapes = { spec: serviceSpecShape, outputs: serviceOutputsShape };
  private readonly local = new LocalServiceBackend();
  private readonly backends: Record<ServiceBackendName, ServiceBackend> = {
    local: this.local,
    swarm: new SwarmServiceBackend(),
  };

  /** The backend that runs a service with this spec. */
  backendFor(spec: Pick<ServiceSpec, 'runtime'>): ServiceBackend {
    return this.backends[backendNameOf(spec)];
  }

  check(_address: Address, _spec: ServiceSpec): Diagnostic[] {
    return [];
  }

  /** Field changes, plus `instances` when fewer (or more) instances run than `replicas` asks for. */
  diff(old: ServiceSpec, next: ServiceSpec, oldOutputs: ServiceOutputs): DiffResult {
    const d: DiffResult = diffByFields(old, next, REPLACE_ON);
    const recorded = oldOutputs.instances;
    const live = recorded.filter((i) => !i.gone).length;
    if (live !== next.replicas && !d.changes.includes('replicas')) {
      d.changes.push('instances');
      const gone = recorded.length - live;
      d.details = [
        {
          path: 'instances',
          before: `${live} running${gone > 0 ? `, ${gone} gone` : ''}`,
          after: `${next.replicas ?? 1} running`,
        },
      ];
    }
    return d;
  }

  /**
   * The run's port pool: every port in state is taken, and before an apply so is every port of an
   * instance the drivers still run (left by an interrupted run, not yet in state).
   */
  async prepare(ctx: KindContextBase, setup: RunSetup): Promise<RunShares> {
    const ports = new PortAllocator(recordedPorts(setup.recorded), setup.portRange);
    if (setup.run !== 'apply') return { ports };
    const recordedRuntimes = new Set(
      setup.recorded.filter((r) => r.kind === 'service').map((r) => r.spec.runtime ?? 'process'),
    );
    for (const [runtime, driver] of Object.entries(ctx.drivers)) {
      let handles: InstanceHandle[];
      try {
        handles = await driver.list(ctx.stack);
      } catch (e) {
        // A stack of plain processes needs no Docker engine: a runtime nothing recorded runs on
        // and whose engine cannot be reached holds no ports we could see. A service that needs
        // it fails at create with the engine's own error and fix.
        if (isDockerError(e, 'unreachable') && !recordedRuntimes.has(runtime)) continue;
        throw e;
      }
      for (const h of handles) for (const p of Object.values(h.ports)) ports.reserve(p);
    }
    return { ports };
  }

  create(ctx: KindContext, address: Address, spec: ServiceSpec): Promise<ServiceOutputs> {
    return this.addressed(ctx, address, spec, null, () => this.backendFor(spec).create(ctx, address, spec));
  }

  update(ctx: KindContext, address: Address, old: ServiceSpec, spec: ServiceSpec, outputs: ServiceOutputs) {
    const changed = this.diff(old, spec, outputs).changes.filter((c) => c !== 'instances');
    return this.addressed(ctx, address, spec, outputs, () =>
      this.backendFor(spec).update(ctx, address, old, spec, outputs, changed),
    );
  }

  /**
   * Runs a backend step and records the service's stable address in what it returns (also in a
   * PartialFailure's outputs): kept from `prior`, assigned on first create. Only locally run
   * services get one; the data plane serves it (core/traffic.ts).
   */
  private async addressed(
    ctx: KindContext,
    address: Address,
    spec: ServiceSpec,
    prior: ServiceOutputs | null,
    step: () => Promise<ServiceOutputs>,
  ): Promise<ServiceOutputs> {
    if (!this.backendFor(spec).supervised) return step();
    const service = address.slice('service.'.length);
    const stable = await assignAddress(ctx.stack, service, spec, prior?.address ?? null, ctx.ports);
    const withAddress = (o: ServiceOutputs): ServiceOutputs => ({
      ...o,
      address: stable ? addressToJson(stable) : null,
    });
    try {
      const out = withAddress(await step());
      if (stable && ctx.traffic) {
        const protocols = Object.fromEntries(Object.keys(stable.ports).map((p) => [p, addressProtocolOf(spec, p)]));
        // The instances run whatever happens here; the daemon binds the address again after the run.
        const live = out.instances.filter((i) => !i.gone);
        await ctx.traffic
          .expose(service, stable, protocols, live)
          .catch((e: unknown) =>
            ctx.logger.log('warn', `could not serve the address of ${service} yet`, { error: errorMessage(e) }),
          );
      }
      return out;
    } catch (err) {
      if (err instanceof PartialFailure)
        throw new PartialFailure(err.message, withAddress(serviceOutputsShape.read(err.outputs, address, 'write')));
      throw err;
    }
  }

  /** The spec is not observed (a backend sees instances), so it reads back as recorded. */
  async read(
    ctx: KindContext,
    address: Address,
    spec: ServiceSpec,
    outputs: ServiceOutputs,
  ): Promise<ReadResult<ServiceSpec, ServiceOutputs>> {
    const r = await this.backendFor(spec).read(ctx, address, spec, outputs);
    return { exists: r.exists, spec, outputs: r.outputs, drift: r.drift };
  }

  delete(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<void> {
    return this.backendFor(spec).delete(ctx, address, spec, outputs);
  }

  /** See ServiceBackend.stop (`groundwork down`). */
  stop(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<ServiceOutputs> {
    return this.backendFor(spec).stop(ctx, address, spec, outputs);
  }

  /** See ServiceBackend.deploy; the backend is `to`'s. */
  deploy(
    ctx: KindContext,
    address: Address,
    from: ServiceSide,
    current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs> {
    return this.addressed(ctx, address, to.spec, outputs, () =>
      this.backendFor(to.spec).deploy(ctx, address, from, current, to, outputs),
    );
  }

  /** See ServiceBackend.rollback; the backend is `to`'s. */
  rollback(
    ctx: KindContext,
    address: Address,
    from: ServiceSide,
    current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs> {
    return this.addressed(ctx, address, to.spec, outputs, () =>
      this.backendFor(to.spec).rollback(ctx, address, from, current, to, outputs),
    );
  }

  /** The directory code runs from: the active release's, or the stack directory. */
  codeDirOf(ctx: KindContext, outputs: ServiceOutputs | undefined): { dir: string; release: number | null } {
    return codeDirOf(ctx, outputs);
  }

  /** One instance of a locally run service (the supervisor's restarts); see LocalServiceBackend.startOne. */
  startOne(
    ctx: KindContext,
    address: Address,
    spec: ServiceSpec,
    index: number,
    ports: Record<string, number>,
    codeDir: string,
    release: number | null,
  ): Promise<InstanceOutput> {
    return this.local.startOne(ctx, address, spec, index, ports, codeDir, release);
  }
}

/** The directory code runs from: the active release's, or the stack directory. */
function codeDirOf(ctx: KindContext, outputs: ServiceOutputs | undefined): { dir: string; release: number | null } {
  const r = outputs?.release ?? null;
  return r ? { dir: r.dir, release: r.seq } : { dir: ctx.dir, release: null };
}

/**
 * The `local` backend: instances on this machine through the RuntimeDriver of the service's
 * runtime (process or docker), rolled by rollout.ts and kept running by the daemon's
 * supervisor.
 */
export class LocalServiceBackend implements ServiceBackend {
  readonly name = 'local' as const;
  readonly supervised = true;

  private driver(ctx: KindContext, spec: ServiceSpec): RuntimeDriver {
    const d = ctx.drivers[spec.runtime];
    if (!d) throw new Error(`runtime \`${spec.runtime}\` is not available here; use runtime: process`);
    return d;
  }

  async create(ctx: KindContext, address: Address, spec: ServiceSpec): Promise<ServiceOutputs> {
    const release = await recordConfigRelease(ctx, address, spec, ctx.dir);
    return this.converge(ctx, address, undefined, spec, [], { dir: ctx.dir, release });
  }

  async update(
    ctx: KindContext,
    address: Address,
    old: ServiceSpec,
    spec: ServiceSpec,
    outputs: ServiceOutputs,
    changed: readonly string[],
  ): Promise<ServiceOutputs> {
    const outs = outputs;
    const code = codeDirOf(ctx, outputs);
    if (changed.length === 0 || changed.every((c) => c === 'replicas')) {
      // Same config (instances missing, or only the count changed): converge in place, no rollout.
      return this.converge(ctx, address, old, spec, outs.instances, code);
    }
    const release = await recordConfigRelease(ctx, address, spec, code.dir);
    return this.deploy(
      ctx,
      address,
      { spec: old, codeDir: code.dir, release: code.release },
      outs.instances,
      { spec, codeDir: code.dir, release },
      outputs,
    );
  }

  /**
   * Rolls the service from what runs to `to` by its strategy. Returns the new outputs; throws a
   * PartialFailure (with the outputs of what runs, usually the previous release) when it fails.
   */
  async deploy(
    ctx: KindContext,
    address: Address,
    from: ServiceSide,
    current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs> {
    const name = address.slice('service.'.length);
    const driver = this.driver(ctx, to.spec);
    const prior = outputs;
    // A standby set from an earlier blue-green switch is not needed once we roll forward.
    if (prior.standby)
      for (const i of prior.standby.instances)
        await this.stopInstance(
          ctx,
          address,
          driver,
          i,
          name,
          Duration.parse(from.spec.stop_grace),
          'standby no longer needed',
        ).catch(() => undefined);
    const result = await rollout(
      {
        service: name,
        traffic: ctx.traffic,
        start: (side, index, ports) => this.startOne(ctx, address, side.spec, index, ports, side.codeDir, side.release),
        stop: async (inst, spec) => {
          const h = handleOf(inst, name);
          await this.driver(ctx, spec).stop(h, Duration.parse(spec.stop_grace));
          await this.driver(ctx, spec).forget(h);
        },
        isRunning: async (inst) => (await driver.inspect(handleOf(inst, name))).state === 'running',
        newPorts: (spec) => this.portsFor(ctx, spec, {}),
        releasePorts: (inst) => {
          for (const p of Object.values(inst.ports))
            if (!Object.values(to.spec.ports).includes(p)) ctx.ports.release(p);
        },
        sleep: (ms) => ctx.sleep(ms),
        progress: (m) => ctx.progress(address, m),
      },
      { ...from, keepOld: from.codeDir === ctx.dir },
      current,
      to,
    );
    const standby = result.standby.length
      ? {
          release: from.release,
          until: new Date(
            ctx.clock.now().getTime() + Duration.parse(to.spec.deploy.blue_green.keep_old_for).toMilliseconds(),
          ).toISOString(),
          instances: result.standby,
        }
      : null;
    if (result.ok) {
      await markRelease(ctx, name, to.release, 'active', null, from.release);
      return {
        instances: result.instances,
        release: to.release === null ? null : { seq: to.release, dir: to.codeDir },
        standby,
      };
    }
    await markRelease(ctx, name, to.release, result.rolledBack ? 'rolled-back' : 'failed', result.reason ?? null, null);
    const stayed = result.rolledBack ? from : to;
    const outs = {
      instances: result.instances,
      release: stayed.release === null ? (prior.release ?? null) : { seq: stayed.release, dir: stayed.codeDir },
      standby: null,
    };
    throw new PartialFailure(
      `${result.rolledBack ? 'rolled back' : 'rollout failed'}: ${result.reason ?? 'unknown'}`,
      outs,
    );
  }

  /**
   * Brings the instances to `spec` in place, one index at a time, keeping instances already
   * running from the same spec (used for create and for repairs). Ports stay with their index.
   */
  private async converge(
    ctx: KindContext,
    address: Address,
    old: ServiceSpec | undefined,
    spec: ServiceSpec,
    current: InstanceOutput[],
    code: { dir: string; release: number | null },
  ): Promise<ServiceOutputs> {
    const name = address.slice('service.'.length);
    const driver = this.driver(ctx, spec);
    const adoptable = (await driver.list(ctx.stack)).filter((h) => h.service === name);
    const result: InstanceOutput[] = [];
    const grace = Duration.parse(old?.stop_grace ?? spec.stop_grace);
    const releaseOut = code.release === null ? null : { seq: code.release, dir: code.dir };
    const fail = async (message: string): Promise<never> => {
      // Keep what exists in state, so nothing is orphaned.
      const kept = [...result, ...current.filter((c) => !result.some((r) => r.index === c.index))];
      if (kept.length === 0 && old === undefined) throw new Error(message);
      throw new PartialFailure(message, { instances: kept.sort((a, b) => a.index - b.index), release: releaseOut });
    };
    for (let index = 0; index < Math.max(spec.replicas, current.length); index++) {
      const existing = current.find((c) => c.index === index);
      if (index >= spec.replicas) {
        if (existing) await this.stopInstance(ctx, address, driver, existing, name, grace, 'scaled down');
        continue;
      }
      let ports: Record<string, number>;
      try {
        ports = await this.portsFor(
          ctx,
          spec,
          existing?.ports ?? adoptable.find((h) => h.index === index)?.ports ?? {},
        );
      } catch (e) {
        return fail((e as Error).message);
      }
      const hash = instanceSpecHash(spec, ports, dependencyValues(ctx, spec), code.dir);
      if (
        existing &&
        !existing.gone &&
        existing.specHash === hash &&
        (await driver.inspect(handleOf(existing, name))).state === 'running'
      ) {
        result.push(existing);
        continue;
      }
      // An instance started by an interrupted run: adopt it if it matches, otherwise stop it.
      for (const h of adoptable.filter((a) => a.index === index && a.id !== existing?.id)) {
        const status = await driver.inspect(h);
        if (status.state === 'running' && h.specHash === hash && !result.some((r) => r.index === index)) {
          const adopted: InstanceOutput = { ...outputOf(h, index), ports, codeDir: code.dir, release: code.release };
          // Started by the interrupted run, maybe never checked: it must pass readiness like a new one.
          const resolved = resolveInstance(
            ctx,
            name,
            spec,
            ports,
            baseEnv(name, index, ctx.stack, spec.user, spec.runtime),
            code.dir,
          );
          const ready = await this.waitReady(ctx, address, driver, name, spec, adopted, resolved.env, resolved.cwd);
          if (ready === true) {
            ctx.progress(address, `adopted instance ${index} (${driver.describe(h).label})`);
            result.push(adopted);
            continue;
          }
          ctx.progress(address, `instance ${index} left by an interrupted run is not ready (${ready}); replacing it`);
          await driver.stop(h, grace);
          await driver.forget(h);
        } else {
          if (status.state === 'running') await driver.stop(h, grace);
          await driver.forget(h);
        }
      }
      if (result.some((r) => r.index === index)) {
        if (existing)
          await this.stopInstance(ctx, address, driver, existing, name, grace, 'replaced by adopted instance');
        continue;
      }
      if (existing)
        await this.stopInstance(
          ctx,
          address,
          driver,
          existing,
          name,
          grace,
          existing.gone ? 'restarting a gone instance' : 'updating',
        );
      let started: InstanceOutput;
      try {
        started = await this.startInstance(
          ctx,
          address,
          driver,
          name,
          spec,
          index,
          ports,
          hash,
          code.dir,
          code.release,
        );
      } catch (e) {
        // Recorded as gone (not forgotten): the daemon's supervisor restarts it by its policy,
        // with backoff, and a service that always exits ends in a crash loop rather than nowhere.
        const reason = (e as Error).message;
        if (spec.restart !== 'never') {
          result.push({
            ...placeholder(index, ports, hash, code, driver, name, reason, ctx),
            exitCode: e instanceof InstanceExitedError ? e.exitCode : null,
          });
          for (let rest = index + 1; rest < spec.replicas; rest++) {
            if (result.some((r) => r.index === rest) || current.some((c) => c.index === rest)) continue;
            try {
              const p = await this.portsFor(ctx, spec, {});
              result.push(
                placeholder(
                  rest,
                  p,
                  instanceSpecHash(spec, p, dependencyValues(ctx, spec), code.dir),
                  code,
                  driver,
                  name,
                  'not started: an earlier instance failed',
                  ctx,
                ),
              );
            } catch {
              break;
            }
          }
          throw new PartialFailure(reason, {
            instances: [...result, ...current.filter((c) => !result.some((r) => r.index === c.index))].sort(
              (a, b) => a.index - b.index,
            ),
            release: releaseOut,
          });
        }
        return fail(reason);
      }
      result.push(started);
      ctx.progress(address, `instance ${index + 1}/${spec.replicas} ready (${instanceLabel(started)})`);
    }
    // Ports of scaled-down instances go back to the pool.
    for (const c of current) if (c.index >= spec.replicas) for (const p of Object.values(c.ports)) ctx.ports.release(p);
    const instances = result.sort((a, b) => a.index - b.index);
    ctx.traffic?.route(
      name,
      instances.map((instance) => ({ instance, weight: 100 })),
    );
    await markRelease(ctx, name, code.release, 'active', null, null);
    return { instances, release: releaseOut };
  }

  private async portsFor(
    ctx: KindContext,
    spec: ServiceSpec,
    previous: Record<string, number>,
  ): Promise<Record<string, number>> {
    const ports: Record<string, number> = {};
    for (const [pn, pv] of Object.entries(spec.ports).sort(([a], [b]) => a.localeCompare(b))) {
      if (typeof pv === 'number') {
        ports[pn] = pv;
        ctx.ports.reserve(pv);
        continue;
      }
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
  async startOne(
    ctx: KindContext,
    address: Address,
    spec: ServiceSpec,
    index: number,
    ports: Record<string, number>,
    codeDir: string,
    release: number | null,
  ): Promise<InstanceOutput> {
    const name = address.slice('service.'.length);
    const hash = instanceSpecHash(spec, ports, dependencyValues(ctx, spec), codeDir);
    return this.startInstance(ctx, address, this.driver(ctx, spec), name, spec, index, ports, hash, codeDir, release);
  }

  private async startInstance(
    ctx: KindContext,
    address: Address,
    driver: RuntimeDriver,
    name: string,
    spec: ServiceSpec,
    index: number,
    ports: Record<string, number>,
    hash: string,
    codeDir: string,
    release: number | null,
  ): Promise<InstanceOutput> {
    const resolved = resolveInstance(
      ctx,
      name,
      spec,
      ports,
      baseEnv(name, index, ctx.stack, spec.user, spec.runtime),
      codeDir,
    );
    if (spec.user && !runsInContainer(spec.runtime)) chownVolumesFor(ctx, spec);
    // A port another program holds would let that program answer our health checks.
    for (const [pn, p] of Object.entries(ports)) {
      if (!(await canBind(p)))
        throw new Error(
          `service ${name} instance ${index}: port ${pn} (${p}) is in use by another program; free it${typeof spec.ports[pn] === 'number' ? ' or choose another port' : ''}`,
        );
    }
    const id = `${name}-${index}-${randomBytes(3).toString('hex')}`;
    ctx.progress(address, `starting instance ${index + 1}/${spec.replicas}`);
    const container = runsInContainer(spec.runtime)
      ? {
          image: await this.imageFor(ctx, address, driver, spec, codeDir),
          mounts: Object.entries(spec.mounts).map(([target, src]) => ({
            target,
            source: src.startsWith('/') ? src : volumeHostPath(ctx, src),
          })),
          labels: { 'groundwork.release': String(release ?? '') },
        }
      : {};
    const { secrets: redact, ...run } = resolved;
    const handle = await driver.start({
      id,
      stack: ctx.stack,
      service: name,
      index,
      ...run,
      ...(redact.length ? { redact } : {}),
      user: spec.user,
      ports,
      memoryBytes: spec.resources?.memory ? ByteSize.parse(spec.resources.memory).toBytes() : null,
      cpuCores: spec.resources?.cpu ?? null,
      specHash: hash,
      ...(spec.logs ? { logs: logLimitsOf(spec.logs) } : {}),
      ...container,
    });
    const out: InstanceOutput = { ...outputOf(handle, index), codeDir, release };
    const ok = await this.waitReady(ctx, address, driver, name, spec, out, resolved.env, resolved.cwd);
    if (ok !== true) {
      const st = await driver.stop(handle, Duration.parse(spec.stop_grace));
      await driver.forget(handle);
      const exited = /^exited|^vanished/.test(ok) && st.state === 'exited' ? st.exitCode : undefined;
      const message = `service ${name} instance ${index} ${ok}; its log: ${handle.logFile}`;
      throw exited === undefined ? new Error(message) : new InstanceExitedError(message, exited);
    }
    return out;
  }

  /** The image to run: `image:`, or one built from `dockerfile:` in the code directory (cached by content). */
  private async imageFor(
    ctx: KindContext,
    address: Address,
    driver: RuntimeDriver,
    spec: ServiceSpec,
    codeDir: string,
  ): Promise<string> {
    if (spec.image && !spec.dockerfile) return spec.image;
    const builder = driver as RuntimeDriver & {
      buildImage?: (req: {
        contextDir: string;
        dockerfile?: string;
        tag: string;
        onProgress?: (line: string) => void;
      }) => Promise<{ tag: string }>;
    };
    if (!spec.dockerfile || !builder.buildImage)
      throw new Error(`service ${address.slice(8)}: runtime ${spec.runtime} cannot build a Dockerfile; set \`image:\``);
    const tag = `groundwork/${ctx.stack}-${address.slice(8)}:${createHash('sha256').update(`${codeDir}\0${spec.dockerfile}`).digest('hex').slice(0, 12)}`;
    const key = `${tag}`;
    if (!this.builtImages.has(key)) {
      ctx.progress(address, `building image ${tag} from ${spec.dockerfile}`);
      await builder.buildImage({
        contextDir: codeDir,
        dockerfile: spec.dockerfile,
        tag,
        onProgress: (line) => ctx.progress(address, line),
      });
      this.builtImages.add(key);
    }
    return tag;
  }

  private readonly builtImages = new Set<string>();

  /** true, or the reason the instance did not become ready. */
  private async waitReady(
    ctx: KindContext,
    address: Address,
    driver: RuntimeDriver,
    name: string,
    spec: ServiceSpec,
    inst: InstanceOutput,
    env: Record<string, string>,
    cwd: string,
  ): Promise<true | string> {
    const handle = handleOf(inst, name);
    const exitReason = async (): Promise<string | undefined> => {
      const s = await driver.inspect(handle);
      if (s.state === 'running') return undefined;
      return s.state === 'exited'
        ? `exited${s.exitCode !== null ? ` with code ${s.exitCode}` : ''}${s.signal ? ` (${s.signal})` : ''}`
        : 'vanished';
    };
    if (!spec.health) {
      await ctx.sleep(SETTLE.toMilliseconds());
      return (await exitReason()) ?? true;
    }
    const target = probeTarget(spec.health, inst.ports, cwd, env);
    if (!target) return 'has a health check without a port to probe';
    const interval = Duration.parse(spec.health.interval);
    const timeout = Duration.parse(spec.health.timeout);
    const deadline = ctx.clock.now().getTime() + Duration.parse(spec.deploy.progress_deadline).toMilliseconds();
    let successes = 0;
    let failures = 0;
    let last = 'no probe yet';
    const started = Date.parse(inst.startedAt);
    // Failures count once the start period and one interval have passed: before that a service is
    // still starting. Then `unhealthy` failures in a row fail the instance (and the rollout) at once
    // instead of waiting for the progress deadline.
    const countFrom =
      started + Math.max(Duration.parse(spec.health.start_period).toMilliseconds(), interval.toMilliseconds());
    // Probe quickly at first, so a fast service is ready in milliseconds, then at the interval.
    let wait = Math.min(100, interval.toMilliseconds());
    while (ctx.clock.now().getTime() < deadline) {
      const gone = await exitReason();
      if (gone) return gone;
      const at = ctx.clock.now().getTime();
      const r = await probe(target, timeout);
      last = r.detail;
      successes = r.ok ? successes + 1 : 0;
      if (!r.ok && at >= countFrom) failures++;
      if (r.ok) failures = 0;
      if (successes >= spec.health.healthy) return true;
      if (failures >= spec.health.unhealthy) {
        ctx.progress(address, `instance ${inst.index} failed ${failures} health checks in a row: ${last}`);
        return `failed ${failures} health checks in a row (last: ${last})`;
      }
      await ctx.sleep(r.ok || at >= countFrom ? interval.toMilliseconds() : wait);
      wait = Math.min(wait * 2, interval.toMilliseconds());
    }
    ctx.progress(address, `instance ${inst.index} not healthy: ${last}`);
    return `did not become healthy within ${spec.deploy.progress_deadline} (last probe: ${last})`;
  }

  private async stopInstance(
    ctx: KindContext,
    address: Address,
    driver: RuntimeDriver,
    inst: InstanceOutput,
    name: string,
    grace: Duration,
    why: string,
  ): Promise<void> {
    ctx.progress(address, `stopping instance ${inst.index} (${why})`);
    const h = handleOf(inst, name);
    await driver.stop(h, grace);
    await driver.forget(h);
  }

  /** A rollback is a rollout to the earlier release. */
  rollback(
    ctx: KindContext,
    address: Address,
    from: ServiceSide,
    current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs> {
    return this.deploy(ctx, address, from, current, to, outputs);
  }

  async read(
    ctx: KindContext,
    address: Address,
    spec: ServiceSpec,
    outputs: ServiceOutputs,
  ): Promise<ServiceReadResult> {
    const name = address.slice('service.'.length);
    const driver = this.driver(ctx, spec);
    const drift: string[] = [];
    const instances: InstanceOutput[] = [];
    for (const inst of outputs.instances) {
      const s = await driver.inspect(handleOf(inst, name));
      if (s.state === 'running') {
        const { gone: _gone, ...rest } = inst;
        instances.push(rest);
        continue;
      }
      const why =
        s.state === 'exited'
          ? `exited${s.exitCode !== null ? ` with code ${s.exitCode}` : ''}${s.signal ? ` (${s.signal})` : ''}`
          : 'is gone';
      drift.push(`instance ${inst.index} (${instanceLabel(inst)}) ${why}`);
      instances.push({ ...inst, gone: why });
    }
    return { exists: true, outputs: { ...outputs, instances }, drift };
  }

  async delete(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<void> {
    const name = address.slice('service.'.length);
    const driver = this.driver(ctx, spec);
    const grace = Duration.parse(spec.stop_grace);
    const known = [...outputs.instances, ...(outputs.standby?.instances ?? [])];
    const strays = (await driver.list(ctx.stack)).filter(
      (h) => h.service === name && !known.some((k) => k.id === h.id),
    );
    await Promise.all([
      ...known.map((i) => this.stopInstance(ctx, address, driver, i, name, grace, 'deleting')),
      ...strays.map(async (h) => {
        await driver.stop(h, grace);
        await driver.forget(h);
      }),
    ]);
    for (const i of known) for (const p of Object.values(i.ports)) ctx.ports.release(p);
  }

  /** Stops every instance (and the standby set); keeps the release and the stable address. */
  async stop(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<ServiceOutputs> {
    const service = address.slice('service.'.length);
    const outs = outputs;
    const left: InstanceOutput[] = [];
    const failures: string[] = [];
    for (const inst of [...outs.instances, ...(outs.standby?.instances ?? [])]) {
      ctx.progress(address, `stopping instance ${inst.index} (${instanceLabel(inst)})`);
      try {
        const driver = this.driver(ctx, spec);
        const h = handleOf(inst, service);
        await driver.stop(h, Duration.parse(spec.stop_grace));
        await driver.forget(h);
      } catch (e) {
        left.push(inst);
        failures.push(`${service}/${inst.index}: ${errorMessage(e)}`);
      }
    }
    const next = { ...outs, instances: left, standby: null };
    if (failures.length) throw new PartialFailure(failures.join('; '), next);
    return next;
  }
}

/** An instance that is not running, recorded so the supervisor starts it later. */
function placeholder(
  index: number,
  ports: Record<string, number>,
  specHash: string,
  code: { dir: string; release: number | null },
  driver: RuntimeDriver,
  name: string,
  gone: string,
  ctx: KindContext,
): InstanceOutput {
  const logFile = driver instanceof ProcessDriver ? driver.logFileFor(name, index) : '';
  return {
    index,
    id: `${name}-${index}-none`,
    handle: noHandle(driver.name),
    startedAt: ctx.clock.now().toISOString(),
    specHash,
    logFile,
    limits: '',
    ports,
    codeDir: code.dir,
    release: code.release,
    gone,
  };
}

function volumeHostPath(ctx: KindContext, volume: string): string {
  const p = ctx.outputsOf(address('volume', volume))?.path;
  if (typeof p !== 'string') throw new Error(`volume \`${volume}\` has not been created`);
  return p;
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
  return {
    index,
    id: h.id,
    handle: h.handle,
    startedAt: h.startedAt,
    specHash: h.specHash,
    logFile: h.logFile,
    limits: h.limits,
    ports: h.ports,
  };
}

/** Records a `config` release (config changed by apply; code from `codeDir`); null without a release log. */
async function recordConfigRelease(
  ctx: KindContext,
  address: Address,
  spec: ServiceSpec,
  codeDir: string,
): Promise<number | null> {
  if (!ctx.releases) return null;
  const service = address.slice('service.'.length);
  const snapshot: JsonObject = spec;
  const seq = await ctx.releases.createRelease({
    service,
    hash: createHash('sha256')
      .update(canonicalJson({ codeDir, spec: snapshot }))
      .digest('hex'),
    status: 'deploying',
    kind: 'config',
    source: codeDir === ctx.dir ? 'stack directory' : `code of ${codeDir}`,
    spec: snapshot,
    dir: codeDir,
    buildLog: null,
    message: ctx.change?.message ?? '',
    author: ctx.change?.author ?? 'unknown',
    createdAt: ctx.clock.now().toISOString(),
    finishedAt: null,
    detail: null,
  });
  // The instances run from the stack directory, which will hold other code later: keep a copy of
  // what this release ran, so a rollback to it restores its code too (containers run images).
  if (codeDir === ctx.dir && spec.runtime === 'process') {
    const kept = configSnapshotDir(ctx.stateDir, service, seq);
    try {
      mkdirSync(kept, { recursive: true, mode: 0o700 });
      // releases/ and releases/SERVICE: a `user:` service reaches its code, nobody lists them.
      for (const parent of [path.dirname(kept), path.dirname(path.dirname(kept))]) chmodSync(parent, 0o711);
      copyWorkingTree(spec.source ? path.resolve(ctx.dir, spec.source) : ctx.dir, kept, [ctx.stateDir]);
      chmodSync(kept, statSync(ctx.dir).mode & 0o777);
    } catch (e) {
      ctx.logger.log('warn', `could not keep a copy of the code of ${service} v${seq}`, { error: errorMessage(e) });
      rmSync(kept, { recursive: true, force: true });
    }
  }
  return seq;
}

/** Records how the rollout of a release ended; an active release supersedes the one active before, atomically. */
async function markRelease(
  ctx: KindContext,
  service: string,
  seq: number | null,
  status: 'active' | 'failed' | 'rolled-back',
  detail: string | null,
  previous: number | null,
): Promise<void> {
  if (!ctx.releases || seq === null) return;
  void previous;
  await ctx.releases.settle(
    service,
    seq,
    { status, detail, finishedAt: ctx.clock.now().toISOString() },
    { supersedeActive: status === 'active' },
  );
}

/**
 * Where apply keeps a copy of the code a config release ran from the stack directory: the same
 * place a deploy builds its release, so both are restored the same way.
 */
export function configSnapshotDir(stateDir: string, service: string, seq: number): string {
  return path.join(stateDir, 'releases', service, `v${seq}`);
}
