/**
 * What container runtimes need beyond InstanceSpec. Proposed as OPTIONAL fields of InstanceSpec
 * (so the process driver stays valid and ignores them); until then the docker and swarm drivers
 * accept `InstanceSpec & ContainerFields`.
 */
import type { InstanceSpec } from '../runtime-driver.js';

export interface InstanceMount {
  /** An absolute host path (bind mount, resolved by the caller) or the name of a Docker volume. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly?: boolean;
}

export interface ContainerFields {
  /** The image to run, e.g. `groundwork-test:latest`. Required by docker and swarm. */
  image?: string;
  mounts?: InstanceMount[];
  /**
   * Bind-mount `cwd` (a host directory) at the same path and start there, so a command sees the
   * release's files as a process would. Default: true when `command` is set, false when the
   * image's own command runs (its WORKDIR is kept).
   */
  mountCwd?: boolean;
  /** Extra labels on the container, e.g. `groundwork.release`. */
  labels?: Record<string, string>;
}

export type ContainerInstanceSpec = InstanceSpec & ContainerFields;
