/**
 * InstanceSpec → the Engine API's container create body. Pure, apart from resolving a user name
 * (see `containerUser`), so the mapping is testable without an engine.
 */
import type { BindOrVolumeMount, ContainerCreateBody } from './docker-api-types.js';
import type { ContainerInstanceSpec, InstanceMount } from './container-instance-spec.js';

export interface CommandOverride {
  /** Replaces the image's ENTRYPOINT; absent keeps it. */
  entrypoint?: string[];
  /** Replaces the image's CMD; absent keeps it. */
  cmd?: string[];
}

/**
 * - command and args: `[command, ...args]` runs directly (entrypoint cleared);
 * - command alone: `/bin/sh -c command` (entrypoint cleared), as for processes, with stderr sent
 *   to stdout: the engine reads the two through separate pipes and cannot keep their order,
 *   while one stream keeps the log in the order it was written (as a process's log file);
 * - args alone (command ''): they replace the image's CMD and its ENTRYPOINT stays;
 * - neither: the image's own ENTRYPOINT and CMD.
 */
export function commandOverride(command: string, args: string[] | null): CommandOverride {
  if (command !== '')
    return { entrypoint: [], cmd: args ? [command, ...args] : ['/bin/sh', '-c', `exec 2>&1\n${command}`] };
  if (args) return { cmd: args };
  return {};
}

/** Whether `cwd` is bind-mounted and used as the working directory (see ContainerFields.mountCwd). */
export function mountsCwd(spec: Pick<ContainerInstanceSpec, 'mountCwd' | 'command'>): boolean {
  return spec.mountCwd ?? spec.command !== '';
}

export function engineMounts(
  spec: Pick<ContainerInstanceSpec, 'mounts' | 'cwd' | 'mountCwd' | 'command'>,
): BindOrVolumeMount[] {
  const mounts: BindOrVolumeMount[] = (spec.mounts ?? []).map((m: InstanceMount) => ({
    Type: m.source.startsWith('/') ? 'bind' : 'volume',
    Source: m.source,
    Target: m.target,
    ...(m.readOnly ? { ReadOnly: true } : {}),
  }));
  if (mountsCwd(spec) && !mounts.some((m) => m.Target === spec.cwd))
    mounts.push({ Type: 'bind', Source: spec.cwd, Target: spec.cwd });
  return mounts;
}

export function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/**
 * The environment variable whose value lists extra /etc/hosts entries, `name=ip name2=ip2`:
 * `groundwork import compose` sets it so that compose service names resolve to the services'
 * stable addresses (src/compose/to-stack.ts). An env variable, not a stack key, so that the
 * stack schema stays as it is; malformed entries are skipped.
 */
export const EXTRA_HOSTS_ENV = 'GROUNDWORK_EXTRA_HOSTS';

/** `name:ip` entries from the instance's GROUNDWORK_EXTRA_HOSTS. */
export function extraHosts(env: Record<string, string>): string[] {
  const raw = env[EXTRA_HOSTS_ENV];
  if (!raw) return [];
  const out: string[] = [];
  for (const entry of raw.split(/\s+/)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=([0-9.]+|[0-9A-Fa-f:]+)$/.exec(entry);
    if (m) out.push(`${m[1]}:${m[2]}`);
  }
  return out;
}

export interface CreateOptions {
  image: string;
  labels: Record<string, string>;
  /** The container user, already resolved to `uid:gid` (or a numeric id or a name the image knows). */
  user: string | undefined;
  /** Network mode; Groundwork's ports are host ports, so the default is host. */
  network: string;
  logRotation: { maxSize: string; maxFiles: number };
}

export function containerCreateBody(spec: ContainerInstanceSpec, opts: CreateOptions): ContainerCreateBody {
  const cmd = commandOverride(spec.command, spec.args);
  const hosts = extraHosts(spec.env);
  return {
    Image: opts.image,
    ...(cmd.entrypoint ? { Entrypoint: cmd.entrypoint } : {}),
    ...(cmd.cmd ? { Cmd: cmd.cmd } : {}),
    Env: envList(spec.env),
    ...(mountsCwd(spec) ? { WorkingDir: spec.cwd } : {}),
    ...(opts.user ? { User: opts.user } : {}),
    Labels: opts.labels,
    HostConfig: {
      NetworkMode: opts.network,
      Mounts: engineMounts(spec),
      ...(hosts.length ? { ExtraHosts: hosts } : {}),
      ...(spec.memoryBytes ? { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes } : {}),
      ...(spec.cpuCores ? { NanoCpus: Math.round(spec.cpuCores * 1e9) } : {}),
      // Groundwork's supervisor restarts instances, not Docker: see DockerDriver.
      RestartPolicy: { Name: 'no' },
      // tini as pid 1: forwards signals to the service (a shell as pid 1 would ignore SIGTERM
      // without a trap) and reaps zombies; exits 128+N when the service died of signal N.
      Init: true,
      LogConfig: {
        Type: 'json-file',
        Config: { 'max-size': opts.logRotation.maxSize, 'max-file': String(opts.logRotation.maxFiles) },
      },
    },
  };
}
