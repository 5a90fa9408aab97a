/**
 * `runtime: swarm`: a whole Groundwork service is ONE replicated Swarm service, run through the
 * kind context's ClusterRuntime. Swarm places the tasks, restarts them (the cluster owns
 * restarts: tasks run on nodes where no Groundwork supervisor runs) and rolls updates out,
 * rolling back by itself when a new task fails; Groundwork maps the stack file onto the cluster
 * service spec, follows the rollout and records one instance per task slot.
 *
 * Ports. Tasks use the node's network stack (host networking; the routing mesh needs overlay
 * support this project cannot test), so two tasks on one node need different host ports, and
 * Swarm gives every task the same environment except for a few templates such as
 * `{{.Task.Slot}}` (1, 2, 3...). The scheme:
 *  - each `auto` port of the service gets a block of 100 host ports, `B00`-`B99`, taken from the
 *    same pool as process ports (GROUNDWORK_PORT_RANGE); the task in slot S listens on `B00 + S`
 *    (slot 1 of block 243 → 24301). `${port.NAME}` in env resolves, per task, to that port (a
 *    Swarm template: `243{{if lt (len .Task.Slot) 2}}0{{end}}{{.Task.Slot}}`), and every task
 *    also gets GROUNDWORK_PORT_<NAME> with it and GROUNDWORK_TASK_SLOT (GROUNDWORK_INSTANCE is the
 *    slot too: 1-based, where processes and containers count from 0). In `command` (run by
 *    /bin/sh -c) `${port.NAME}` becomes `${GROUNDWORK_PORT_<NAME>}`; exec-form `args` cannot
 *    carry a per-task port and are refused with the fix.
 *  - a block stays with the service across updates, so `${service.NAME.port.PORT}` (slot 1's port)
 *    in other services stays valid, and scaling within the block changes no task's port. Only a
 *    port another program took in the meantime moves a service to a new block.
 *  - a fixed port (`http: 8080`) is that port (the stack file already limits it to replicas: 1).
 *  - consequence, said plainly: on one node an old task and its successor would need the same
 *    port, so services with ports update `stop-first` (one slot at a time, parallelism
 *    `max_unavailable`, at least 1; the other replicas keep serving, a single replica has a gap
 *    while its successor starts). Services without ports update `start-first` (parallelism
 *    `max_surge`). Each new task must keep running for `deploy.monitor`; one that fails (exits, or
 *    its health check fails) makes Swarm roll the update back (`auto_rollback`, else it pauses).
 *  - `${service.NAME.port.PORT}` and the ports recorded for tasks are host ports on the task's
 *    node; 127.0.0.1 reaches them only from that node. On several nodes, use the node's address.
 *
 * Health: `health` (or `liveness` when there is no `health`) becomes the tasks' container health
 * check, run inside the task: `wget` for http (2xx passes; `status` ranges are not honoured),
 * `nc` for tcp, or the exec command. Swarm counts a task as running only once it is healthy, so
 * its update monitor sees a failing release and rolls it back; a task that turns unhealthy later
 * is replaced. `healthy` (consecutive successes) has no Swarm equivalent; `unhealthy` → retries.
 *
 * Code: the image is what runs. Release directories and `cwd` are not mounted (other nodes do not
 * share this machine's disk); `mounts:` are bind mounts whose sources must exist on every node.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { substitute } from '../../config/references.js';
import { address as addressOf, type Address, type JsonObject } from '../../model/resource.js';
import type {
  ClusterDeployResult,
  ClusterProgress,
  ClusterRuntime,
  ClusterServiceSpec,
  ClusterServiceStatus,
  ClusterTask,
} from '../../runtime/swarm/cluster-runtime.js';
import { clusterServiceName } from '../../runtime/swarm/cluster-runtime.js';
import { ByteSize } from '../../util/byte-size.js';
import { Duration } from '../../util/duration.js';
import { diffByFields } from '../../model/field-diff.js';
import { PartialFailure, type KindContext } from '../resource-kind.js';
import type { ServiceReadResult } from './service-backend.js';
import { dependencyValues, resolveInstance } from './instance-env.js';
import { canBind } from './port-allocator.js';
import { swarmHandle } from '../../runtime/swarm/swarm-handle.js';
import type { Static } from '@sinclair/typebox';
import {
  SwarmPortSchema,
  SwarmRevisionSchema,
  SwarmServiceOutputsSchema,
  type InstanceOutput,
  type ProbeSpec,
  type ServiceOutputs,
  type ServiceSpec,
} from './service-spec.js';

/** The Swarm template that every task expands to its own slot number (1, 2, ...). */
export const SLOT_TEMPLATE = '{{.Task.Slot}}';
/** How long each new task is watched for failure, when the spec predates `deploy.monitor`. */
export const DEFAULT_MONITOR = Duration.seconds(5);
const BLOCK = 100;
const MAX_BLOCK_PREFIX = Math.floor(65_535 / BLOCK) - 1;

