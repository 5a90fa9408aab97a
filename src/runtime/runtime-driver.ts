/**
 * Where instances run. Small lifecycle interface; every driver runs the shared contract suite
 * (test/runtime/runtime-driver.contract.ts).
 *
 * Failure semantics: `start` that throws leaves nothing running. `stop` that resolves means the
 * instance is gone. `inspect` never throws for a gone instance; it says `missing` or `exited`.
 */
import type { Duration } from '../util/duration.js';
import type { Runtime } from '../config/schema.js';
import type { DriverHandle, HandleDescription } from './driver-handle.js';

export interface InstanceSpec {
  /** `<stack>.<service>.<index>` plus a generation suffix, unique per start. */
  id: string;
  stack: string;
  service: string;
  index: number;
  command: string;
  /** When set, command is the executable and these its arguments; otherwise command runs via /bin/sh -c. */
  args: string[] | null;
  cwd: string;
  env: Record<string, string>;
  user: string | null;
  /** Limits; drivers that cannot enforce them say so in `limits` of the handle. */
  memoryBytes: number | null;
  /** Ports allocated to this instance by name, kept in its record so adoption keeps them. */
  ports: Record<string, number>;
  cpuCores: number | null;
  /** A hash of the resolved spec, so an adopted instance can be compared to the desired one. */
  specHash: string;
  /** Container runtimes: the image to run. */
  image?: string;
  /** Container runtimes: an absolute host path (bind mount) or a Docker volume name, at `target`. */
  mounts?: { source: string; target: string; readOnly?: boolean }[];
  /** Container runtimes: bind-mount `cwd` at the same path and start there (default when a command is set). */
  mountCwd?: boolean;
  /** Container runtimes: extra labels, e.g. groundwork.release. */
  labels?: Record<string, string>;
  /** Limits on the instance's log (process runtime); the driver's defaults where absent. */
  logs?: LogLimits;
  /**
   * Secret values in `env`, by name: replaced by `[secret:NAME]` in the instance's log before it
   * reaches disk (process runtime). Never recorded, never passed on a command line.
   */
  redact?: { name: string; value: string }[];
}

/**
 * Bounds on what an instance's output may cost: disk at most maxBytes × maxFiles, and lines
 * over rateBytesPerSecond (after a burst of burstBytes) dropped and counted.
 */
export interface LogLimits {
  maxBytes: number;
  /** Files kept, the live one included. */
  maxFiles: number;
  /** null: no rate limit. */
  rateBytesPerSecond: number | null;
  burstBytes: number;
}

export interface InstanceHandle {
  id: string;
  service: string;
  index: number;
  /**
   * What the driver needs to find this very instance again (pid and start time, a container):
   * opaque to everyone but the driver that made it; `describe` tells what may be shown of it.
   */
  handle: DriverHandle;
  startedAt: string;
  specHash: string;
  logFile: string;
  ports: Record<string, number>;
  /** e.g. 'cgroup v2' or 'not enforced: /sys/fs/cgroup is read-only'. */
  limits: string;
}

export type InstanceStatus =
  | { state: 'running'; pid: number }
  | { state: 'exited'; exitCode: number | null; signal: string | null }
  | { state: 'missing' };

export interface InstanceStats {
  cpuSeconds: number;
  rssBytes: number;
}

export interface DriverCapabilities {
  users: boolean;
  limits: boolean;
  adoption: boolean;
}

export interface RuntimeDriver {
  readonly name: Runtime;
  readonly capabilities: DriverCapabilities;
  start(spec: InstanceSpec): Promise<InstanceHandle>;
  /** SIGTERM, then after `grace` SIGKILL. Resolves when the instance is gone. */
  stop(handle: InstanceHandle, grace: Duration): Promise<InstanceStatus>;
  inspect(handle: InstanceHandle): Promise<InstanceStatus>;
  /** Instances of this stack that this driver can find, for adoption after a restart. */
  list(stack: string): Promise<InstanceHandle[]>;
  /** Last `lines` lines of the instance's log. */
  logs(handle: InstanceHandle, opts: { lines: number }): Promise<string>;
  stats(handle: InstanceHandle): Promise<InstanceStats | undefined>;
  /** Forget the records of a gone instance. */
  forget(handle: InstanceHandle): Promise<void>;
  /** What status and messages may show of the instance's handle (pid, container id); reads no world. */
  describe(handle: InstanceHandle): HandleDescription;
}

/** `start` failed because the instance ended at once; carries how it ended. */
export class InstanceExitedError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}
