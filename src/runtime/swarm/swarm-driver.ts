/**
 * RuntimeDriver on Swarm, one instance = one single-replica Swarm service with restart condition
 * "none" (Groundwork's supervisor decides about restarts at this level, as for docker). This is
 * the instance-level view, for the shared contract and for supervising single instances; a whole
 * service on a cluster belongs to SwarmCluster (ClusterRuntime), where Swarm does the rollout.
 *
 * What holds only for tasks on this node (the engine Groundwork talks to), and why:
 *  - the handle's data (swarm-handle.ts, read by this driver alone): `pid`/`startTicks` are the task container's host pid on its node and its /proc start time;
 *    for a task on another node they are 0 and identity rests on the task id alone.
 *  - `stop` with an exact grace stops the task's container through this engine; Swarm itself
 *    only knows the stop grace period fixed in the service spec at creation, so a task on another
 *    node is stopped by scaling the service to 0 with the driver's `stopGrace` (default 10s).
 *  - `stats` and out-of-memory detection read the container, which only its node's engine can.
 */
import { existsSync } from 'node:fs';
import { Duration } from '../../util/duration.js';
import { tryProcessStartTicks } from '../process/proc.js';
import type { HandleDescription } from '../driver-handle.js';
import { swarmHandle } from './swarm-handle.js';
import type {
  DriverCapabilities,
  InstanceHandle,
  InstanceStats,
  InstanceStatus,
  RuntimeDriver,
} from '../runtime-driver.js';
import type { SwarmService, SwarmTask } from '../docker/docker-api-types.js';
import { isDockerError, type DockerClient } from '../docker/docker-client.js';
import type { ContainerInstanceSpec } from '../docker/container-instance-spec.js';
import { mountsCwd, engineMounts } from '../docker/container-create.js';
import { engineName, LABEL, stackFilter, tryParseIdentity } from '../docker/container-labels.js';
import { containerUser, hostUsers, type UserResolver } from '../docker/container-user.js';
import { lastLines } from '../docker/docker-streams.js';
import { describeStatus, exitStatus } from '../docker/exit-status.js';
import { swarmServiceSpec } from './swarm-service-spec.js';

export type SwarmDriverClient = Pick<
  DockerClient,
  | 'info'
  | 'createService'
  | 'updateService'
  | 'tryInspectService'
  | 'listServices'
  | 'removeService'
  | 'listTasks'
  | 'serviceLogs'
  | 'tryInspectImage'
  | 'tryInspectContainer'
  | 'stopContainer'
  | 'containerStats'
>;

export interface SwarmDriverOptions {
  client: SwarmDriverClient;
  /** As for DockerDriver: `list` returns only this owner's instances. */
  owner: string;
  labels?: Record<string, string>;
  /** The stop grace period written into each service, used when a task is not on this node (default 10s). */
  stopGrace?: Duration;
  /** How long a new task may take to run (default 60s). */
  startTimeout?: Duration;
  resolveUser?: UserResolver;
  sleep?: (ms: number) => Promise<void>;
}