/** Where a named port lives: `base + slot` for `auto`, or one fixed port. */
export type SwarmPort = Static<typeof SwarmPortSchema>;

/** One deployed revision of the Swarm service, as far as Groundwork needs to know it. */
export type SwarmRevision = Static<typeof SwarmRevisionSchema>;

/** Recorded under `swarm` in the service's outputs, beside `instances` (one per slot). */
export type SwarmServiceOutputs = Static<typeof SwarmServiceOutputsSchema>;

/** A task as recorded in state: an instance (index = slot, id = task id) plus where it runs. */
export type TaskInstanceOutput = InstanceOutput & { node: string; taskState: string };

/** The deploy side the deployer hands over (structurally rollout.ts's RolloutSide). */
export interface SwarmSide {
  spec: ServiceSpec;
  codeDir?: string;
  release: number | null;
}

// ---------------------------------------------------------------- resource kind entry points

/** `create`: deploys the service; converged → outputs. Nothing running at the end → removed again, and throws. */
export async function swarmCreate(ctx: KindContext, address: Address, spec: ServiceSpec): Promise<ServiceOutputs> {
  const release = await recordConfigRelease(ctx, address, spec);
  return deployTo(ctx, address, { spec, release, codeDir: ctx.dir }, undefined, { creating: true });
}

/**
 * `update`: same Swarm service, new spec. A change beyond `replicas` records a config release
 * (as for processes); Swarm then rolls the tasks (see the module comment for the order) and
 * rolls back by itself when a new task fails → PartialFailure `rolled back: ...` whose outputs
 * describe the previous spec, which runs again.
 */
export async function swarmUpdate(
  ctx: KindContext,
  address: Address,
  old: ServiceSpec,
  spec: ServiceSpec,
  outputs: ServiceOutputs,
): Promise<ServiceOutputs> {
  const prior = swarmOutputsOf(outputs);
  const changed = diffByFields(old, spec, []).changes.filter((c) => c !== 'replicas');
  const release = changed.length > 0 || !prior ? await recordConfigRelease(ctx, address, spec) : prior.release;
  return deployTo(ctx, address, { spec, release, codeDir: outputs.release?.dir ?? ctx.dir }, outputs, {
    creating: false,
  });
}

/**
 * ServiceKind.deploy for swarm (`groundwork deploy`, `groundwork rollback --to`): rolls the
 * service to `to` (a release the deployer recorded) through a Swarm update.
 */
export async function swarmDeploy(
  ctx: KindContext,
  address: Address,
  to: SwarmSide,
  outputs: ServiceOutputs,
): Promise<ServiceOutputs> {
  return deployTo(ctx, address, { spec: to.spec, release: to.release, codeDir: to.codeDir ?? ctx.dir }, outputs, {
    creating: false,
  });
}

/**
 * `groundwork rollback` for swarm: when `to` is the release Swarm keeps as the service's
 * previous spec (the usual case: the one before the last successful deploy) this is Swarm's own
 * rollback (`docker service rollback`), which needs no resolution of references and restores the
 * exact previous spec; otherwise (an older release, or previous ports taken meanwhile) it deploys
 * `to` as an update. Returns the new outputs; a rollback that does not settle throws a
 * PartialFailure `rollback failed: ...`.
 */
