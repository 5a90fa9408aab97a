/**
 * Runs instances as Docker containers through the Engine API.
 *
 * Identity. The handle's `id` is the container name (`gw-<stack>-<instance id>`); its data
 * (container-handle.ts, read by this driver alone) holds the container's engine id, `pid`, the
 * container's init as the host sees it (State.Pid) and `startTicks` that process's kernel start
 * time from /proc, exactly as for processes: a handle is "running" only while the container runs
 * that very process, so a handle from before a `docker restart` is never taken for the current
 * one. Everything is addressed by container name, never by pid, so a reused pid is never signalled.
 * (With an engine in a VM, /proc does not show its pids; startTicks is then 0 on both sides.)
 *
 * Adoption. Labels carry stack, service, index, instance id, spec hash, ports and the owner
 * (the installation's state directory); `list(stack)` reads them back from the engine, so a
 * restarted daemon finds every container it started, running or exited, and starts no duplicate.
 *
 * Restarts belong to Groundwork's supervisor, not to Docker: containers get RestartPolicy "no".
 *  - One restart policy (always / on-failure / never) with the same backoff, crash-loop detection
 *    and events for every runtime; Docker's policy has its own fixed backoff and reports nothing.
 *  - Health-driven restarts: the supervisor restarts an instance whose liveness probe fails;
 *    Docker restarts only on exit (its HEALTHCHECK marks a container unhealthy, nothing more).
 *  - Adoption stays exact: a container Docker restarted behind our back would be the same
 *    container with a new process, a new pid and possibly new ports in use, while state still
 *    describes the old one; and a restart by Docker while the daemon is down would be invisible
 *    to the restart counters. With "no", a container that exits stays exited until the
 *    supervisor decides, so what the engine shows and what state records agree.
 *  - Rollouts replace instances one by one and must know whether an instance is gone for good.
 * (Swarm is different: there the cluster's orchestrator owns restarts, see swarm/.)
 *
 * Networking. Host network: Groundwork allocates host ports per instance (`${port.http}`), and
 * the built-in load balancer reaches instances on 127.0.0.1:<port>, as for processes.
 */
import { existsSync } from 'node:fs';
import type { Duration } from '../../util/duration.js';
import { tryProcessStartTicks } from '../process/proc.js';
import type { HandleDescription } from '../driver-handle.js';
import { containerHandle, type ContainerHandleData } from './container-handle.js';
import type {
  DriverCapabilities,
  InstanceHandle,
  InstanceSpec,
  InstanceStats,
  InstanceStatus,
  RuntimeDriver,
} from '../runtime-driver.js';
import type { ContainerInspect } from './docker-api-types.js';
import { isDockerError, type DockerClient } from './docker-client.js';
import type { ContainerInstanceSpec } from './container-instance-spec.js';
import { containerCreateBody, mountsCwd } from './container-create.js';
import { engineName, identityLabels, LABEL, stackFilter, tryParseIdentity } from './container-labels.js';
import { containerUser, hostUsers, type UserResolver } from './container-user.js';
import { describeStatus, exitStatus } from './exit-status.js';
import { buildImage, type ImageBuildRequest } from './image-build.js';
import { lastLines } from './docker-streams.js';

/** The calls the driver makes; a DockerClient has them all. */
export type DockerDriverClient = Pick<
  DockerClient,
  | 'createContainer'
  | 'startContainer'
  | 'stopContainer'
  | 'inspectContainer'
  | 'tryInspectContainer'
  | 'listContainers'
  | 'containerLogs'
  | 'containerStats'
  | 'removeContainer'
  | 'tryInspectImage'
  | 'pullImage'
  | 'buildImage'
>;

export interface DockerDriverOptions {
  client: DockerDriverClient;
  /**
   * Identifies this Groundwork installation (its state directory is a good value). `list` only
   * returns containers with the same owner, so two installations on one engine never adopt each
   * other's containers.
   */
  owner: string;
  /** Extra labels on every container (tests tag their run with one, to clean up). */
  labels?: Record<string, string>;
  /** Pull an image that is not on this machine before starting (default true). */
  pull?: boolean;
  /** Default host: Groundwork's ports are host ports. */
  network?: string;
  /** Docker rotates container logs itself (json-file); default 10m × 3. */
  logRotation?: { maxSize: string; maxFiles: number };
  /** Turns `user:` names into uids (default: the host's users, created when running as root). */
  resolveUser?: UserResolver;
  sleep?: (ms: number) => Promise<void>;
}

