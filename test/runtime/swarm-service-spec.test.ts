/** ClusterServiceSpec → Swarm service spec, and probes → health checks; pure, no engine needed. */
import { describe, expect, it } from 'vitest';
import type { ClusterServiceSpec } from '../../src/runtime/swarm/cluster-runtime.js';
import { clusterServiceName } from '../../src/runtime/swarm/cluster-runtime.js';
import {
  healthConfig,
  probeScript,
  swarmServiceSpec,
  TEMPLATE_HASH_LABEL,
} from '../../src/runtime/swarm/swarm-service-spec.js';
import { Duration } from '../../src/util/duration.js';

const spec = (extra: Partial<ClusterServiceSpec> = {}): ClusterServiceSpec => ({
  name: 'lab_web',
  stack: 'lab',
  service: 'web',
  image: 'app:v1',
  command: 'serve --port 8080',
  args: null,
  env: { A: '1' },
  workdir: '/app',
  user: '1000:1000',
  mounts: [
    { source: '/srv/data', target: '/data' },
    { source: 'cache', target: '/cache', readOnly: true },
  ],
  replicas: 3,
  memoryBytes: 128 * 1024 * 1024,
  cpuCores: 0.5,
  restart: { condition: 'on-failure', delay: Duration.seconds(2), maxAttempts: 5 },
  health: {
    probe: { kind: 'http', port: 8080, path: '/healthz' },
    interval: Duration.seconds(2),
    timeout: Duration.seconds(1),
    retries: 3,
    startPeriod: Duration.seconds(5),
  },
  update: {
    parallelism: 1,
    order: 'start-first',
    failureAction: 'rollback',
    monitor: Duration.seconds(5),
    maxFailureRatio: 0,
    delay: Duration.seconds(0),
  },
  stopGrace: Duration.seconds(10),
  network: { mode: 'host' },
  specHash: 'abc',
  ...extra,
});