export async function swarmRollback(
  ctx: KindContext,
  address: Address,
  outputs: ServiceOutputs,
  to: SwarmSide,
): Promise<ServiceOutputs> {
  const prior = swarmOutputsOf(outputs);
  const previous = prior?.previous;
  if (
    !prior ||
    !previous ||
    previous.release !== to.release ||
    !(await previousPortsFree(ctx, prior, previous, to.spec.replicas))
  ) {
    return swarmDeploy(ctx, address, to, outputs);
  }
  const cluster = clusterOf(ctx, address);
  const service = serviceOf(address);
  ctx.progress(address, `rolling back Swarm service ${prior.name} to its previous spec (v${to.release ?? '-'})`);
  const result = await cluster.rollback(prior.name, {
    onProgress: progressTo(ctx, address),
    deadline: deadlineOf(to.spec, false),
  });
  const back = result.status.specHash === previous.specHash;
  const swarm: SwarmServiceOutputs = back ? { name: prior.name, ...previous, previous: revisionOf(prior) } : prior;
  const outs = outputsFor(to.spec, result.status, swarm, to.codeDir ?? ctx.dir);
  if (result.outcome === 'rolled-back' && back) {
    routeLocalTasks(ctx, service, outs);
    await markRelease(ctx, service, to.release, 'active', null);
    return outs;
  }
  throw new PartialFailure(`rollback failed: ${result.message}`, outs);
}

/** `read`: the Swarm service as it is. Gone → exists: false; fewer tasks running than wanted, or changed outside Groundwork → drift. */
export async function swarmRead(
  ctx: KindContext,
  address: Address,
  spec: ServiceSpec,
  outputs: ServiceOutputs,
): Promise<ServiceReadResult> {
  const prior = swarmOutputsOf(outputs);
  const name = prior?.name ?? swarmServiceName(ctx, address);
  const status = await clusterOf(ctx, address).inspect(name);
  if (!status) return { exists: false, outputs, drift: [`Swarm service ${name} is gone`] };
  if (!prior) {
    // Recorded by something else (say, the instance-level runtime): the next apply takes it over.
    const instances = outputs.instances.map((i) => ({
      ...i,
      gone: i.gone ?? 'not recorded as a Swarm service',
    }));
    return {
      exists: true,
      outputs: { ...outputs, instances },
      drift: [`Swarm service ${name} is not recorded as the service's Swarm service; the next apply updates it`],
    };
  }
  const outs = outputsFor(spec, status, prior, outputs.release?.dir ?? ctx.dir, undefined, spec.replicas);
  const drift: string[] = [];
  const instances = outs.instances;
  if (status.specHash !== prior.specHash) {
    drift.push(
      `Swarm service ${name} runs spec ${status.specHash || '(none)'}, not the recorded ${prior.specHash}: it was changed outside Groundwork`,
    );
    // Marked gone, so the plan updates the service back to the stack file.
    for (const i of instances) i.gone ??= 'changed outside Groundwork';
  }
  if (status.replicas !== spec.replicas)
    drift.push(`Swarm service ${name} wants ${status.replicas} replicas, not ${spec.replicas}`);
  if (status.running < spec.replicas) drift.push(`${status.running}/${spec.replicas} tasks of ${name} running`);
  for (const i of instances)
    if (i.gone && i.gone !== 'changed outside Groundwork') drift.push(`slot ${i.index} ${i.gone}`);
  return { exists: true, outputs: outs, drift };
}

/** `delete`: removes the Swarm service and waits until its containers on this node are gone. */
export async function swarmDelete(
  ctx: KindContext,
  address: Address,
  _spec: ServiceSpec,
  outputs: ServiceOutputs,
): Promise<void> {
  const name = swarmOutputsOf(outputs)?.name ?? swarmServiceName(ctx, address);
  ctx.progress(address, `removing Swarm service ${name}`);
  await clusterOf(ctx, address).remove(name);
  for (const i of outputs.instances) for (const p of Object.values(i.ports)) ctx.ports.release(p);
}

// ---------------------------------------------------------------- mapping (pure parts exported for tests)

export function swarmServiceName(ctx: Pick<KindContext, 'stack'>, address: Address): string {
  return clusterServiceName(ctx.stack, serviceOf(address));
}

