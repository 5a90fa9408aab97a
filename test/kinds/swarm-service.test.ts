/**
 * `runtime: swarm` at the service level against the real engine's single-node Swarm: a service of
 * 3 replicas becomes one Swarm service whose tasks answer on their own host ports (block + slot);
 * an update to a release that exits, and to one whose health check fails, is rolled back by Swarm
 * with the previous spec in place; a good update converges on the same ports; `groundwork
 * rollback` maps onto Swarm's rollback; read reports drift; delete removes everything.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { PartialFailure } from '../../src/kinds/resource-kind.js';
import { noServiceOutputs, serviceOutputsOf, type ServiceOutputs } from '../../src/kinds/service/service-spec.js';
import {
  swarmCreate,
  swarmDelete,
  swarmOutputsOf,
  swarmRead,
  swarmRollback,
  swarmUpdate,
  type TaskInstanceOutput,
} from '../../src/kinds/service/swarm-service.js';
import { address } from '../../src/model/resource.js';
import { SwarmCluster } from '../../src/runtime/swarm/swarm-cluster.js';
import {
  describeWithEngine,
  findEngine,
  newRunId,
  removeRunObjects,
  RUN_LABEL,
  TEST_IMAGE,
} from '../helpers/docker.js';
import { httpGet } from '../helpers/http.js';
import { serviceSpecOf, swarmTestContext } from './swarm-kind-context.js';
import { pidOf } from '../helpers/instance-pid.js';

const engine = await findEngine({ swarm: true });
const run = newRunId();
const SLOW = 300_000;
const SECRET = `planted-${run}-secret`;
const dir = mkdtempSync(path.join(tmpdir(), 'gw-swarm-svc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SERVE =
  'mkdir -p /tmp/www && echo "$RELEASE $GROUNDWORK_TASK_SLOT" > /tmp/www/index.html && echo ok > /tmp/www/healthz && exec httpd -f -p 127.0.0.1:${port.http} -h /tmp/www';

function web(release: string, extra: Partial<NonNullable<StackConfig['services']>[string]> = {}): StackConfig {
  return {
    stack: run,
    secrets: { token: {} },
    services: {
      web: {
        runtime: 'swarm',
        image: TEST_IMAGE,
        replicas: 3,
        command: SERVE,
        ports: { http: 'auto' },
        env: { RELEASE: release, TOKEN: '${secret.token}', LITERAL: 'a {{b}} c' },
        health: { http: { path: '/healthz', body: 'ok' }, interval: '500ms', timeout: '2s', unhealthy: 2 },
        resources: { memory: '64MiB' },
        stop_grace: '2s',
        // monitor: Swarm waits this long after the last task before it calls an update completed
        // (2s by default). A failing release here fails before it runs, so a short one finds it too.
        deploy: { progress_deadline: '60s', monitor: '500ms' },
        ...extra,
      },
    },
  };
}

async function answers(outputs: ServiceOutputs): Promise<string[]> {
  const out: string[] = [];
  for (const i of outputs.instances) out.push((await httpGet(i.ports.http as number, '/')).body.trim());
  return out;
}

describeWithEngine('swarm services (runtime: swarm, one Swarm service per Groundwork service)', engine, (client) => {
  const cluster = new SwarmCluster({ client, owner: path.join(dir, '.groundwork'), labels: { [RUN_LABEL]: run } });
  const t = swarmTestContext({ stack: run, dir, cluster, secrets: { GROUNDWORK_SECRET_TOKEN: SECRET } });
  const { ctx, store } = t;
  const A = address('service', 'web');
  const seen: string[] = [];
  const keep = <T>(o: T): T => {
    seen.push(JSON.stringify(o));
    return o;
  };
  let outputs: ServiceOutputs = noServiceOutputs();
  let v1Ports: number[] = [];
  let current = web('v1');

  afterAll(async () => {
    await removeRunObjects(client, run);
    store.closeNow();
  }, SLOW);

  it(
    'create: 3 replicas converge as one Swarm service; each task answers on its own port; a config release is recorded',
    async () => {
      const started = Date.now();
      outputs = keep(await swarmCreate(ctx, A, serviceSpecOf(current, 'web', dir)));
      console.log(`[figure] swarm service kind: 3 replicas created and healthy in ${Date.now() - started} ms`);
      const swarm = swarmOutputsOf(outputs);
      expect(swarm).toMatchObject({ name: `${run}_web`, release: 1, previous: null });
      const inst = outputs.instances as TaskInstanceOutput[];
      expect(inst.map((i) => i.index)).toEqual([1, 2, 3]);
      const base = swarm && 'base' in (swarm.ports.http ?? {}) ? (swarm.ports.http as { base: number }).base : 0;
      expect(base % 100).toBe(0);
      v1Ports = inst.map((i) => i.ports.http as number);
      expect(v1Ports).toEqual([base + 1, base + 2, base + 3]);
      for (const i of inst) {
        expect(i.gone).toBeUndefined();
        expect(i).toMatchObject({ taskState: 'running', node: hostname(), specHash: swarm?.specHash, release: 1 });
        expect(i.id).toMatch(/^[a-z0-9]{25}$/);
        expect(pidOf(i)).toBeGreaterThan(0);
      }
      expect(await answers(outputs)).toEqual(['v1 1', 'v1 2', 'v1 3']);
      expect((await store.releases.listReleases('web')).map((r) => [r.seq, r.status, r.kind])).toEqual([
        [1, 'active', 'config'],
      ]);
      expect(t.progress.some((m) => /creating Swarm service .*\(3 replicas, stop-first\)/.test(m))).toBe(true);
      // The engine got the secret (in the task's env), the literal `{{` unexpanded and the slot expanded.
      const status = await cluster.inspect(`${run}_web`);
      const c = await client.inspectContainer(status?.tasks[0]?.containerId ?? '');
      expect(c.Config.Env).toEqual(
        expect.arrayContaining([
          `TOKEN=${SECRET}`,
          'LITERAL=a {{b}} c',
          'GROUNDWORK_TASK_SLOT=1',
          `GROUNDWORK_PORT_HTTP=${base + 1}`,
        ]),
      );
      expect(c.State.Health?.Status).toBe('healthy');
      const read = await swarmRead(ctx, A, serviceSpecOf(current, 'web', dir), outputs);
      expect(read).toMatchObject({ exists: true, drift: [] });
    },
    SLOW,
  );

  it(
    'update to a release that exits: Swarm rolls it back; the previous spec runs again on the same ports',
    async () => {
      const next = web('v2', { command: 'echo "v2 starting"; exit 1' });
      const err = await swarmUpdate(
        ctx,
        A,
        serviceSpecOf(current, 'web', dir),
        serviceSpecOf(next, 'web', dir),
        outputs,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PartialFailure);
      const pf = err as PartialFailure;
      keep(pf.message);
      const pfOutputs = keep(serviceOutputsOf({ address: A, outputs: pf.outputs }));
      expect(pf.message).toMatch(/^rolled back: the update failed and Swarm rolled back to the previous spec/);
      expect(swarmOutputsOf(pfOutputs)).toMatchObject({
        specHash: swarmOutputsOf(outputs)?.specHash,
        release: 1,
        previous: { release: 2 },
      });
      expect(pfOutputs.instances.map((i) => [i.ports.http, i.gone ?? null])).toEqual(v1Ports.map((p) => [p, null]));
      expect(await answers(pfOutputs)).toEqual(['v1 1', 'v1 2', 'v1 3']);
      expect(await store.releases.tryGetRelease('web', 2)).toMatchObject({ status: 'rolled-back' });
      expect(await store.releases.tryGetRelease('web', 1)).toMatchObject({ status: 'active' });
      outputs = pfOutputs;
    },
    SLOW,
  );

  it(
    'update whose health check fails inside the task: rolled back as well',
    async () => {
      const next = web('v3', {
        health: { http: { path: '/no-such-page' }, interval: '500ms', timeout: '1s', unhealthy: 2 },
      });
      const err = await swarmUpdate(
        ctx,
        A,
        serviceSpecOf(current, 'web', dir),
        serviceSpecOf(next, 'web', dir),
        outputs,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PartialFailure);
      keep((err as Error).message);
      expect((err as Error).message).toMatch(/^rolled back/);
      outputs = serviceOutputsOf({ address: A, outputs: (err as PartialFailure).outputs });
      expect(swarmOutputsOf(outputs)?.release).toBe(1);
      expect(await answers(outputs)).toEqual(['v1 1', 'v1 2', 'v1 3']);
    },
    SLOW,
  );

  it(
    "a good update rolls through on the same ports; `rollback` goes back through Swarm's own rollback",
    async () => {
      const next = web('v4');
      const started = Date.now();
      outputs = keep(
        await swarmUpdate(ctx, A, serviceSpecOf(current, 'web', dir), serviceSpecOf(next, 'web', dir), outputs),
      );
      console.log(
        `[figure] swarm service kind: rolling update of 3 replicas (stop-first, deploy.monitor 500ms) converged in ${Date.now() - started} ms`,
      );
      current = next;
      expect(swarmOutputsOf(outputs)).toMatchObject({ release: 4, previous: { release: 1 } });
      expect(outputs.instances.map((i) => i.ports.http)).toEqual(v1Ports);
      expect(await answers(outputs)).toEqual(['v4 1', 'v4 2', 'v4 3']);
      expect(await store.releases.tryGetRelease('web', 1)).toMatchObject({ status: 'superseded' });

      const v1 = await store.releases.tryGetRelease('web', 1);
      const back = keep(await swarmRollback(ctx, A, outputs, { spec: v1?.spec as never, release: 1, codeDir: dir }));
      expect(t.progress.some((m) => m.includes('rolling back Swarm service') && m.includes('(v1)'))).toBe(true);
      expect(swarmOutputsOf(back)).toMatchObject({ release: 1, previous: { release: 4 } });
      expect(await answers(back)).toEqual(['v1 1', 'v1 2', 'v1 3']);
      expect(await store.releases.tryGetRelease('web', 1)).toMatchObject({ status: 'active' });
      outputs = back;
      current = web('v1');
    },
    SLOW,
  );

  it(
    'scaling changes no task port and records no release; read reports drift when Swarm is changed by hand or the service is gone',
    async () => {
      const two = web('v1', { replicas: 2 });
      outputs = keep(
        await swarmUpdate(ctx, A, serviceSpecOf(current, 'web', dir), serviceSpecOf(two, 'web', dir), outputs),
      );
      current = two;
      expect(outputs.instances.map((i) => i.ports.http)).toEqual(v1Ports.slice(0, 2));
      expect((await store.releases.listReleases('web')).length).toBe(4);
      expect(ctx.ports.isReserved(v1Ports[2] as number)).toBe(false);

      const svc = await client.inspectService(`${run}_web`);
      await client.updateService(svc.ID, svc.Version.Index, { ...svc.Spec, Mode: { Replicated: { Replicas: 1 } } });
      const drift = await swarmRead(ctx, A, serviceSpecOf(current, 'web', dir), outputs);
      expect(drift.exists).toBe(true);
      expect(drift.drift.join('\n')).toMatch(/wants 1 replicas, not 2/);

      // Apply repairs it: the same spec deployed again.
      outputs = await swarmUpdate(
        ctx,
        A,
        serviceSpecOf(current, 'web', dir),
        serviceSpecOf(current, 'web', dir),
        drift.outputs,
      );
      expect(await answers(outputs)).toEqual(['v1 1', 'v1 2']);
    },
    SLOW,
  );

  it(
    'delete removes the Swarm service and its containers; read then says it is gone',
    async () => {
      const id = (await cluster.inspect(`${run}_web`))?.id;
      await swarmDelete(ctx, A, serviceSpecOf(current, 'web', dir), outputs);
      expect(await cluster.inspect(`${run}_web`)).toBeUndefined();
      expect(await client.listContainers([`com.docker.swarm.service.id=${id}`])).toEqual([]);
      expect(await swarmRead(ctx, A, serviceSpecOf(current, 'web', dir), outputs)).toMatchObject({ exists: false });
      for (const p of v1Ports) expect(ctx.ports.isReserved(p)).toBe(false);
    },
    SLOW,
  );

  it(
    'a first deploy that never runs is removed again and fails with the reason; the secret never appears in outputs, progress or errors',
    async () => {
      const broken = web('v9', {
        replicas: 1,
        command: 'echo "cannot start" >&2; exit 3',
        deploy: { progress_deadline: '8s' },
      });
      const err = await swarmCreate(
        ctx,
        address('service', 'broken'),
        serviceSpecOf({ ...broken, services: { broken: broken.services?.web as never } }, 'broken', dir),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PartialFailure);
      keep((err as Error).message);
      expect((err as Error).message).toMatch(
        /Swarm service .*_broken did not settle.*; its tasks' output: .*swarm-failed\.log$/s,
      );
      const logFile = /its tasks' output: (\S+)$/.exec((err as Error).message)?.[1] ?? '';
      expect(readFileSync(logFile, 'utf8')).toContain('cannot start');
      expect(statSync(logFile).mode & 0o777).toBe(0o600);
      expect(await cluster.inspect(`${run}_broken`)).toBeUndefined();
      for (const s of [...seen, ...t.progress]) expect(s).not.toContain(SECRET);
    },
    SLOW,
  );
});
