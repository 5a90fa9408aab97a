/**
 * A cluster engine runs a whole Groundwork service (all its replicas) as one cluster service and
 * owns placement, restarts and rolling updates itself. That is a different shape from
 * RuntimeDriver, which starts and stops single instances on this machine; so the `swarm` runtime
 * is this service-level interface, and the service kind hands a `runtime: swarm` service to it
 * whole: deploy → follow convergence → report converged / rolled back.
 *
 * Failure semantics: `deploy` and `rollback` never throw for a rollout that goes wrong; they
 * return the outcome (rolled back, paused, failed, timed out) with the reason. They throw only
 * when the request itself is refused (engine unreachable, not a manager, invalid spec), and
 * then nothing was changed.
 */
import type { Duration } from '../../util/duration.js';
import type { InstanceMount } from '../docker/container-instance-spec.js';

export type ClusterProbe =
  /** GET http://127.0.0.1:<port><path> from inside the task (busybox-style `wget` in the image); 2xx passes. */
  | { kind: 'http'; port: number; path: string; body?: string }
  /** A TCP connect to 127.0.0.1:<port> from inside the task (`nc` in the image). */
  | { kind: 'tcp'; port: number }
  /** A shell command inside the task; exit 0 passes. */
  | { kind: 'exec'; command: string };

/** Becomes the task's container health check, so the cluster's update monitor sees failures. */
export interface ClusterHealthCheck {
  probe: ClusterProbe;
  interval: Duration;
  timeout: Duration;
  /** Consecutive failures before the task counts as unhealthy (and is replaced). */
  retries: number;
  startPeriod: Duration;
}

export interface ClusterUpdatePolicy {
  /** Tasks replaced at a time (default 1). */
  parallelism: number;
  /** start-first: the new task runs (and is healthy) before the old one stops. */
  order: 'start-first' | 'stop-first';
  failureAction: 'rollback' | 'pause' | 'continue';
  /** How long each new task is watched for failure (default 5s). */
  monitor: Duration;
  /** Fraction of tasks that may fail before failureAction applies (default 0). */
  maxFailureRatio: number;
  /** Pause between batches (default 0). */
  delay: Duration;
}

export interface ClusterRestartPolicy {
  /** always → any; on-failure; never → none. */
  condition: 'always' | 'on-failure' | 'never';
  delay: Duration;
  /** null: unlimited. */
  maxAttempts: number | null;
}

export type ClusterNetwork =
  /** The node's network stack: the service listens on host ports (one task per port per node). */
  | { mode: 'host' }
  /** Overlay networks, with ports published through the routing mesh (ingress) or per node (host). */
  | {
      mode: 'overlay';
      networks: string[];
      ports: { target: number; published: number; protocol?: 'tcp' | 'udp'; publishMode?: 'ingress' | 'host' }[];
    };

export interface ClusterServiceSpec {
  /** The cluster service's name; see clusterServiceName(). */
  name: string;
  stack: string;
  service: string;
  image: string;
  /** '' runs the image's own command; otherwise as for InstanceSpec (args → exec form, else /bin/sh -c). */
  command: string;
  args: string[] | null;
  env: Record<string, string>;
  /** Working directory in the container; null keeps the image's. */
  workdir: string | null;
  /** uid[:gid] or a name the image knows; the cluster's nodes do not share this machine's users. */
  user: string | null;
  /** Bind sources must exist on every node the service may run on. */
  mounts: InstanceMount[];
  replicas: number;
  memoryBytes: number | null;
  cpuCores: number | null;
  restart: ClusterRestartPolicy;
  health: ClusterHealthCheck | null;
  update: ClusterUpdatePolicy;
  /** Also used for rollbacks. */
  rollback?: ClusterUpdatePolicy;
  stopGrace: Duration;
  network: ClusterNetwork;
  placement?: { constraints?: string[]; maxReplicasPerNode?: number };
  /** Hash of the resolved Groundwork spec, kept on the service (like an instance's specHash). */
  specHash: string;
  labels?: Record<string, string>;
}

export const CLUSTER_OUTCOMES = ['converged', 'rolled-back', 'paused', 'timed-out'] as const;
export type ClusterOutcome = (typeof CLUSTER_OUTCOMES)[number];

export interface ClusterTask {
  id: string;
  slot: number | null;
  /** Node hostname (or id when unknown). */
  node: string;
  state: string;
  desiredState: string;
  /** The engine's message for the state ("started", "task: non-zero exit (1)"...). */
  message: string;
  error: string | null;
  exitCode: number | null;
  containerId: string | null;
  /** Host pid of the task's container init, on its node. */
  pid: number | null;
  /** The Groundwork spec hash the task was created from. */
  specHash: string | null;
  updatedAt: string;
}

export interface ClusterServiceStatus {
  name: string;
  id: string;
  stack: string;
  service: string;
  specHash: string;
  image: string;
  replicas: number;
  /** The last rolling update, if any: updating / completed / paused / rollback_started / rollback_completed... */
  update: { state: string; message: string; startedAt: string | null; completedAt: string | null } | null;
  /** Tasks the cluster wants running, then the most recent others (newest first), at most 3 per slot. */
  tasks: ClusterTask[];
  running: number;
}

export interface ClusterDeployResult {
  outcome: ClusterOutcome;
  /** What happened, with the cluster's reason when it rolled back or paused. */
  message: string;
  took: Duration;
  status: ClusterServiceStatus;
}

export interface ClusterProgress {
  phase: 'creating' | 'updating' | 'rolling-back' | 'converging';
  running: number;
  desired: number;
  /** The cluster's update state, when a rolling update is under way. */
  updateState: string | null;
  message: string;
}

export interface ClusterDeployOptions {
  onProgress?: (p: ClusterProgress) => void;
  /** How long the rollout may take before the result is 'timed-out' (default 5m). */
  deadline?: Duration;
}

export interface ClusterNode {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  leader: boolean;
  availability: 'active' | 'pause' | 'drain';
  state: string;
  address: string;
  engineVersion: string;
  labels: Record<string, string>;
}

export interface ClusterRuntime {
  readonly name: 'swarm';
  /** Creates the service, or updates it to `spec`, and follows the rollout until it settles. */
  deploy(spec: ClusterServiceSpec, opts?: ClusterDeployOptions): Promise<ClusterDeployResult>;
  /** Rolls back to the service's previous spec and follows that until it settles. */
  rollback(name: string, opts?: ClusterDeployOptions): Promise<ClusterDeployResult>;
  /** Removes the service; resolves when its tasks on this node are gone. Removing a missing service is fine. */
  remove(name: string): Promise<void>;
  inspect(name: string): Promise<ClusterServiceStatus | undefined>;
  /** This installation's services of `stack` (for refresh and adoption). */
  list(stack: string): Promise<ClusterServiceStatus[]>;
  nodes(): Promise<ClusterNode[]>;
  /** Last `lines` lines of all the service's tasks' output. */
  logs(name: string, opts: { lines: number }): Promise<string>;
}

/** `<stack>_<service>`, as `docker stack deploy` names services. */
export function clusterServiceName(stack: string, service: string): string {
  return `${stack}_${service}`.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 63);
}