/** GROUNDWORK_PORT_<NAME>: the env var that carries a task's own port. */
export function portEnvName(port: string): string {
  return `GROUNDWORK_PORT_${port.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The port of `slot` (1-based). */
export function portOfSlot(p: SwarmPort, slot: number): number {
  return 'fixed' in p ? p.fixed : p.base + slot;
}

/** The Swarm template that expands to a task's own port. */
export function portTemplate(p: SwarmPort): string {
  if ('fixed' in p) return String(p.fixed);
  return `${p.base / BLOCK}{{if lt (len .Task.Slot) 2}}0{{end}}${SLOT_TEMPLATE}`;
}

/** Swarm expands Go templates in env values; a literal `{{` in a value must not start one. */
export function escapeTemplate(value: string): string {
  return value.replace(/\{\{/g, '{{"{{"}}');
}

export interface SwarmMapping {
  /** What goes to the cluster; its env holds secret values: never log or record it. */
  cluster: ClusterServiceSpec;
  /** Identifies the deployed revision without secret values (their names only), like instanceSpecHash. */
  specHash: string;
}

/**
 * ServiceSpec → ClusterServiceSpec for ports already placed. Resolves references like
 * resolveInstance (secrets into env only), with `${port.NAME}` as per-task templates.
 */
export function clusterSpecFor(
  ctx: KindContext,
  address: Address,
  spec: ServiceSpec,
  ports: Record<string, SwarmPort>,
  release: number | null,
): SwarmMapping {
  const service = serviceOf(address);
  if (!spec.image)
    throw new Error(
      `service ${service}: runtime swarm runs an image; set \`image:\` (a Dockerfile is built only for runtime docker)`,
    );
  const mark = (s: string) =>
    substitute(s, (r) => (r.kind === 'port' ? `\uE000${r.name}\uE000` : undefined), { unescape: false });
  const marked: ServiceSpec = {
    ...spec,
    command: spec.command === null ? null : mark(spec.command),
    args: spec.args ? spec.args.map(mark) : null,
    env: Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, mark(v)])),
  };
  const resolved = resolveInstance(ctx, service, marked, {}, {}, ctx.dir);
  const portOf = (name: string): SwarmPort => {
    const p = ports[name];
    if (!p) throw new Error(`service ${service}: port \`${name}\` is not declared; add it under \`ports:\``);
    return p;
  };
  const MARK = /\uE000([^\uE000]*)\uE000/g;
  const marker = /\uE000([^\uE000]*)\uE000/;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(resolved.env))
    env[k] = escapeTemplate(v).replace(MARK, (_m, n: string) => portTemplate(portOf(n)));
  Object.assign(env, {
    GROUNDWORK_STACK: ctx.stack,
    GROUNDWORK_SERVICE: service,
    GROUNDWORK_INSTANCE: SLOT_TEMPLATE,
    GROUNDWORK_TASK_SLOT: SLOT_TEMPLATE,
    ...Object.fromEntries(Object.entries(ports).map(([n, p]) => [portEnvName(n), portTemplate(p)])),
  });
  const command = resolved.command.replace(MARK, (_m, n: string) => {
    portOf(n);
    return `\${${portEnvName(n)}}`;
  });
  const args =
    resolved.args?.map((a, i) => {
      const m = marker.exec(a);
      if (!m) return a;
      throw new Error(
        `service ${service}: args[${i}] uses \${port.${m[1]}}; on swarm every task has its own port, which only env and a shell command can carry. Write the command as one \`command:\` string without \`args\`, or read ${portEnvName(m[1] ?? 'NAME')} from the environment`,
      );
    }) ?? null;
  const order = Object.keys(ports).length > 0 ? 'stop-first' : 'start-first';
  const parallelism = Math.max(1, order === 'stop-first' ? spec.deploy.max_unavailable : spec.deploy.max_surge);
  const specHash = hashOf({
    image: spec.image,
    command: spec.command,
    args: spec.args,
    env: spec.env,
    user: spec.user,
    resources: spec.resources,
    mounts: spec.mounts,
    health: spec.health,
    liveness: spec.liveness,
    restart: spec.restart,
    stop_grace: spec.stop_grace,
    ports,
    deps: dependencyValues(ctx, spec),
    release,
  });
  return {
    specHash,
    cluster: {
      name: swarmServiceName(ctx, address),
      stack: ctx.stack,
      service,
      image: spec.image,
      command,
      args,
      env,
      workdir: null,
      user: spec.user,
      mounts: Object.entries(spec.mounts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([target, src]) => ({ target, source: src.startsWith('/') ? src : volumeHostPath(ctx, service, src) })),
      replicas: spec.replicas,
      memoryBytes: spec.resources?.memory ? ByteSize.parse(spec.resources.memory).toBytes() : null,
      cpuCores: spec.resources?.cpu ?? null,
      restart: { condition: spec.restart, delay: Duration.seconds(1), maxAttempts: null },
      health: healthCheckOf(spec, ports),
      update: {
        parallelism,
        order,
        failureAction: spec.deploy.auto_rollback ? 'rollback' : 'pause',
        monitor: monitorOf(spec),
        maxFailureRatio: 0,
        delay: Duration.milliseconds(0),
      },
      // A rollback carries on when a task fails during it (say, a failed new task that the restart
      // policy had just started again): pausing half-way would leave two releases running.
      rollback: {
        parallelism,
        order,
        failureAction: 'continue',
        monitor: monitorOf(spec),
        maxFailureRatio: 0,
        delay: Duration.milliseconds(0),
      },
      stopGrace: Duration.parse(spec.stop_grace),
      network: { mode: 'host' },
      specHash,
      labels: { 'groundwork.release': release === null ? '' : String(release) },
    },
  };
}