const DONE = new Set(['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);

export class SwarmDriver implements RuntimeDriver {
  readonly name = 'swarm' as const;
  readonly capabilities: DriverCapabilities = { users: true, limits: true, adoption: true };
  private readonly client: SwarmDriverClient;
  private readonly sleep: (ms: number) => Promise<void>;
  private localNode: string | undefined;

  constructor(private readonly opts: SwarmDriverOptions) {
    this.client = opts.client;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async start(spec: ContainerInstanceSpec): Promise<InstanceHandle> {
    const where = `service ${spec.service} instance ${spec.index}`;
    if (!spec.image)
      throw new Error(`${where}: runtime swarm needs an image; set \`image:\` on service ${spec.service}`);
    const cwdMounted = mountsCwd(spec);
    if (cwdMounted && !existsSync(spec.cwd))
      throw new Error(`working directory ${spec.cwd} does not exist; fix \`cwd\` of service ${spec.service}`);
    if (!(await this.client.tryInspectImage(spec.image))) {
      throw new Error(
        `${where}: image ${spec.image} is not on this machine; every Swarm node needs it (push it to a registry the nodes can reach, or load it on each)`,
      );
    }
    const name = engineName(spec.stack, spec.id);
    const body = swarmServiceSpec(
      {
        name,
        stack: spec.stack,
        service: spec.service,
        image: spec.image,
        command: spec.command,
        args: spec.args,
        env: spec.env,
        workdir: cwdMounted ? spec.cwd : null,
        user: containerUser(spec.user, this.opts.resolveUser ?? hostUsers) ?? null,
        mounts: engineMounts(spec).map((m) => ({
          source: m.Source,
          target: m.Target,
          ...(m.ReadOnly ? { readOnly: true } : {}),
        })),
        replicas: 1,
        memoryBytes: spec.memoryBytes,
        cpuCores: spec.cpuCores,
        restart: { condition: 'never', delay: Duration.seconds(0), maxAttempts: null },
        health: null,
        update: {
          parallelism: 1,
          order: 'stop-first',
          failureAction: 'pause',
          monitor: Duration.seconds(0),
          maxFailureRatio: 0,
          delay: Duration.seconds(0),
        },
        stopGrace: this.opts.stopGrace ?? Duration.seconds(10),
        network: { mode: 'host' },
        specHash: spec.specHash,
        labels: {
          ...spec.labels,
          [LABEL.instance]: spec.id,
          [LABEL.index]: String(spec.index),
          [LABEL.ports]: JSON.stringify(spec.ports),
        },
      },
      { owner: this.opts.owner, ...(this.opts.labels ? { labels: this.opts.labels } : {}) },
    );
    let id: string;
    try {
      id = (await this.client.createService(body)).ID;
    } catch (e) {
      if (isDockerError(e, 'conflict'))
        throw new Error(
          `${where}: a swarm service named ${name} already exists; remove it (docker service rm ${name})`,
        );
      throw new Error(`${where}: Swarm refused the service: ${(e as Error).message}`);
    }
    try {
      const task = await this.waitForTask(id, where);
      const svc = await this.client.tryInspectService(id);
      if (!svc) throw new Error(`${where}: the swarm service vanished while starting`);
      return await this.handleOf(svc, task);
    } catch (e) {
      await this.client.removeService(id).catch(() => undefined);
      throw e;
    }
  }

  private async waitForTask(serviceId: string, where: string): Promise<SwarmTask> {
    const timeout = this.opts.startTimeout ?? Duration.seconds(60);
    const deadline = Date.now() + timeout.toMilliseconds();
    let last: SwarmTask | undefined;
    while (Date.now() < deadline) {
      last = latest(await this.client.listTasks({ service: serviceId }));
      if (last?.Status.State === 'running') return last;
      if (last && DONE.has(last.Status.State)) {
        // Swarm records only the latest state it hears of, so a short-lived task may never be seen running.
        if (await this.ran(last)) return last;
        // It never ran: the task's error says why (no output to keep).
        const status = await this.statusOfTask(last);
        throw new Error(
          `${where}: the swarm task did not start (${last.Status.State}${last.Status.Err ? `: ${last.Status.Err}` : ''}; ${describeStatus(status)})`,
        );
      }
      await this.sleep(50);
    }
    throw new Error(
      `${where}: the swarm task did not run within ${timeout.toString()} (last state: ${last ? `${last.Status.State}: ${last.Status.Err ?? last.Status.Message}` : 'no task yet'})`,
    );
  }

  /** Whether the task's container started at all (as opposed to being rejected or failing to start). */
  private async ran(task: SwarmTask): Promise<boolean> {
    const cid = task.Status.ContainerStatus?.ContainerID;
    if (cid && (await this.isLocal(task))) {
      const c = await this.client.tryInspectContainer(cid);
      if (c) return !c.State.StartedAt.startsWith('0001-');
    }
    return task.Status.State === 'complete' || /non-zero exit/.test(task.Status.Err ?? '');
  }

  async stop(handle: InstanceHandle, grace: Duration): Promise<InstanceStatus> {
    const svc = await this.client.tryInspectService(handle.id);
    if (!svc) return { state: 'missing' };
    const task = latest(await this.client.listTasks({ service: svc.ID }));
    if (task && (await this.matches(handle, task)) === 'same') {
      const cid = task.Status.ContainerStatus?.ContainerID;
      if (cid && (await this.isLocal(task))) {
        try {
          await this.client.stopContainer(cid, Math.ceil(grace.toSeconds()));
        } catch (e) {
          if (!isDockerError(e, 'not-found')) throw e;
        }
      } else {
        await this.client.updateService(svc.ID, svc.Version.Index, {
          ...svc.Spec,
          Mode: { Replicated: { Replicas: 0 } },
        });
      }
      const deadline = Date.now() + grace.toMilliseconds() + 60_000;
      while (Date.now() < deadline) {
        const t = latest(await this.client.listTasks({ service: svc.ID }));
        if (!t || t.ID !== task.ID || DONE.has(t.Status.State)) break;
        await this.sleep(50);
      }
    }
    return this.inspect(handle);
  }

  async inspect(handle: InstanceHandle): Promise<InstanceStatus> {
    const svc = await this.client.tryInspectService(handle.id);
    if (!svc) return { state: 'missing' };
    for (let i = 0; i < 500; i++) {
      const task = latest(await this.client.listTasks({ service: svc.ID }));
      if (!task) return { state: 'exited', exitCode: null, signal: null };
      const m = await this.matches(handle, task);
      if (m === 'same') return { state: 'running', pid: swarmHandle.read(handle.handle, handle.id).pid };
      if (m === 'other')
        return task.Status.State === 'running'
          ? { state: 'exited', exitCode: null, signal: null }
          : this.statusOfTask(task);
      // The process ended; Swarm records the task's end a moment later.
      await this.sleep(20);
    }
    return { state: 'exited', exitCode: null, signal: null };
  }

  async list(stack: string): Promise<InstanceHandle[]> {
    const services = await this.client.listServices(stackFilter('swarm', this.opts.owner, stack));
    const out: InstanceHandle[] = [];
    for (const svc of services) {
      if (!tryParseIdentity(svc.Spec.Labels)) continue;
      out.push(await this.handleOf(svc, latest(await this.client.listTasks({ service: svc.ID }))));
    }
    return out.sort((a, b) => a.index - b.index || a.startedAt.localeCompare(b.startedAt));
  }

  async logs(handle: InstanceHandle, opts: { lines: number }): Promise<string> {
    return this.logsOf(handle.id, opts.lines);
  }

  private async logsOf(service: string, lines: number): Promise<string> {
    try {
      const frames = await this.client.serviceLogs(service, { tail: lines });
      return lastLines(frames.map((f) => f.payload.toString('utf8')).join(''), lines);
    } catch (e) {
      if (isDockerError(e, 'not-found')) return '';
      throw e;
    }
  }

  async stats(handle: InstanceHandle): Promise<InstanceStats | undefined> {
    const svc = await this.client.tryInspectService(handle.id);
    if (!svc) return undefined;
    const task = latest(await this.client.listTasks({ service: svc.ID }));
    const cid = task?.Status.ContainerStatus?.ContainerID;
    if (!task || !cid || (await this.matches(handle, task)) !== 'same' || !(await this.isLocal(task))) return undefined;
    try {
      const s = await this.client.containerStats(cid);
      if (s.memory_stats.usage === undefined) return undefined;
      const st = s.memory_stats.stats ?? {};
      return {
        rssBytes: Math.max(0, s.memory_stats.usage - (st.total_inactive_file ?? st.inactive_file ?? 0)),
        cpuSeconds: s.cpu_stats.cpu_usage.total_usage / 1e9,
      };
    } catch (e) {
      if (isDockerError(e, 'not-found') || isDockerError(e, 'conflict')) return undefined;
      throw e;
    }
  }

  /** Removes the instance's swarm service (Swarm then removes its container). */
  async forget(handle: InstanceHandle): Promise<void> {
    try {
      await this.client.removeService(handle.id);
    } catch (e) {
      if (!isDockerError(e, 'not-found')) throw e;
    }
  }

  private async handleOf(svc: SwarmService, task: SwarmTask | undefined): Promise<InstanceHandle> {
    const id = tryParseIdentity(svc.Spec.Labels);
    const running = task?.Status.State === 'running';
    const pid = running && (await this.isLocal(task)) ? (task.Status.ContainerStatus?.PID ?? 0) : 0;
    return {
      id: svc.Spec.Name,
      service: id?.service ?? '',
      index: id?.index ?? 0,
      handle: swarmHandle.make({
        pid,
        startTicks: pid ? (tryProcessStartTicks(pid) ?? 0) : 0,
        ...(task?.Status.ContainerStatus?.ContainerID ? { containerId: task.Status.ContainerStatus.ContainerID } : {}),
      }),
      startedAt: task?.Status.Timestamp ?? svc.CreatedAt,
      specHash: id?.specHash ?? '',
      logFile: `docker service logs ${svc.Spec.Name}`,
      ports: id?.ports ?? {},
      limits: limitsOf(svc),
    };
  }

  /** 'same' while the task runs the handle's process; 'exiting' when it just ended; else 'other'. */
  describe(handle: InstanceHandle): HandleDescription {
    return swarmHandle.describe(handle.handle, handle.id);
  }

  private async matches(h: InstanceHandle, task: SwarmTask): Promise<'same' | 'exiting' | 'other'> {
    const handle = swarmHandle.read(h.handle, h.id);
    if (task.Status.State !== 'running') return 'other';
    const pid = task.Status.ContainerStatus?.PID ?? 0;
    if (!(await this.isLocal(task))) return handle.pid === 0 ? 'same' : 'other';
    if (pid !== handle.pid || pid <= 0) return 'other';
    if (handle.startTicks === 0) return 'same';
    const ticks = tryProcessStartTicks(pid);
    if (ticks === undefined) return 'exiting';
    return ticks === handle.startTicks ? 'same' : 'other';
  }

  private async isLocal(task: SwarmTask): Promise<boolean> {
    this.localNode ??= (await this.client.info()).Swarm.NodeID;
    return task.NodeID === this.localNode;
  }

  /** How the task ended; the local container's record adds out-of-memory kills, which Swarm does not report. */
  private async statusOfTask(task: SwarmTask): Promise<InstanceStatus> {
    const cid = task.Status.ContainerStatus?.ContainerID;
    if (cid && (await this.isLocal(task))) {
      const c = await this.client.tryInspectContainer(cid);
      if (c && !c.State.Running && c.State.Status !== 'created') return exitStatus(c.State.ExitCode, c.State.OOMKilled);
    }
    if (task.Status.State === 'rejected') return { state: 'exited', exitCode: null, signal: null };
    return exitStatus(task.Status.ContainerStatus?.ExitCode);
  }
}

function latest(tasks: SwarmTask[]): SwarmTask | undefined {
  return [...tasks].sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt))[0];
}

function limitsOf(svc: SwarmService): string {
  const l = svc.Spec.TaskTemplate.Resources?.Limits ?? {};
  const parts: string[] = [];
  if (l.MemoryBytes) parts.push(`memory ${l.MemoryBytes} bytes`);
  if (l.NanoCPUs) parts.push(`cpu ${l.NanoCPUs / 1e9}`);
  return `swarm${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