/** Whether this machine has /proc, where a local engine's container pids can be looked at. */
const PROC_VISIBLE = existsSync('/proc/self/stat');

export class DockerDriver implements RuntimeDriver {
  readonly name = 'docker' as const;
  /** users: any uid the engine can run as; limits: the engine's cgroups; adoption: labels. */
  readonly capabilities: DriverCapabilities = { users: true, limits: true, adoption: true };
  private readonly client: DockerDriverClient;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: DockerDriverOptions) {
    this.client = opts.client;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * Creates and starts the container; resolves once it runs. Throws, with nothing running, when
   * the image is missing, the engine refuses, or the instance ends at once (that container is
   * kept, ended, for `docker logs`, and removed by the next start of the same index).
   */
  async start(spec: ContainerInstanceSpec): Promise<InstanceHandle> {
    const where = `service ${spec.service} instance ${spec.index}`;
    if (!spec.image)
      throw new Error(
        `${where}: runtime docker needs an image; set \`image:\` (or \`dockerfile:\`) on service ${spec.service}`,
      );
    if (mountsCwd(spec) && !existsSync(spec.cwd))
      throw new Error(`working directory ${spec.cwd} does not exist; fix \`cwd\` of service ${spec.service}`);
    for (const m of spec.mounts ?? []) {
      if (m.source.startsWith('/') && !existsSync(m.source))
        throw new Error(
          `${where}: mount source ${m.source} (for ${m.target}) does not exist on this machine; create it or fix \`mounts\``,
        );
    }
    await this.ensureImage(spec.image, where);
    await this.removeEnded(spec);
    const name = engineName(spec.stack, spec.id);
    const labels = identityLabels(
      {
        runtime: 'docker',
        owner: this.opts.owner,
        stack: spec.stack,
        service: spec.service,
        instance: spec.id,
        index: spec.index,
        specHash: spec.specHash,
        ports: spec.ports,
      },
      { ...this.opts.labels, ...spec.labels },
    );
    const body = containerCreateBody(spec, {
      image: spec.image,
      labels,
      user: containerUser(spec.user, this.opts.resolveUser ?? hostUsers),
      network: this.opts.network ?? 'host',
      logRotation: this.opts.logRotation ?? { maxSize: '10m', maxFiles: 3 },
    });
    let created: { Id: string; Warnings: string[] | null };
    try {
      created = await this.client.createContainer(name, body);
    } catch (e) {
      if (isDockerError(e, 'conflict'))
        throw new Error(
          `${where}: a container named ${name} already exists; remove it (docker rm -f ${name}) or start with a new instance id`,
        );
      throw new Error(`${where}: the engine refused to create the container: ${(e as Error).message}`);
    }
    let c: ContainerInspect;
    try {
      await this.client.startContainer(created.Id);
      c = await this.client.inspectContainer(created.Id);
      // Running per the engine, but its init already gone: it is about to record the exit.
      for (
        let i = 0;
        i < 100 && c.State.Running && PROC_VISIBLE && tryProcessStartTicks(c.State.Pid) === undefined;
        i++
      ) {
        await this.sleep(20);
        c = await this.client.inspectContainer(created.Id);
      }
    } catch (e) {
      await this.client.removeContainer(created.Id, { force: true }).catch(() => undefined);
      throw new Error(`${where}: the container did not start: ${(e as Error).message}`);
    }
    if (!c.State.Running) {
      // The ended container is kept for its log (the next start of this index removes it). Its
      // output is not put into the message: it may hold values a message must not carry (secrets).
      throw new Error(`${where} ${describeStatus(statusOf(c))} at once; its output: docker logs ${name}`);
    }
    return this.handleOf(c, limitsOf(spec, created.Warnings ?? []));
  }

  /** Ended containers of this instance index (kept for their logs), removed before a new start. */
  private async removeEnded(spec: ContainerInstanceSpec): Promise<void> {
    const found = await this.client.listContainers([
      ...stackFilter('docker', this.opts.owner, spec.stack),
      `${LABEL.service}=${spec.service}`,
      `${LABEL.index}=${spec.index}`,
    ]);
    for (const c of found) {
      if (c.State === 'running' || c.State === 'paused' || c.State === 'restarting') continue;
      await this.client.removeContainer(c.Id).catch(() => undefined);
    }
  }

  /**
   * Stops through the engine: the image's stop signal (SIGTERM), then SIGKILL after `grace`.
   * The engine's grace has whole-second resolution, so it is rounded up.
   */
  async stop(handle: InstanceHandle, grace: Duration): Promise<InstanceStatus> {
    const c = await this.client.tryInspectContainer(handle.id);
    if (!c) return { state: 'missing' };
    if (isSameProcess(handle, c)) {
      try {
        await this.client.stopContainer(handle.id, Math.ceil(grace.toSeconds()));
      } catch (e) {
        if (!isDockerError(e, 'not-found')) throw e;
      }
    }
    return this.inspect(handle);
  }

  async inspect(handle: InstanceHandle): Promise<InstanceStatus> {
    let c = await this.client.tryInspectContainer(handle.id);
    if (!c) return { state: 'missing' };
    let match = processMatch(handle, c);
    // The process just ended and the engine has not recorded it yet: wait for the exit code.
    for (let i = 0; match === 'exiting' && i < 100; i++) {
      await this.sleep(20);
      c = await this.client.tryInspectContainer(handle.id);
      if (!c) return { state: 'missing' };
      match = processMatch(handle, c);
    }
    if (match === 'same') return { state: 'running', pid: c.State.Pid };
    // The container runs another process than the handle's (restarted outside Groundwork): the handle's is gone.
    if (c.State.Running) return { state: 'exited', exitCode: null, signal: null };
    return statusOf(c);
  }

  async list(stack: string): Promise<InstanceHandle[]> {
    const found = await this.client.listContainers(stackFilter('docker', this.opts.owner, stack));
    const handles: InstanceHandle[] = [];
    for (const s of found) {
      const c = await this.client.tryInspectContainer(s.Id);
      if (!c || !tryParseIdentity(c.Config.Labels)) continue;
      handles.push(this.handleOf(c, limitsFromInspect(c)));
    }
    return handles.sort((a, b) => a.index - b.index || a.startedAt.localeCompare(b.startedAt));
  }

  /**
   * The last `lines` lines of the container's output. For a `command` (run by /bin/sh -c) stderr
   * goes to stdout, so the two keep their order, as in a process's log file. For an image's own
   * command or an exec-form command (args), the engine reads stdout and stderr through separate
   * pipes and their relative order is only approximate (a Docker limitation).
   */
  async logs(handle: InstanceHandle, opts: { lines: number }): Promise<string> {
    return lastLines(await this.logsOf(handle.id, opts.lines), opts.lines);
  }

  private async logsOf(id: string, lines: number): Promise<string> {
    try {
      const frames = await this.client.containerLogs(id, { tail: lines });
      return frames.map((f) => f.payload.toString('utf8')).join('');
    } catch (e) {
      if (isDockerError(e, 'not-found')) return '';
      throw e;
    }
  }

  /**
   * Memory is the cgroup's usage without inactive page cache (what `docker stats` shows), CPU the
   * cgroup's total CPU time; undefined unless the handle's process is running.
   */
  async stats(handle: InstanceHandle): Promise<InstanceStats | undefined> {
    const c = await this.client.tryInspectContainer(handle.id);
    if (!c || !isSameProcess(handle, c)) return undefined;
    let s;
    try {
      s = await this.client.containerStats(handle.id);
    } catch (e) {
      if (isDockerError(e, 'not-found') || isDockerError(e, 'conflict')) return undefined;
      throw e;
    }
    const usage = s.memory_stats.usage;
    if (usage === undefined) return undefined;
    const st = s.memory_stats.stats ?? {};
    const inactive = st.total_inactive_file ?? st.inactive_file ?? 0;
    return { rssBytes: Math.max(0, usage - inactive), cpuSeconds: s.cpu_stats.cpu_usage.total_usage / 1e9 };
  }

  /** Removes the container (and its anonymous volumes). Refuses one that still runs. */
  async forget(handle: InstanceHandle): Promise<void> {
    try {
      await this.client.removeContainer(handle.id);
    } catch (e) {
      if (isDockerError(e, 'not-found')) return;
      if (isDockerError(e, 'conflict'))
        throw new Error(`instance ${handle.id} is still running; stop it before forgetting it`);
      throw e;
    }
  }

  /** Builds `tag` from a Dockerfile in `contextDir`, streaming the builder's output to onProgress. */
  async buildImage(req: ImageBuildRequest): Promise<{ id: string; tag: string }> {
    return buildImage(this.client, req);
  }

  private async ensureImage(image: string, where: string): Promise<void> {
    if (await this.client.tryInspectImage(image)) return;
    if (this.opts.pull === false)
      throw new Error(
        `${where}: image ${image} is not on this machine; build it (dockerfile:), load it (docker load) or import it (docker import)`,
      );
    try {
      await this.client.pullImage(image);
    } catch (e) {
      throw new Error(
        `${where}: image ${image} is not on this machine and pulling it failed (${(e as Error).message}); build, load or import it first`,
      );
    }
  }

  describe(handle: InstanceHandle): HandleDescription {
    return containerHandle.describe(handle.handle, handle.id);
  }

  private handleOf(c: ContainerInspect, limits: string): InstanceHandle {
    const id = tryParseIdentity(c.Config.Labels);
    const name = c.Name.replace(/^\//, '');
    const pid = c.State.Running ? c.State.Pid : 0;
    return {
      id: name,
      service: id?.service ?? '',
      index: id?.index ?? 0,
      handle: containerHandle.make({
        pid,
        startTicks: pid ? (tryProcessStartTicks(pid) ?? 0) : 0,
        containerId: c.Id,
      }),
      startedAt: c.State.StartedAt,
      specHash: id?.specHash ?? '',
      logFile: `docker logs ${name}`,
      ports: id?.ports ?? {},
      limits,
    };
  }
}

/**
 * Whether the container still runs the handle's process: 'same'; 'exiting' when the engine still
 * says running but the process is gone (or a zombie) and the engine is about to record its exit;
 * 'other' otherwise. Without /proc access to the engine's pids (startTicks 0) the pid decides.
 */
function processMatch(h: InstanceHandle, c: ContainerInspect): 'same' | 'exiting' | 'other' {
  const handle: ContainerHandleData = containerHandle.read(h.handle, h.id);
  if (!c.State.Running || c.State.Pid !== handle.pid || handle.pid <= 0) return 'other';
  if (handle.startTicks === 0) return 'same';
  const ticks = tryProcessStartTicks(c.State.Pid);
  if (ticks === undefined) return 'exiting';
  return ticks === handle.startTicks ? 'same' : 'other';
}

function isSameProcess(handle: InstanceHandle, c: ContainerInspect): boolean {
  return processMatch(handle, c) === 'same';
}

function statusOf(c: ContainerInspect): InstanceStatus {
  if (c.State.Status === 'created') return { state: 'exited', exitCode: null, signal: null };
  return exitStatus(c.State.ExitCode, c.State.OOMKilled);
}

function limitsOf(spec: InstanceSpec, warnings: string[]): string {
  const parts: string[] = [];
  if (spec.memoryBytes) parts.push(`memory ${spec.memoryBytes} bytes`);
  if (spec.cpuCores) parts.push(`cpu ${spec.cpuCores}`);
  const relevant = warnings.filter((w) => /memory|cpu|swap|limit/i.test(w));
  return `docker${parts.length ? `: ${parts.join(', ')}` : ''}${relevant.length ? ` (engine: ${relevant.join('; ')})` : ''}`;
}

function limitsFromInspect(c: ContainerInspect): string {
  const parts: string[] = [];
  if (c.HostConfig.Memory) parts.push(`memory ${c.HostConfig.Memory} bytes`);
  if (c.HostConfig.NanoCpus) parts.push(`cpu ${c.HostConfig.NanoCpus / 1e9}`);
  return `docker${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