describe('swarm service spec', () => {
  it('gives tasks the compose names of other services as /etc/hosts lines (ContainerSpec.Hosts), none without them', () => {
    const withNames = swarmServiceSpec(
      spec({ env: { A: '1', GROUNDWORK_EXTRA_HOSTS: 'api=127.0.0.2 db=127.0.0.3 bad' } }),
      {
        owner: '/state',
      },
    );
    expect(withNames.TaskTemplate.ContainerSpec.Hosts).toEqual(['127.0.0.2 api', '127.0.0.3 db']);
    expect(swarmServiceSpec(spec(), { owner: '/state' }).TaskTemplate.ContainerSpec.Hosts).toBeUndefined();
  });

  it('maps replicas, command, env, mounts, limits, restart, update/rollback config, host network and labels', () => {
    const s = swarmServiceSpec(spec(), { owner: '/state', labels: { run: 'x' } });
    expect(s).toMatchObject({
      Name: 'lab_web',
      Labels: {
        run: 'x',
        'groundwork.runtime': 'swarm',
        'groundwork.owner': '/state',
        'groundwork.stack': 'lab',
        'groundwork.service': 'web',
        'groundwork.spec-hash': 'abc',
      },
      Mode: { Replicated: { Replicas: 3 } },
      TaskTemplate: {
        ContainerSpec: {
          Image: 'app:v1',
          Command: ['/bin/sh', '-c', 'exec 2>&1\nserve --port 8080'],
          Env: ['A=1'],
          Dir: '/app',
          User: '1000:1000',
          Init: true,
          StopGracePeriod: 10e9,
          Mounts: [
            { Type: 'bind', Source: '/srv/data', Target: '/data' },
            { Type: 'volume', Source: 'cache', Target: '/cache', ReadOnly: true },
          ],
        },
        Resources: { Limits: { MemoryBytes: 128 * 1024 * 1024, NanoCPUs: 5e8 } },
        RestartPolicy: { Condition: 'on-failure', Delay: 2e9, MaxAttempts: 5 },
        Networks: [{ Target: 'host' }],
      },
      UpdateConfig: {
        Parallelism: 1,
        Order: 'start-first',
        FailureAction: 'rollback',
        Monitor: 5e9,
        MaxFailureRatio: 0,
        Delay: 0,
      },
      RollbackConfig: { Parallelism: 1, Order: 'start-first', FailureAction: 'pause', Monitor: 5e9 },
      EndpointSpec: { Mode: 'dnsrr' },
    });
    expect(s.TaskTemplate.ContainerSpec.Args).toBeUndefined();
    expect(s.TaskTemplate.ContainerSpec.HealthCheck).toEqual({
      Test: ['CMD-SHELL', "wget -q -O - 'http://127.0.0.1:8080/healthz' >/dev/null"],
      Interval: 2e9,
      Timeout: 1e9,
      Retries: 3,
      StartPeriod: 5e9,
    });
  });

  it('restart conditions: always → any, never → none (unlimited attempts are 0)', () => {
    expect(
      swarmServiceSpec(spec({ restart: { condition: 'always', delay: Duration.seconds(1), maxAttempts: null } }), {
        owner: 'o',
      }).TaskTemplate.RestartPolicy,
    ).toEqual({ Condition: 'any', Delay: 1e9, MaxAttempts: 0 });
    expect(
      swarmServiceSpec(spec({ restart: { condition: 'never', delay: Duration.seconds(1), maxAttempts: null } }), {
        owner: 'o',
      }).TaskTemplate.RestartPolicy?.Condition,
    ).toBe('none');
  });

  it('an image command keeps ENTRYPOINT and CMD; args alone replace CMD; overlay networks publish ports', () => {
    const own = swarmServiceSpec(spec({ command: '', args: null }), { owner: 'o' }).TaskTemplate.ContainerSpec;
    expect(own.Command).toBeUndefined();
    expect(own.Args).toBeUndefined();
    expect(
      swarmServiceSpec(spec({ command: '', args: ['--verbose'] }), { owner: 'o' }).TaskTemplate.ContainerSpec.Args,
    ).toEqual(['--verbose']);
    expect(
      swarmServiceSpec(spec({ command: 'node', args: ['s.js'] }), { owner: 'o' }).TaskTemplate.ContainerSpec.Command,
    ).toEqual(['node', 's.js']);
    const overlay = swarmServiceSpec(
      spec({ network: { mode: 'overlay', networks: ['lab-net'], ports: [{ target: 8080, published: 80 }] } }),
      { owner: 'o' },
    );
    expect(overlay.TaskTemplate.Networks).toEqual([{ Target: 'lab-net' }]);
    expect(overlay.EndpointSpec).toEqual({
      Mode: 'vip',
      Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: 80, PublishMode: 'ingress' }],
    });
  });

  it('the template hash changes with what tasks run, not with the replica count', () => {
    const hash = (s: ClusterServiceSpec) => swarmServiceSpec(s, { owner: 'o' }).Labels?.[TEMPLATE_HASH_LABEL];
    const t = swarmServiceSpec(spec(), { owner: 'o' });
    expect(t.TaskTemplate.ContainerSpec.Labels?.[TEMPLATE_HASH_LABEL]).toBe(t.Labels?.[TEMPLATE_HASH_LABEL]);
    expect(hash(spec({ replicas: 5 }))).toBe(hash(spec()));
    expect(hash(spec({ image: 'app:v2' }))).not.toBe(hash(spec()));
    expect(hash(spec({ env: { A: '2' } }))).not.toBe(hash(spec()));
  });

  it('probes become shell health checks that run inside the task', () => {
    expect(probeScript({ kind: 'http', port: 80, path: 'ready', body: "it's ok" })).toBe(
      "wget -q -O - 'http://127.0.0.1:80/ready' | grep -qF -- 'it'\\''s ok'",
    );
    expect(probeScript({ kind: 'tcp', port: 5432 })).toBe(
      'nc -z 127.0.0.1 5432 2>/dev/null || nc 127.0.0.1 5432 -e true',
    );
    expect(probeScript({ kind: 'exec', command: 'pg_isready' })).toBe('pg_isready');
    expect(
      healthConfig({
        probe: { kind: 'exec', command: 'true' },
        interval: Duration.milliseconds(500),
        timeout: Duration.seconds(1),
        retries: 2,
        startPeriod: Duration.seconds(0),
      }),
    ).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 5e8, Timeout: 1e9, Retries: 2 });
  });

  it('service names follow `docker stack`: <stack>_<service>', () => {
    expect(clusterServiceName('homelab', 'web')).toBe('homelab_web');
    expect(clusterServiceName('my lab', 'web')).toBe('my-lab_web');
  });
});