/** The service's probe as a health check that runs inside each task, against the task's own port. */
export function healthCheckOf(spec: ServiceSpec, ports: Record<string, SwarmPort>): ClusterServiceSpec['health'] {
  const p: ProbeSpec | null = spec.health ?? spec.liveness;
  if (!p) return null;
  const first = Object.keys(ports).sort()[0];
  const portVar = (name: string | undefined) => `"$${portEnvName(name ?? first ?? 'http')}"`;
  let command: string;
  if (p.http) {
    const url = `http://127.0.0.1:${portVar(p.http.port)}${sq(p.http.path.startsWith('/') ? p.http.path : `/${p.http.path}`)}`;
    // No `wget -T`: the engine's health check timeout ends the probe (and busybox 1.35's static wget crashes with -T).
    command =
      p.http.body === undefined
        ? `wget -q -O - ${url} >/dev/null`
        : `wget -q -O - ${url} | grep -qF -- ${sq(p.http.body)}`;
  } else if (p.tcp) {
    const port = portVar(p.tcp.port);
    command = `nc -z 127.0.0.1 ${port} 2>/dev/null || nc 127.0.0.1 ${port} -e true`;
  } else command = p.exec?.command ?? 'true';
  return {
    probe: { kind: 'exec', command },
    interval: Duration.parse(p.interval),
    timeout: Duration.parse(p.timeout),
    retries: p.unhealthy,
    startPeriod: Duration.parse(p.start_period),
  };
}

/** The recorded `swarm` outputs, or undefined when the service never ran on swarm. */
export function swarmOutputsOf(outputs: ServiceOutputs | undefined): SwarmServiceOutputs | undefined {
  return outputs?.swarm;
}

/** Tasks → instances: one per slot 1..replicas (a slot without a running task is recorded `gone`, keeping its port). */
export function instancesOf(
  status: ClusterServiceStatus,
  swarm: SwarmRevision & { name: string },
  replicas: number,
  codeDir: string,
): TaskInstanceOutput[] {
  const bySlot = new Map<number, ClusterTask>();
  for (const t of status.tasks) {
    if (t.desiredState !== 'running' || t.slot === null) continue;
    const seen = bySlot.get(t.slot);
    if (
      !seen ||
      (seen.state !== 'running' && t.state === 'running') ||
      (seen.state === t.state && t.updatedAt > seen.updatedAt)
    )
      bySlot.set(t.slot, t);
  }
  const slots = new Set<number>([...bySlot.keys(), ...Array.from({ length: replicas }, (_, i) => i + 1)]);
  const out: TaskInstanceOutput[] = [];
  for (const slot of [...slots].sort((a, b) => a - b)) {
    const t = bySlot.get(slot);
    const ports = Object.fromEntries(Object.entries(swarm.ports).map(([n, p]) => [n, portOfSlot(p, slot)]));
    const base = {
      index: slot,
      id: t?.id ?? '',
      // The cluster's tasks in the swarm driver's handle shape: the host pid where Swarm reports it.
      handle: swarmHandle.make({
        pid: t?.pid ?? 0,
        startTicks: 0,
        ...(t?.containerId ? { containerId: t.containerId } : {}),
      }),
      startedAt: t?.updatedAt ?? '',
      specHash: t?.specHash ?? '',
      logFile: `docker service logs ${swarm.name}`,
      limits: '',
      ports,
      codeDir,
      release: swarm.release,
      node: t?.node ?? '',
      taskState: t?.state ?? 'missing',
    };
    if (!t) out.push({ ...base, gone: 'has no task' });
    else if (t.state !== 'running')
      out.push({ ...base, gone: `task ${t.state}${t.error ? `: ${t.error}` : t.message ? ` (${t.message})` : ''}` });
    else out.push(base);
  }
  return out;
}

// ---------------------------------------------------------------- the rollout

