/**
 * The `runtime: swarm` mapping, without an engine: a stack file's service → the ClusterServiceSpec
 * handed to Swarm (per-task ports as Swarm templates, secrets resolved into env only, update order
 * by whether the service has host ports, health check inside the task), and tasks → instances.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import {
  clusterSpecFor,
  escapeTemplate,
  healthCheckOf,
  instancesOf,
  portEnvName,
  portOfSlot,
  portTemplate,
  SLOT_TEMPLATE,
  swarmServiceName,
  type SwarmPort,
} from '../../src/kinds/service/swarm-service.js';
import { address } from '../../src/model/resource.js';
import type { ClusterServiceStatus, ClusterTask } from '../../src/runtime/swarm/cluster-runtime.js';
import { swarmServiceSpec } from '../../src/runtime/swarm/swarm-service-spec.js';
import { serviceSpecOf, swarmTestContext } from './swarm-kind-context.js';
import { shownPid } from '../helpers/instance-pid.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-swarm-map-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 'planted-secret-4f1c9a';
const stack: StackConfig = {
  stack: 'lab',
  secrets: { 'api-token': {} },
  services: {
    api: {
      runtime: 'swarm',
      image: 'groundwork-test:latest',
      replicas: 3,
      command: 'exec httpd -f -p 127.0.0.1:${port.http} -h /srv/api',
      ports: { http: 'auto' },
      env: {
        PORT: '${port.http}',
        URL: 'http://127.0.0.1:${port.http}/x',
        TOKEN: '${secret.api-token}',
        FORMAT: 'literal {{.Name}} and $${port.http}',
      },
      mounts: { '/srv/api': '/srv/lab/api' },
      health: {
        http: { path: '/healthz', body: 'ok' },
        interval: '1s',
        timeout: '2s',
        start_period: '3s',
        unhealthy: 2,
      },
      restart: 'on-failure',
      stop_grace: '4s',
      resources: { memory: '64MiB', cpu: 0.5 },
      deploy: { max_surge: 2, monitor: '3s' },
    },
    worker: {
      runtime: 'swarm',
      image: 'groundwork-test:latest',
      replicas: 4,
      command: 'sleep 1000',
      env: { API: 'http://127.0.0.1:${service.api.port.http}' },
      deploy: { max_surge: 2, auto_rollback: false },
    },
    fixed: {
      runtime: 'swarm',
      image: 'groundwork-test:latest',
      ports: { admin: 8089 },
      command: 'serve',
      health: { tcp: { port: 'admin' } },
    },
    exec: {
      runtime: 'swarm',
      image: 'groundwork-test:latest',
      args: ['httpd', '-p', '${port.http}'],
      ports: { http: 'auto' },
    },
  },
};

const block: SwarmPort = { base: 24300 };

describe('swarm service mapping', () => {
  const { ctx, outputs } = swarmTestContext({ stack: 'lab', dir, secrets: { GROUNDWORK_SECRET_API_TOKEN: SECRET } });
  const api = serviceSpecOf(stack, 'api', dir);

  it('ports: a block of 100 per port, slot S listens on base + S, written as a Swarm template', () => {
    expect(portOfSlot(block, 1)).toBe(24301);
    expect(portOfSlot(block, 12)).toBe(24312);
    expect(portOfSlot({ fixed: 8089 }, 3)).toBe(8089);
    expect(portTemplate(block)).toBe('243{{if lt (len .Task.Slot) 2}}0{{end}}{{.Task.Slot}}');
    expect(portTemplate({ fixed: 8089 })).toBe('8089');
    expect(portEnvName('http')).toBe('GROUNDWORK_PORT_HTTP');
    expect(portEnvName('admin-ui')).toBe('GROUNDWORK_PORT_ADMIN_UI');
    expect(swarmServiceName(ctx, address('service', 'api'))).toBe('lab_api');
  });

  it('maps replicas, image, command, env (ports per task, secrets resolved), mounts, limits, restart, health and a stop-first update for a service with host ports', () => {
    const { cluster, specHash } = clusterSpecFor(ctx, address('service', 'api'), api, { http: block }, 7);
    const t = portTemplate(block);
    expect(cluster).toMatchObject({
      name: 'lab_api',
      stack: 'lab',
      service: 'api',
      image: 'groundwork-test:latest',
      replicas: 3,
      args: null,
      workdir: null,
      user: null,
      command: 'exec httpd -f -p 127.0.0.1:${GROUNDWORK_PORT_HTTP} -h /srv/api',
      mounts: [{ target: '/srv/api', source: '/srv/lab/api' }],
      memoryBytes: 64 * 1024 * 1024,
      cpuCores: 0.5,
      restart: { condition: 'on-failure', maxAttempts: null },
      update: { parallelism: 1, order: 'stop-first', failureAction: 'rollback', maxFailureRatio: 0 },
      network: { mode: 'host' },
      specHash,
      labels: { 'groundwork.release': '7' },
    });
    expect(cluster.update.monitor.toMilliseconds()).toBe(3000);
    expect(cluster.rollback).toMatchObject({ order: 'stop-first', failureAction: 'continue', parallelism: 1 });
    expect(cluster.stopGrace.toMilliseconds()).toBe(4000);
    expect(cluster.env).toEqual({
      PORT: t,
      URL: `http://127.0.0.1:${t}/x`,
      TOKEN: SECRET,
      // A literal `{{` must not start a Swarm template; `$${` is the stack file's escape for `${`.
      FORMAT: 'literal {{"{{"}}.Name}} and ${port.http}',
      GROUNDWORK_STACK: 'lab',
      GROUNDWORK_SERVICE: 'api',
      GROUNDWORK_INSTANCE: SLOT_TEMPLATE,
      GROUNDWORK_TASK_SLOT: SLOT_TEMPLATE,
      GROUNDWORK_PORT_HTTP: t,
    });
    expect(cluster.health).toMatchObject({
      retries: 2,
      probe: {
        kind: 'exec',
        command: `wget -q -O - http://127.0.0.1:"$GROUNDWORK_PORT_HTTP"'/healthz' | grep -qF -- 'ok'`,
      },
    });
    expect(cluster.health?.interval.toMilliseconds()).toBe(1000);
    expect(cluster.health?.startPeriod.toMilliseconds()).toBe(3000);
    // The secret's value is in the env that goes to the engine, and nowhere else.
    expect(JSON.stringify({ ...cluster, env: {} })).not.toContain(SECRET);
    expect(specHash).not.toContain(SECRET);
  });

  it('the engine body carries the env templates and the health check unchanged', () => {
    const { cluster } = clusterSpecFor(ctx, address('service', 'api'), api, { http: block }, 7);
    const body = swarmServiceSpec(cluster, { owner: '/state' });
    expect(body.TaskTemplate.ContainerSpec.Env).toContain(`PORT=${portTemplate(block)}`);
    expect(body.TaskTemplate.ContainerSpec.Env).toContain('GROUNDWORK_TASK_SLOT={{.Task.Slot}}');
    expect(body.TaskTemplate.ContainerSpec.HealthCheck?.Test).toEqual([
      'CMD-SHELL',
      cluster.health?.probe.kind === 'exec' ? cluster.health.probe.command : '',
    ]);
    expect(body.UpdateConfig).toMatchObject({ Order: 'stop-first', FailureAction: 'rollback' });
    expect(body.Labels).toMatchObject({ 'groundwork.release': '7', 'groundwork.spec-hash': cluster.specHash });
  });

  it('the spec hash names secrets, not their values; it changes with the release and the ports, not with replicas', () => {
    const a = clusterSpecFor(ctx, address('service', 'api'), api, { http: block }, 7).specHash;
    const other = swarmTestContext({ stack: 'lab', dir, secrets: { GROUNDWORK_SECRET_API_TOKEN: 'another value' } });
    expect(clusterSpecFor(other.ctx, address('service', 'api'), api, { http: block }, 7).specHash).toBe(a);
    other.store.closeNow();
    expect(clusterSpecFor(ctx, address('service', 'api'), { ...api, replicas: 5 }, { http: block }, 7).specHash).toBe(
      a,
    );
    expect(clusterSpecFor(ctx, address('service', 'api'), api, { http: block }, 8).specHash).not.toBe(a);
    expect(clusterSpecFor(ctx, address('service', 'api'), api, { http: { base: 25100 } }, 7).specHash).not.toBe(a);
  });

  it("a service without ports updates start-first (max_surge at a time); auto_rollback false pauses; other services' ports resolve to their first instance", () => {
    // Recorded as swarm-service.ts records tasks (no host pid: 0), checked when read back.
    const task = (index: number, port: number) => ({
      index,
      id: `t${index}`,
      pid: 0,
      pgid: 0,
      startTicks: 0,
      startedAt: '2026-12-02T00:00:00.000Z',
      specHash: 'h',
      logFile: '',
      ports: { http: port },
    });
    outputs.set(address('service', 'api'), { instances: [task(1, 24301), task(2, 24302)] });
    const { cluster } = clusterSpecFor(
      ctx,
      address('service', 'worker'),
      serviceSpecOf(stack, 'worker', dir),
      {},
      null,
    );
    expect(cluster.update).toMatchObject({ order: 'start-first', parallelism: 2, failureAction: 'pause' });
    expect(cluster.env.API).toBe('http://127.0.0.1:24301');
    expect(cluster.health).toBeNull();
    expect(cluster.labels).toEqual({ 'groundwork.release': '' });
    expect(cluster.command).toBe('sleep 1000');
  });

  it('a fixed port is that port for the single task; a tcp probe checks it with nc', () => {
    const fixed = serviceSpecOf(stack, 'fixed', dir);
    const { cluster } = clusterSpecFor(ctx, address('service', 'fixed'), fixed, { admin: { fixed: 8089 } }, 1);
    expect(cluster.env.GROUNDWORK_PORT_ADMIN).toBe('8089');
    expect(cluster.update.order).toBe('stop-first');
    expect(healthCheckOf(fixed, { admin: { fixed: 8089 } })?.probe).toEqual({
      kind: 'exec',
      command: 'nc -z 127.0.0.1 "$GROUNDWORK_PORT_ADMIN" 2>/dev/null || nc 127.0.0.1 "$GROUNDWORK_PORT_ADMIN" -e true',
    });
  });

  it('exec-form args cannot carry a per-task port: refused with the fix', () => {
    expect(() =>
      clusterSpecFor(ctx, address('service', 'exec'), serviceSpecOf(stack, 'exec', dir), { http: block }, 1),
    ).toThrow(/args\[2\] uses \$\{port\.http\}.*Write the command as one `command:` string.*GROUNDWORK_PORT_HTTP/);
  });

  it('a service without an image, or with a secret that has no value, is refused before anything runs', () => {
    expect(() => clusterSpecFor(ctx, address('service', 'api'), { ...api, image: null }, { http: block }, 1)).toThrow(
      /set `image:`/,
    );
    const bare = swarmTestContext({ stack: 'lab', dir });
    expect(() => clusterSpecFor(bare.ctx, address('service', 'api'), api, { http: block }, 1)).toThrow(
      /secret `api-token` has no value; set GROUNDWORK_SECRET_API_TOKEN/,
    );
    bare.store.closeNow();
  });

  it('escapes only `{{`', () => {
    expect(escapeTemplate('a {{b}} }} {{{')).toBe('a {{"{{"}}b}} }} {{"{{"}}{');
    expect(escapeTemplate('plain')).toBe('plain');
  });

  it('tasks become instances by slot: a running one per slot, a slot without a running task is recorded gone with its port', () => {
    const task = (slot: number, state: string, extra: Partial<ClusterTask> = {}): ClusterTask => ({
      id: `task${slot}${state}`,
      slot,
      node: 'nas',
      state,
      desiredState: 'running',
      message: state,
      error: null,
      exitCode: null,
      containerId: 'c',
      pid: 100 + slot,
      specHash: 'h1',
      updatedAt: `2026-01-01T00:00:0${slot}Z`,
      ...extra,
    });
    const status: ClusterServiceStatus = {
      name: 'lab_api',
      id: 'svc',
      stack: 'lab',
      service: 'api',
      specHash: 'h1',
      image: 'img',
      replicas: 3,
      update: null,
      running: 1,
      tasks: [
        task(1, 'running'),
        task(2, 'starting'),
        task(2, 'failed', { desiredState: 'shutdown', error: 'task: non-zero exit (1)' }),
        task(1, 'shutdown', { desiredState: 'shutdown' }),
      ],
    };
    const inst = instancesOf(
      status,
      { name: 'lab_api', specHash: 'h1', release: 4, ports: { http: block } },
      3,
      '/stack',
    );
    expect(inst.map((i) => [i.index, i.id, i.ports.http, shownPid(i) ?? 0, i.gone ?? null])).toEqual([
      [1, 'task1running', 24301, 101, null],
      [2, 'task2starting', 24302, 102, 'task starting (starting)'],
      [3, '', 24303, 0, 'has no task'],
    ]);
    expect(inst[0]).toMatchObject({
      node: 'nas',
      taskState: 'running',
      release: 4,
      logFile: 'docker service logs lab_api',
      specHash: 'h1',
    });
  });
});
