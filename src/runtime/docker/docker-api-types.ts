/**
 * The few Docker Engine API (v1.41) shapes Groundwork sends and reads, named as the API names
 * them (PascalCase), so they can be checked against https://docs.docker.com/engine/api/v1.41/.
 * Only the fields used are declared; the engine sends more.
 */

export interface EngineInfo {
  ServerVersion: string;
  Name: string;
  Swarm: {
    NodeID: string;
    LocalNodeState: 'inactive' | 'pending' | 'active' | 'error' | 'locked';
    ControlAvailable: boolean;
  };
  CgroupVersion?: string;
}

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
}

export interface BindOrVolumeMount {
  Type: 'bind' | 'volume';
  Source: string;
  Target: string;
  ReadOnly?: boolean;
}

export interface HealthConfig {
  /** ['CMD-SHELL', script] or ['CMD', exe, ...args] or ['NONE']. */
  Test: string[];
  /** Nanoseconds. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface ContainerCreateBody {
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  HostConfig: {
    NetworkMode?: string;
    Mounts?: BindOrVolumeMount[];
    Memory?: number;
    MemorySwap?: number;
    NanoCpus?: number;
    RestartPolicy?: { Name: 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount?: number };
    Init?: boolean;
    LogConfig?: { Type: string; Config: Record<string, string> };
    AutoRemove?: boolean;
    /** `name:ip` lines added to the container's /etc/hosts (works with the host network too). */
    ExtraHosts?: string[];
  };
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: {
    Status: 'starting' | 'healthy' | 'unhealthy' | 'none';
    FailingStreak: number;
    Log?: { ExitCode: number; Output: string }[];
  };
}

export interface ContainerInspect {
  Id: string;
  /** With a leading slash, as the API reports it. */
  Name: string;
  Created: string;
  State: ContainerState;
  Config: {
    Image: string;
    Labels: Record<string, string> | null;
    Tty: boolean;
    Env: string[] | null;
    WorkingDir: string;
    User: string;
    Entrypoint: string[] | null;
    Cmd: string[] | null;
  };
  HostConfig: {
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    NetworkMode: string;
    RestartPolicy: { Name: string };
    Init: boolean | null;
  };
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  Labels: Record<string, string>;
  State: string;
  Status: string;
  Created: number;
}

export interface ContainerStats {
  memory_stats: {
    usage?: number;
    limit?: number;
    /** cgroup v1: cache, rss, total_inactive_file...; cgroup v2: anon, file, inactive_file... */
    stats?: Record<string, number>;
  };
  cpu_stats: { cpu_usage: { total_usage: number }; online_cpus?: number };
  pids_stats?: { current?: number };
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  Created: string;
  Size: number;
  Config: {
    Entrypoint: string[] | null;
    Cmd: string[] | null;
    WorkingDir: string;
    User: string;
    Env: string[] | null;
  } | null;
}

/** One line of the newline-delimited JSON that build and pull stream back. */
export interface ProgressMessage {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message: string };
  aux?: { ID?: string };
}

// ---- Swarm ----

export interface SwarmVersion {
  Index: number;
}

export interface SwarmMount {
  Type: 'bind' | 'volume';
  Source: string;
  Target: string;
  ReadOnly?: boolean;
}

export interface SwarmContainerSpec {
  Image: string;
  /** Replaces the image's ENTRYPOINT (and then its CMD is not used). */
  Command?: string[];
  /** Replaces the image's CMD. */
  Args?: string[];
  Env?: string[];
  Dir?: string;
  User?: string;
  Labels?: Record<string, string>;
  Mounts?: SwarmMount[];
  Init?: boolean;
  /** Extra /etc/hosts lines of each task, in hosts(5) form: `IP_address canonical_hostname [aliases...]`. */
  Hosts?: string[];
  /** Nanoseconds. */
  StopGracePeriod?: number;
  StopSignal?: string;
  HealthCheck?: HealthConfig;
}

export interface SwarmServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: SwarmContainerSpec;
    Resources?: {
      Limits?: { MemoryBytes?: number; NanoCPUs?: number };
      Reservations?: { MemoryBytes?: number; NanoCPUs?: number };
    };
    RestartPolicy?: { Condition: 'none' | 'on-failure' | 'any'; Delay?: number; MaxAttempts?: number; Window?: number };
    Placement?: { Constraints?: string[]; MaxReplicas?: number };
    Networks?: { Target: string; Aliases?: string[] }[];
    LogDriver?: { Name: string; Options?: Record<string, string> };
    ForceUpdate?: number;
  };
  Mode: { Replicated: { Replicas: number } };
  UpdateConfig?: SwarmUpdateConfig;
  RollbackConfig?: SwarmUpdateConfig;
  EndpointSpec?: {
    Mode?: 'vip' | 'dnsrr';
    Ports?: { Protocol: 'tcp' | 'udp'; TargetPort: number; PublishedPort?: number; PublishMode?: 'ingress' | 'host' }[];
  };
}

export interface SwarmUpdateConfig {
  Parallelism: number;
  /** Nanoseconds between batches. */
  Delay?: number;
  FailureAction: 'continue' | 'pause' | 'rollback';
  /** Nanoseconds each updated task is watched for failure. */
  Monitor: number;
  MaxFailureRatio: number;
  Order: 'stop-first' | 'start-first';
}

export type SwarmUpdateState =
  'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface SwarmService {
  ID: string;
  Version: SwarmVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: SwarmServiceSpec;
  PreviousSpec?: SwarmServiceSpec;
  UpdateStatus?: { State: SwarmUpdateState; StartedAt?: string; CompletedAt?: string; Message?: string };
}

export type SwarmTaskState =
  | 'new'
  | 'allocated'
  | 'pending'
  | 'assigned'
  | 'accepted'
  | 'preparing'
  | 'ready'
  | 'starting'
  | 'running'
  | 'complete'
  | 'shutdown'
  | 'failed'
  | 'rejected'
  | 'remove'
  | 'orphaned';

export interface SwarmTask {
  ID: string;
  Version: SwarmVersion;
  CreatedAt: string;
  UpdatedAt: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: SwarmTaskState;
  Spec: { ContainerSpec: SwarmContainerSpec };
  Status: {
    Timestamp: string;
    State: SwarmTaskState;
    Message: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
  };
}

export interface SwarmNode {
  ID: string;
  Description: { Hostname: string; Engine: { EngineVersion: string }; Platform?: { Architecture: string; OS: string } };
  Spec: { Role: 'manager' | 'worker'; Availability: 'active' | 'pause' | 'drain'; Labels?: Record<string, string> };
  Status: { State: 'unknown' | 'down' | 'ready' | 'disconnected'; Addr: string; Message?: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string };
}
