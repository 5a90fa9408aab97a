/**
 * ClusterServiceSpec → the Swarm service spec the Engine API takes. Pure, so the mapping is
 * testable without an engine.
 *
 * Every task carries a hash of the task template it was made from (a container label), so
 * convergence is "the wanted number of tasks run, all made from the service's current template",
 * which holds for first deploys, updates, scale changes and rollbacks alike.
 */
import { createHash } from 'node:crypto';
import type { HealthConfig, SwarmServiceSpec, SwarmUpdateConfig } from '../docker/docker-api-types.js';
import { commandOverride, envList, extraHosts } from '../docker/container-create.js';
import { LABEL } from '../docker/container-labels.js';
import type { ClusterHealthCheck, ClusterProbe, ClusterServiceSpec, ClusterUpdatePolicy } from './cluster-runtime.js';

export const TEMPLATE_HASH_LABEL = 'groundwork.template-hash';

const NS = 1_000_000;

export interface SwarmSpecOptions {
  owner: string;
  /** Extra labels for the service and its containers (tests tag their run). */
  labels?: Record<string, string>;
}

export function swarmServiceSpec(spec: ClusterServiceSpec, opts: SwarmSpecOptions): SwarmServiceSpec {
  const cmd = commandOverride(spec.command, spec.args);
  // Compose names → stable addresses (GROUNDWORK_EXTRA_HOSTS, set by the compose import), as
  // ExtraHosts does for containers; Swarm takes them in hosts(5) order: address first.
  const hosts = extraHosts(spec.env).map((h) => {
    const colon = h.indexOf(':');
    return `${h.slice(colon + 1)} ${h.slice(0, colon)}`;
  });
  const template: SwarmServiceSpec['TaskTemplate'] = {
    ContainerSpec: {
      Image: spec.image,
      // Swarm's Command replaces the ENTRYPOINT (and drops the image's CMD); Args replaces the CMD.
      ...(cmd.entrypoint ? { Command: cmd.cmd ?? [] } : cmd.cmd ? { Args: cmd.cmd } : {}),
      Env: envList(spec.env),
      ...(spec.workdir ? { Dir: spec.workdir } : {}),
      ...(spec.user ? { User: spec.user } : {}),
      Labels: {
        ...opts.labels,
        ...spec.labels,
        [LABEL.runtime]: 'swarm',
        [LABEL.stack]: spec.stack,
        [LABEL.service]: spec.service,
        [LABEL.specHash]: spec.specHash,
      },
      Mounts: spec.mounts.map((m) => ({
        Type: m.source.startsWith('/') ? 'bind' : 'volume',
        Source: m.source,
        Target: m.target,
        ...(m.readOnly ? { ReadOnly: true } : {}),
      })),
      Init: true,
      ...(hosts.length ? { Hosts: hosts } : {}),
      StopGracePeriod: spec.stopGrace.toMilliseconds() * NS,
      ...(spec.health ? { HealthCheck: healthConfig(spec.health) } : {}),
    },
    Resources: {
      Limits: {
        ...(spec.memoryBytes ? { MemoryBytes: spec.memoryBytes } : {}),
        ...(spec.cpuCores ? { NanoCPUs: Math.round(spec.cpuCores * 1e9) } : {}),
      },
    },
    RestartPolicy: {
      Condition: ({ always: 'any', 'on-failure': 'on-failure', never: 'none' } as const)[spec.restart.condition],
      Delay: spec.restart.delay.toMilliseconds() * NS,
      MaxAttempts: spec.restart.maxAttempts ?? 0,
    },
    ...(spec.placement
      ? {
          Placement: {
            ...(spec.placement.constraints ? { Constraints: spec.placement.constraints } : {}),
            ...(spec.placement.maxReplicasPerNode ? { MaxReplicas: spec.placement.maxReplicasPerNode } : {}),
          },
        }
      : {}),
    Networks: spec.network.mode === 'host' ? [{ Target: 'host' }] : spec.network.networks.map((n) => ({ Target: n })),
    LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '3' } },
  };
  const templateHash = hashOf(template);
  template.ContainerSpec.Labels = { ...template.ContainerSpec.Labels, [TEMPLATE_HASH_LABEL]: templateHash };
  return {
    Name: spec.name,
    Labels: {
      ...opts.labels,
      ...spec.labels,
      [LABEL.runtime]: 'swarm',
      [LABEL.owner]: opts.owner,
      [LABEL.stack]: spec.stack,
      [LABEL.service]: spec.service,
      [LABEL.specHash]: spec.specHash,
      [TEMPLATE_HASH_LABEL]: templateHash,
    },
    TaskTemplate: template,
    Mode: { Replicated: { Replicas: spec.replicas } },
    UpdateConfig: updateConfig(spec.update),
    // A rollback that fails cannot itself roll back; it pauses for a human.
    RollbackConfig: updateConfig(spec.rollback ?? { ...spec.update, failureAction: 'pause' }),
    EndpointSpec:
      spec.network.mode === 'host'
        ? { Mode: 'dnsrr' }
        : {
            Mode: 'vip',
            Ports: spec.network.ports.map((p) => ({
              Protocol: p.protocol ?? 'tcp',
              TargetPort: p.target,
              PublishedPort: p.published,
              PublishMode: p.publishMode ?? 'ingress',
            })),
          },
  };
}

function updateConfig(u: ClusterUpdatePolicy): SwarmUpdateConfig {
  return {
    Parallelism: u.parallelism,
    Delay: u.delay.toMilliseconds() * NS,
    FailureAction: u.failureAction,
    Monitor: u.monitor.toMilliseconds() * NS,
    MaxFailureRatio: u.maxFailureRatio,
    Order: u.order,
  };
}

function hashOf(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
}

/** The probe as a container health check that runs inside the task. */
export function healthConfig(h: ClusterHealthCheck): HealthConfig {
  return {
    Test: ['CMD-SHELL', probeScript(h.probe)],
    Interval: h.interval.toMilliseconds() * NS,
    Timeout: h.timeout.toMilliseconds() * NS,
    Retries: h.retries,
    ...(h.startPeriod.toMilliseconds() > 0 ? { StartPeriod: h.startPeriod.toMilliseconds() * NS } : {}),
  };
}

/**
 * Shell for the probe, with the tools a busybox (or Debian/Alpine) image has: wget for http
 * (it fails on a non-2xx status), nc for tcp (`-z` where supported, else busybox's `-e true`).
 * Images without them need an `exec` probe.
 */
export function probeScript(p: ClusterProbe): string {
  switch (p.kind) {
    case 'http': {
      const url = `http://127.0.0.1:${p.port}${p.path.startsWith('/') ? p.path : `/${p.path}`}`;
      return p.body === undefined
        ? `wget -q -O - ${sq(url)} >/dev/null`
        : `wget -q -O - ${sq(url)} | grep -qF -- ${sq(p.body)}`;
    }
    case 'tcp':
      return `nc -z 127.0.0.1 ${p.port} 2>/dev/null || nc 127.0.0.1 ${p.port} -e true`;
    case 'exec':
      return p.command;
  }
}

function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