async function deployTo(
  ctx: KindContext,
  address: Address,
  to: { spec: ServiceSpec; release: number | null; codeDir: string },
  outputs: ServiceOutputs | undefined,
  opts: { creating: boolean },
): Promise<ServiceOutputs> {
  const cluster = clusterOf(ctx, address);
  const service = serviceOf(address);
  const prior = swarmOutputsOf(outputs);
  const owned = new Set((outputs?.instances ?? []).flatMap((i) => Object.values(i.ports)));
  const taken: number[] = [];
  const ports = await placePorts(ctx, service, to.spec, prior?.ports ?? {}, owned, taken);
  const releaseTaken = () => {
    for (const p of taken) if (!owned.has(p)) ctx.ports.release(p);
  };
  let mapping: SwarmMapping;
  try {
    mapping = clusterSpecFor(ctx, address, to.spec, ports, to.release);
  } catch (e) {
    releaseTaken();
    await markRelease(ctx, service, to.release, 'failed', (e as Error).message);
    throw e;
  }
  const name = mapping.cluster.name;
  const attempted: SwarmRevision = { specHash: mapping.specHash, release: to.release, ports };
  ctx.progress(
    address,
    `${prior ? 'updating' : 'creating'} Swarm service ${name} (${to.spec.replicas} replica${to.spec.replicas === 1 ? '' : 's'}, ${mapping.cluster.update.order})`,
  );
  let result: ClusterDeployResult;
  try {
    result = await cluster.deploy(mapping.cluster, {
      onProgress: progressTo(ctx, address),
      deadline: deadlineOf(to.spec, opts.creating),
    });
  } catch (e) {
    // Refused before anything changed (engine unreachable, not a manager, invalid spec).
    releaseTaken();
    await markRelease(ctx, service, to.release, 'failed', (e as Error).message);
    throw e;
  }
  const status = result.status;
  const releaseUnused = (keep: SwarmRevision, replicas: number) => {
    const kept = new Set(
      Array.from({ length: replicas }, (_, i) => Object.values(keep.ports).map((p) => portOfSlot(p, i + 1))).flat(),
    );
    for (const p of [...owned, ...taken]) if (!kept.has(p)) ctx.ports.release(p);
  };

  if (result.outcome === 'converged') {
    // Every update (even one that changes only replicas) makes the spec before it Swarm's PreviousSpec.
    const swarm: SwarmServiceOutputs = { name, ...attempted, previous: prior ? revisionOf(prior) : null };
    releaseUnused(attempted, to.spec.replicas);
    const outs = outputsFor(to.spec, status, swarm, to.codeDir);
    routeLocalTasks(ctx, service, outs);
    await markRelease(ctx, service, to.release, 'active', null);
    const listening = Object.keys(ports)
      .map((n) => `${n} on ${outs.instances.map((i) => i.ports[n]).join(', ')}`)
      .join('; ');
    ctx.progress(
      address,
      `Swarm service ${name}: ${result.message} after ${result.took.toString()}${listening ? `; ${listening}` : ''}`,
    );
    return outs;
  }

  if (result.outcome === 'rolled-back' && prior) {
    // Swarm put the previous spec back; its PreviousSpec is now the failed one.
    const swarm: SwarmServiceOutputs = { name, ...revisionOf(prior), previous: attempted };
    releaseUnused(prior, status.replicas);
    await markRelease(ctx, service, to.release, 'rolled-back', result.message);
    throw new PartialFailure(
      `rolled back: ${result.message}; see \`docker service ps --no-trunc ${name}\``,
      outputsFor(to.spec, status, swarm, outputs?.release?.dir ?? to.codeDir, outputs?.release ?? null),
    );
  }

  // Paused, timed out (or a first deploy that Swarm rolled back to nothing): the new spec is in place, not settled.
  const why = `${result.outcome === 'paused' ? 'Swarm paused the rollout' : result.outcome === 'rolled-back' ? 'rolled back' : 'did not settle'}: ${result.message}`;
  await markRelease(ctx, service, to.release, 'failed', why);
  if (opts.creating && status.running === 0) {
    // Nothing runs: remove it (a failed create leaves nothing behind), keeping the tasks' output
    // in a file, as a process's log, never in the error (it may hold what the service printed).
    ctx.progress(address, `no task of ${name} runs; removing the service`);
    const logFile = await keepLog(ctx, service, name, await cluster.logs(name, { lines: 200 }).catch(() => ''));
    await cluster.remove(name);
    releaseTaken();
    throw new Error(
      `service ${service}: Swarm service ${name} ${why}${logFile ? `; its tasks' output: ${logFile}` : ''}`,
    );
  }
  const swarm: SwarmServiceOutputs = { name, ...attempted, previous: prior ? revisionOf(prior) : null };
  throw new PartialFailure(
    `rollout failed: ${why}; see \`docker service ps --no-trunc ${name}\``,
    outputsFor(to.spec, status, swarm, to.codeDir),
  );
}

