/**
 * ClusterRuntime on Docker Swarm: a Groundwork service is one replicated Swarm service. Swarm
 * places the tasks, restarts them (its restart policy: the cluster owns restarts, since tasks
 * run on nodes where no Groundwork supervisor runs) and performs rolling updates (start-first,
 * one at a time, each new task watched for `monitor`, rolled back on failure). Groundwork follows
 * that through the service's UpdateStatus and its tasks, and reports progress and the outcome.
 */
import { Duration } from '../../util/duration.js';
import type { SwarmNode, SwarmService, SwarmTask } from '../docker/docker-api-types.js';
import { isDockerError, type DockerClient } from '../docker/docker-client.js';
import { LABEL } from '../docker/container-labels.js';
import { lastLines } from '../docker/docker-streams.js';
import type {
  ClusterDeployOptions,
  ClusterDeployResult,
  ClusterNode,
  ClusterOutcome,
  ClusterProgress,
  ClusterRuntime,
  ClusterServiceSpec,
  ClusterServiceStatus,
  ClusterTask,
} from './cluster-runtime.js';
import { swarmServiceSpec, TEMPLATE_HASH_LABEL } from './swarm-service-spec.js';

export type SwarmClusterClient = Pick<
  DockerClient,
  | 'createService'
  | 'updateService'
  | 'inspectService'
  | 'tryInspectService'
  | 'listServices'
  | 'removeService'
  | 'listTasks'
  | 'listNodes'
  | 'serviceLogs'
  | 'listContainers'
>;

