/** The normalised service spec as stored in plans and state (see model/build-model.ts). */
import type { JsonObject } from '../../model/json.js';
import type { Runtime, RestartPolicy } from '../../config/schema.js';
import { parseServiceAddress, type ServiceAddress } from './service-address.js';
import type { EnvFileSpec } from '../../config/env-file.js';

export interface ProbeSpec {
  http?: { path: string; port?: string; status: string; body?: string };
  tcp?: { port?: string };
  exec?: { command: string };
  interval: string;
  timeout: string;
  start_period: string;
  healthy: number;
  unhealthy: number;
}

export interface ServiceSpec {
  runtime: Runtime;
  /** Required for runtime process (validated); for containers it overrides the image's command. */
  command: string | null;
  image: string | null;
  dockerfile: string | null;
  /** Container path -> volume name or absolute host path. */
  mounts: Record<string, string>;
  build: { command: string; cwd: string; timeout: string } | null;
  source: string | null;
  args: string[] | null;
  cwd: string;
  env: Record<string, string>;
  /** Files of `KEY=VALUE` lines read when an instance starts (env-file.ts); `env` wins. Absent: none. */
  env_file?: EnvFileSpec[];
  replicas: number;
  ports: Record<string, 'auto' | number>;
  health: ProbeSpec | null;
  liveness: ProbeSpec | null;
  restart: RestartPolicy;
  stop_grace: string;
  deploy: {
    strategy: 'rolling' | 'blue-green' | 'canary';
    max_surge: number;
    max_unavailable: number;
    auto_rollback: boolean;
    progress_deadline: string;
    keep_releases: number;
    drain_timeout: string;
    monitor: string;
    blue_green: { keep_old_for: string };
    canary: {
      steps: { weight: number; pause: string }[];
      max_error_rate: number;
      max_p95_ratio: number;
      min_requests: number;
    };
  };
  user: string | null;
  resources: { memory?: string; cpu?: number } | null;
  depends_on: string[];
  /**
   * Versions of the encrypted secrets the env references (security/secret-versions.ts): a new
   * version changes this field, so exactly the services that use the secret roll. Absent: none.
   */
  secrets?: Record<string, number>;
  /** As written in the stack file (absent: the driver's defaults); see runtime/process/log-limits.ts. */
  logs?: { max_size?: string; max_files?: number; rate?: string; burst?: string };
}

/** What state records about each running instance. */
export interface InstanceOutput {
  index: number;
  id: string;
  pid: number;
  pgid: number;
  pgidStartTicks?: number;
  startTicks: number;
  startedAt: string;
  specHash: string;
  logFile: string;
  limits: string;
  ports: Record<string, number>;
  /** Directory the instance runs in (a release directory, or the stack directory). */
  codeDir?: string;
  /** Release sequence the instance belongs to. */
  release?: number | null;
  /** Restarts by the supervisor since the instance was last deployed. */
  restarts?: number;
  /** For an instance that is gone: how it ended, when known. */
  exitCode?: number | null;
  /** Set by refresh when the instance is no longer running. */
  gone?: string;
}

export interface ServiceOutputs {
  instances: InstanceOutput[];
  /** The release that runs (absent before the first release was recorded). */
  release?: { seq: number; dir: string } | null;
  /** Blue-green: the previous set, kept warm for instant rollback until `until`. */
  standby?: { release: number | null; until: string; instances: InstanceOutput[] } | null;
  /** The stable address (locally run services with ports); see service-address.ts. */
  address?: ServiceAddress | null;
}

export function asServiceSpec(spec: JsonObject): ServiceSpec {
  return spec as unknown as ServiceSpec;
}

export function asServiceOutputs(outputs: JsonObject): ServiceOutputs {
  const o = outputs as unknown as Partial<ServiceOutputs>;
  return {
    instances: Array.isArray(o.instances) ? o.instances : [],
    release: o.release ?? null,
    standby: o.standby ?? null,
    address: parseServiceAddress(o.address),
  };
}

export function toJson(o: ServiceOutputs): JsonObject {
  return o as unknown as JsonObject;
}