/**
 * Keeps each port's block when the slots 1..replicas are ours or free; otherwise (first deploy,
 * or a port someone else took) places the port in a fresh block. Ports reserved here are
 * pushed to `taken`.
 */
async function placePorts(
  ctx: KindContext,
  service: string,
  spec: ServiceSpec,
  prior: Record<string, SwarmPort>,
  owned: Set<number>,
  taken: number[],
): Promise<Record<string, SwarmPort>> {
  const out: Record<string, SwarmPort> = {};
  for (const [name, v] of Object.entries(spec.ports).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof v === 'number') {
      if (!owned.has(v)) {
        ctx.ports.reserve(v);
        taken.push(v);
      }
      out[name] = { fixed: v };
      continue;
    }
    const had = prior[name];
    if (had && 'base' in had && (await claimSlots(ctx, had.base, spec.replicas, owned, taken))) {
      out[name] = had;
      continue;
    }
    if (had)
      ctx.progress(
        addressOf('service', service),
        `port ${name}: block ${'base' in had ? had.base : had.fixed} is no longer free; moving to a new block`,
      );
    out[name] = { base: await allocateBlock(ctx, service, name, spec.replicas, taken) };
  }
  return out;
}

/** Reserves base+1..base+replicas unless one is held by someone else (then reserves nothing). */
async function claimSlots(
  ctx: KindContext,
  base: number,
  replicas: number,
  owned: Set<number>,
  taken: number[],
): Promise<boolean> {
  const wanted = Array.from({ length: replicas }, (_, i) => base + i + 1).filter(
    (p) => !owned.has(p) && !taken.includes(p),
  );
  for (const p of wanted) if (ctx.ports.isReserved(p) || !(await canBind(p))) return false;
  for (const p of wanted) {
    ctx.ports.reserve(p);
    taken.push(p);
  }
  return true;
}

/** A block of 100 (`B00`..`B99`) whose first `replicas` slots are free, starting where the allocator points. */
async function allocateBlock(
  ctx: KindContext,
  service: string,
  port: string,
  replicas: number,
  taken: number[],
): Promise<number> {
  const seed = await ctx.ports.allocate();
  ctx.ports.release(seed);
  const first = Math.floor(seed / BLOCK);
  for (let i = 0; i <= MAX_BLOCK_PREFIX; i++) {
    const prefix = ((first - 10 + i) % (MAX_BLOCK_PREFIX - 9)) + 10;
    const base = prefix * BLOCK;
    if (await claimSlots(ctx, base, replicas, new Set(), taken)) return base;
  }
  throw new Error(
    `service ${service}: no block of ${replicas} free ports for port \`${port}\` (ports B01..B${String(replicas).padStart(2, '0')} of some block B00-B99); stop something, or widen GROUNDWORK_PORT_RANGE`,
  );
}

async function previousPortsFree(
  ctx: KindContext,
  prior: SwarmServiceOutputs,
  previous: SwarmRevision,
  replicas: number,
): Promise<boolean> {
  const ours = new Set(
    Array.from({ length: replicas }, (_, i) => Object.values(prior.ports).map((p) => portOfSlot(p, i + 1))).flat(),
  );
  for (let slot = 1; slot <= replicas; slot++) {
    for (const p of Object.values(previous.ports)) {
      const port = portOfSlot(p, slot);
      if (!ours.has(port) && (ctx.ports.isReserved(port) || !(await canBind(port)))) return false;
    }
  }
  return true;
}

/** Outputs with one instance per slot 1..max(the service's replicas, `slots`). */
function outputsFor(
  spec: ServiceSpec,
  status: ClusterServiceStatus,
  swarm: SwarmServiceOutputs,
  codeDir: string,
  release?: { seq: number; dir: string } | null,
  slots = 0,
): ServiceOutputs & { instances: TaskInstanceOutput[] } {
  const instances = instancesOf(status, swarm, Math.max(status.replicas, slots), codeDir);
  const limits =
    [
      spec.resources?.memory ? `memory ${spec.resources.memory}` : '',
      spec.resources?.cpu ? `cpu ${spec.resources.cpu}` : '',
    ]
      .filter(Boolean)
      .join(', ') || 'none requested';
  for (const i of instances) i.limits = limits;
  const rel = release !== undefined ? release : swarm.release === null ? null : { seq: swarm.release, dir: codeDir };
  return { instances, release: rel, standby: null, swarm };
}