export interface SwarmClusterOptions {
  client: SwarmClusterClient;
  /** Identifies this installation (its state directory); a service with another owner is never touched. */
  owner: string;
  /** Extra labels on every service and container (tests tag their run). */
  labels?: Record<string, string>;
  /** How often convergence is polled (default 250ms). */
  pollInterval?: Duration;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const TERMINAL_UPDATE = new Set(['completed', 'paused', 'rollback_completed', 'rollback_paused']);
const DONE_TASK = new Set(['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);

export class SwarmCluster implements ClusterRuntime {
  readonly name = 'swarm' as const;
  private readonly client: SwarmClusterClient;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly poll: number;

  constructor(private readonly opts: SwarmClusterOptions) {
    this.client = opts.client;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.poll = opts.pollInterval?.toMilliseconds() ?? 250;
  }

  async deploy(spec: ClusterServiceSpec, opts: ClusterDeployOptions = {}): Promise<ClusterDeployResult> {
    const started = this.now();
    const body = swarmServiceSpec(spec, {
      owner: this.opts.owner,
      ...(this.opts.labels ? { labels: this.opts.labels } : {}),
    });
    const wanted = body.Labels?.[TEMPLATE_HASH_LABEL] as string;
    const existing = await this.client.tryInspectService(spec.name);
    if (!existing) {
      await this.client.createService(body);
      return this.follow(
        spec.name,
        { started, phase: 'creating', expectUpdate: false, previousUpdate: undefined, wanted },
        opts,
      );
    }
    this.checkOwner(existing);
    const changed = existing.Spec.Labels?.[TEMPLATE_HASH_LABEL] !== wanted;
    await this.client.updateService(existing.ID, existing.Version.Index, body);
    return this.follow(
      spec.name,
      {
        started,
        phase: changed ? 'updating' : 'converging',
        expectUpdate: changed,
        previousUpdate: existing.UpdateStatus?.StartedAt,
        wanted,
      },
      opts,
    );
  }

  async rollback(name: string, opts: ClusterDeployOptions = {}): Promise<ClusterDeployResult> {
    const started = this.now();
    const svc = await this.client.inspectService(name);
    this.checkOwner(svc);
    if (!svc.PreviousSpec) throw new Error(`swarm service ${name} has no previous spec to roll back to`);
    await this.client.updateService(svc.ID, svc.Version.Index, svc.Spec, { rollback: true });
    const wanted = svc.PreviousSpec.Labels?.[TEMPLATE_HASH_LABEL] ?? '';
    return this.follow(
      name,
      { started, phase: 'rolling-back', expectUpdate: true, previousUpdate: svc.UpdateStatus?.StartedAt, wanted },
      opts,
    );
  }

  async remove(name: string): Promise<void> {
    const svc = await this.client.tryInspectService(name);
    if (!svc) return;
    this.checkOwner(svc);
    try {
      await this.client.removeService(svc.ID);
    } catch (e) {
      if (!isDockerError(e, 'not-found')) throw e;
    }
    // Swarm removes the tasks' containers asynchronously; wait for the ones on this node.
    const deadline = this.now() + 60_000;
    while (this.now() < deadline) {
      const left = await this.client.listContainers([`com.docker.swarm.service.id=${svc.ID}`]);
      if (left.length === 0) return;
      await this.sleep(this.poll);
    }
    throw new Error(
      `swarm service ${name} was removed but its containers on this node were still there after 60s; see \`docker ps -a --filter label=com.docker.swarm.service.id=${svc.ID}\``,
    );
  }

  async inspect(name: string): Promise<ClusterServiceStatus | undefined> {
    const svc = await this.client.tryInspectService(name);
    if (!svc) return undefined;
    return this.statusOf(svc, await this.tasksOf(svc), await this.nodeNames());
  }

  async list(stack: string): Promise<ClusterServiceStatus[]> {
    const services = await this.client.listServices([
      `${LABEL.runtime}=swarm`,
      `${LABEL.owner}=${this.opts.owner}`,
      `${LABEL.stack}=${stack}`,
    ]);
    const names = await this.nodeNames();
    const out: ClusterServiceStatus[] = [];
    // Single-instance services of SwarmDriver carry an instance label; they are not cluster services.
    for (const s of services) {
      if (s.Spec.Labels?.[LABEL.instance]) continue;
      try {
        out.push(this.statusOf(s, await this.tasksOf(s), names));
      } catch (e) {
        // Removed between the listing and its tasks (a concurrent delete): it is no longer there.
        if (!isDockerError(e, 'not-found')) throw e;
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async nodes(): Promise<ClusterNode[]> {
    return (await this.client.listNodes()).map((n) => nodeOf(n)).sort((a, b) => a.hostname.localeCompare(b.hostname));
  }

  async logs(name: string, opts: { lines: number }): Promise<string> {
    try {
      const frames = await this.client.serviceLogs(name, { tail: opts.lines });
      return lastLines(frames.map((f) => f.payload.toString('utf8')).join(''), opts.lines);
    } catch (e) {
      if (isDockerError(e, 'not-found')) return '';
      throw e;
    }
  }

  private checkOwner(svc: SwarmService): void {
    const owner = svc.Spec.Labels?.[LABEL.owner];
    if (owner !== this.opts.owner) {
      throw new Error(
        `swarm service ${svc.Spec.Name} ${owner ? `belongs to another Groundwork installation (${owner})` : 'was not created by Groundwork'}; rename the service or remove it (docker service rm ${svc.Spec.Name})`,
      );
    }
  }

  /**
   * Polls until the rollout settles: Swarm's update reaches completed / paused / rollback_completed
   * (when an update was expected), and the wanted number of tasks runs from the service's current
   * template.
   */
  private async follow(
    name: string,
    f: {
      started: number;
      phase: ClusterProgress['phase'];
      expectUpdate: boolean;
      previousUpdate: string | undefined;
      wanted: string;
    },
    opts: ClusterDeployOptions,
  ): Promise<ClusterDeployResult> {
    const deadline = f.started + (opts.deadline ?? Duration.minutes(5)).toMilliseconds();
    const names = await this.nodeNames();
    let lastReport = '';
    let sawUpdate = false;
    let quietSince: number | undefined;
    let lastFailure = '';
    while (true) {
      const svc = await this.client.inspectService(name);
      const tasks = await this.tasksOf(svc);
      const status = this.statusOf(svc, tasks, names);
      const us = svc.UpdateStatus;
      const ours = us !== undefined && us.StartedAt !== f.previousUpdate;
      if (ours) sawUpdate = true;
      const current = svc.Spec.Labels?.[TEMPLATE_HASH_LABEL] ?? '';
      const failed = tasks
        .filter((t) => t.Status.State === 'failed' || t.Status.State === 'rejected')
        .sort((a, b) => b.UpdatedAt.localeCompare(a.UpdatedAt))[0];
      if (failed)
        lastFailure = `task ${failed.ID.slice(0, 12)} ${failed.Status.State}: ${failed.Status.Err ?? failed.Status.Message}`;
      const phase: ClusterProgress['phase'] =
        ours && us.State.startsWith('rollback')
          ? 'rolling-back'
          : ours && us.State === 'updating'
            ? 'updating'
            : f.phase;
      const progress: ClusterProgress = {
        phase,
        running: status.running,
        desired: status.replicas,
        updateState: ours ? us.State : null,
        message: `${status.running}/${status.replicas} running${ours ? `, update ${us.State}${us.Message ? ` (${us.Message})` : ''}` : ''}`,
      };
      const report = JSON.stringify(progress);
      if (report !== lastReport) {
        opts.onProgress?.(progress);
        lastReport = report;
      }

      const converged =
        status.replicas === tasksRunningFrom(tasks, current) &&
        tasks.filter((t) => t.DesiredState === 'running').length === status.replicas;
      const result = (outcome: ClusterOutcome, message: string): ClusterDeployResult => ({
        outcome,
        message,
        took: Duration.milliseconds(this.now() - f.started),
        status,
      });
      if (ours && TERMINAL_UPDATE.has(us.State)) {
        if (us.State === 'paused' || us.State === 'rollback_paused')
          return result(
            'paused',
            `Swarm paused the ${us.State === 'paused' ? 'update' : 'rollback'}: ${us.Message ?? ''}${lastFailure ? `; ${lastFailure}` : ''}`,
          );
        if (us.State === 'rollback_completed' && converged) {
          const why =
            f.phase === 'rolling-back'
              ? 'rolled back to the previous spec'
              : `the update failed and Swarm rolled back to the previous spec${lastFailure ? ` (${lastFailure})` : ''}`;
          return result('rolled-back', why);
        }
        if (us.State === 'completed' && converged && current === f.wanted)
          return result('converged', `${status.running}/${status.replicas} running`);
      } else if (converged && current === f.wanted) {
        if (!f.expectUpdate) return result('converged', `${status.running}/${status.replicas} running`);
        // The template changed in our eyes but Swarm saw nothing to update (e.g. only defaults differ).
        quietSince ??= this.now();
        if (!sawUpdate && this.now() - quietSince > 3000)
          return result('converged', `${status.running}/${status.replicas} running (no task changes were needed)`);
      }
      if (this.now() >= deadline) {
        return result(
          'timed-out',
          `not settled within ${(opts.deadline ?? Duration.minutes(5)).toString()}: ${progress.message}${lastFailure ? `; last failure: ${lastFailure}` : ''}`,
        );
      }
      await this.sleep(this.poll);
    }
  }

  private async tasksOf(svc: SwarmService): Promise<SwarmTask[]> {
    return this.client.listTasks({ service: svc.ID });
  }

  private async nodeNames(): Promise<Map<string, string>> {
    return new Map((await this.client.listNodes()).map((n) => [n.ID, n.Description.Hostname]));
  }

  private statusOf(svc: SwarmService, tasks: SwarmTask[], nodeNames: Map<string, string>): ClusterServiceStatus {
    const labels = svc.Spec.Labels ?? {};
    const wantedRunning = tasks.filter((t) => t.DesiredState === 'running');
    const rest = tasks
      .filter((t) => t.DesiredState !== 'running')
      .sort((a, b) => b.UpdatedAt.localeCompare(a.UpdatedAt));
    const perSlot = new Map<number, number>();
    const recent = rest.filter((t) => {
      const n = (perSlot.get(t.Slot ?? 0) ?? 0) + 1;
      perSlot.set(t.Slot ?? 0, n);
      return n <= 3;
    });
    const us = svc.UpdateStatus;
    return {
      name: svc.Spec.Name,
      id: svc.ID,
      stack: labels[LABEL.stack] ?? '',
      service: labels[LABEL.service] ?? '',
      specHash: labels[LABEL.specHash] ?? '',
      image: svc.Spec.TaskTemplate.ContainerSpec.Image,
      replicas: svc.Spec.Mode.Replicated.Replicas,
      update: us
        ? {
            state: us.State,
            message: us.Message ?? '',
            startedAt: us.StartedAt ?? null,
            completedAt: us.CompletedAt ?? null,
          }
        : null,
      tasks: [...wantedRunning.sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0)), ...recent].map((t) =>
        taskOf(t, nodeNames),
      ),
      running: wantedRunning.filter((t) => t.Status.State === 'running').length,
    };
  }
}

function tasksRunningFrom(tasks: SwarmTask[], templateHash: string): number {
  return tasks.filter(
    (t) =>
      t.DesiredState === 'running' &&
      t.Status.State === 'running' &&
      t.Spec.ContainerSpec.Labels?.[TEMPLATE_HASH_LABEL] === templateHash,
  ).length;
}

function taskOf(t: SwarmTask, nodeNames: Map<string, string>): ClusterTask {
  const cs = t.Status.ContainerStatus;
  return {
    id: t.ID,
    slot: t.Slot ?? null,
    node: t.NodeID ? (nodeNames.get(t.NodeID) ?? t.NodeID) : '',
    state: t.Status.State,
    desiredState: t.DesiredState,
    message: t.Status.Message,
    error: t.Status.Err ?? null,
    exitCode: DONE_TASK.has(t.Status.State) && cs?.ExitCode !== undefined ? cs.ExitCode : null,
    containerId: cs?.ContainerID ?? null,
    pid: cs?.PID ? cs.PID : null,
    specHash: t.Spec.ContainerSpec.Labels?.[LABEL.specHash] ?? null,
    updatedAt: t.UpdatedAt,
  };
}

function nodeOf(n: SwarmNode): ClusterNode {
  return {
    id: n.ID,
    hostname: n.Description.Hostname,
    role: n.Spec.Role,
    leader: n.ManagerStatus?.Leader === true,
    availability: n.Spec.Availability,
    state: n.Status.State,
    address: n.ManagerStatus?.Addr ?? n.Status.Addr,
    engineVersion: n.Description.Engine.EngineVersion,
    labels: n.Spec.Labels ?? {},
  };
}