/** The daemon's proxy (when one runs) reaches tasks on this node on 127.0.0.1. */
function routeLocalTasks(ctx: KindContext, service: string, outputs: ServiceOutputs): void {
  if (!ctx.traffic) return;
  const me = hostname();
  const local = outputs.instances.filter((i) => !i.gone && i.node === me);
  ctx.traffic.route(
    service,
    local.map((instance) => ({ instance, weight: 100 })),
  );
}

function progressTo(ctx: KindContext, address: Address): (p: ClusterProgress) => void {
  return (p) => ctx.progress(address, `${p.phase}: ${p.message}`);
}

/** A first deploy starts every task at once; an update replaces them a batch at a time. */
function deadlineOf(spec: ServiceSpec, creating: boolean): Duration {
  const each = Duration.parse(spec.deploy.progress_deadline).toMilliseconds();
  const batches = creating
    ? 1
    : Math.ceil(
        spec.replicas /
          Math.max(1, Object.keys(spec.ports).length ? spec.deploy.max_unavailable : spec.deploy.max_surge),
      );
  return Duration.milliseconds((each + monitorOf(spec).toMilliseconds()) * Math.max(1, batches));
}

/** `deploy.monitor`: each new task must keep running (and healthy) this long, or Swarm rolls back. */
function monitorOf(spec: ServiceSpec): Duration {
  const m = (spec.deploy as Partial<ServiceSpec['deploy']>).monitor;
  return m ? Duration.parse(m) : DEFAULT_MONITOR;
}

function clusterOf(ctx: KindContext, address: Address): ClusterRuntime {
  if (!ctx.cluster)
    throw new Error(
      `${address}: runtime swarm needs a Docker engine in Swarm mode, which this installation has not configured; use runtime: docker or process`,
    );
  return ctx.cluster;
}

function revisionOf(s: SwarmRevision): SwarmRevision {
  return { specHash: s.specHash, release: s.release, ports: s.ports };
}

function serviceOf(address: Address): string {
  return address.slice('service.'.length);
}

function volumeHostPath(ctx: KindContext, service: string, volume: string): string {
  const p = ctx.outputsOf(addressOf('volume', volume))?.path;
  if (typeof p !== 'string') throw new Error(`service ${service}: volume \`${volume}\` has not been created`);
  return p;
}

function hashOf(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
}

function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Writes the tasks' output to <stateDir>/logs/SERVICE/swarm-failed.log (0600); undefined when there was none. */
async function keepLog(ctx: KindContext, service: string, name: string, text: string): Promise<string | undefined> {
  if (!text.trim()) return undefined;
  const file = path.join(ctx.stateDir, 'logs', service, 'swarm-failed.log');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `# output of the tasks of Swarm service ${name}, kept when it was removed\n${text}`, {
    mode: 0o600,
  });
  return file;
}

// ---------------------------------------------------------------- releases (as ServiceKind records them for processes)

async function recordConfigRelease(ctx: KindContext, address: Address, spec: ServiceSpec): Promise<number | null> {
  if (!ctx.releases) return null;
  const snapshot: JsonObject = spec;
  return ctx.releases.createRelease({
    service: serviceOf(address),
    hash: hashOf({ codeDir: ctx.dir, spec: snapshot }),
    status: 'deploying',
    kind: 'config',
    source: `image ${spec.image ?? '?'}`,
    spec: snapshot,
    dir: ctx.dir,
    buildLog: null,
    message: ctx.change?.message ?? '',
    author: ctx.change?.author ?? 'unknown',
    createdAt: ctx.clock.now().toISOString(),
    finishedAt: null,
    detail: null,
  });
}

async function markRelease(
  ctx: KindContext,
  service: string,
  seq: number | null,
  status: 'active' | 'failed' | 'rolled-back',
  detail: string | null,
): Promise<void> {
  if (!ctx.releases || seq === null) return;
  await ctx.releases.settle(
    service,
    seq,
    { status, detail, finishedAt: ctx.clock.now().toISOString() },
    { supersedeActive: status === 'active' },
  );
}
