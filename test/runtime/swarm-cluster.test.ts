/**
 * SwarmCluster (the service-level `swarm` runtime) on the real engine's single-node Swarm: a
 * replicated busybox httpd service on the host network with a health check inside the task;
 * convergence, start-first updates, Swarm's automatic rollback of a failing release (one that
 * exits, and one whose health check fails), manual rollback, scaling, logs, nodes, removal.
 *
 * Host networking and start-first: an old and a new task of one slot run side by side, so each
 * task listens on `GW_PORT_BASE + slot` (Swarm fills `{{.Task.Slot}}` into the env) and each
 * release gets its own GW_PORT_BASE.
 */
import { hostname } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import { Duration } from '../../src/util/duration.js';
import type { ClusterProgress, ClusterServiceSpec } from '../../src/runtime/swarm/cluster-runtime.js';
import { clusterServiceName } from '../../src/runtime/swarm/cluster-runtime.js';
import { SwarmCluster } from '../../src/runtime/swarm/swarm-cluster.js';
import {
  describeWithEngine,
  findEngine,
  freePortRun,
  newRunId,
  removeRunObjects,
  RUN_LABEL,
  TEST_IMAGE,
} from '../helpers/docker.js';
import { httpGet, waitForHttp } from '../helpers/http.js';

const engine = await findEngine({ swarm: true });
const run = newRunId();
const OWNER = `test-owner-${run}`;
const SLOW = 240_000;

const SERVE =
  'mkdir -p /tmp/www && echo "$RELEASE" > /tmp/www/index.html && echo "serving $RELEASE on $((GW_PORT_BASE + GW_SLOT))" && exec httpd -f -p 127.0.0.1:$((GW_PORT_BASE + GW_SLOT)) -h /tmp/www';

function release(
  service: string,
  version: string,
  portBase: number,
  extra: Partial<ClusterServiceSpec> = {},
): ClusterServiceSpec {
  return {
    name: clusterServiceName(run, service),
    stack: run,
    service,
    image: TEST_IMAGE,
    command: SERVE,
    args: null,
    env: { RELEASE: version, GW_PORT_BASE: String(portBase), GW_SLOT: '{{.Task.Slot}}' },
    workdir: null,
    user: null,
    mounts: [],
    replicas: 3,
    memoryBytes: 64 * 1024 * 1024,
    cpuCores: 0.5,
    restart: { condition: 'always', delay: Duration.seconds(1), maxAttempts: null },
    health: {
      probe: { kind: 'exec', command: 'wget -q -O - http://127.0.0.1:$((GW_PORT_BASE + GW_SLOT))/ >/dev/null' },
      interval: Duration.milliseconds(500),
      timeout: Duration.seconds(2),
      retries: 2,
      startPeriod: Duration.seconds(0),
    },
    update: {
      parallelism: 1,
      order: 'start-first',
      failureAction: 'rollback',
      monitor: Duration.seconds(5),
      maxFailureRatio: 0,
      delay: Duration.seconds(0),
    },
    stopGrace: Duration.seconds(5),
    network: { mode: 'host' },
    specHash: `hash-${version}`,
    ...extra,
  };
}

async function answers(portBase: number, replicas: number): Promise<string[]> {
  const out: string[] = [];
  for (let slot = 1; slot <= replicas; slot++) out.push((await httpGet(portBase + slot)).body.trim());
  return out;
}

describeWithEngine('swarm cluster runtime', engine, (client) => {
  const cluster = new SwarmCluster({ client, owner: OWNER, labels: { [RUN_LABEL]: run } });
  afterAll(() => removeRunObjects(client, run), SLOW);

  it('nodes() lists this node as the leading manager', async () => {
    const nodes = await cluster.nodes();
    expect(nodes.length).toBeGreaterThanOrEqual(1);
    const me = nodes.find((n) => n.leader);
    expect(me).toMatchObject({ role: 'manager', leader: true, availability: 'active', state: 'ready' });
    expect(me?.hostname).toBe(hostname());
    expect(me?.engineVersion).toMatch(/^\d+\.\d+/);
  });

  it(
    'deploys 3 healthy replicas on the host network; they converge, with limits and labels applied',
    async () => {
      const v1 = await freePortRun(4);
      const events: ClusterProgress[] = [];
      const r = await cluster.deploy(release('web', 'v1', v1), {
        onProgress: (p) => events.push(p),
        deadline: Duration.minutes(2),
      });
      expect(r.outcome, r.message).toBe('converged');
      expect(r.status).toMatchObject({
        replicas: 3,
        running: 3,
        specHash: 'hash-v1',
        stack: run,
        service: 'web',
        image: TEST_IMAGE,
      });
      expect(await answers(v1, 3)).toEqual(['v1', 'v1', 'v1']);
      expect(events[0]?.phase).toBe('creating');
      expect(events.at(-1)).toMatchObject({ running: 3, desired: 3 });
      const task = r.status.tasks[0];
      expect(task).toMatchObject({ state: 'running', desiredState: 'running', node: hostname(), specHash: 'hash-v1' });
      const c = await client.inspectContainer(task?.containerId ?? '');
      expect(c.HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, NanoCpus: 500_000_000, NetworkMode: 'host' });
      expect(c.State.Health?.Status).toBe('healthy');
      console.log(
        `[figure] swarm: 3-replica service deployed and converged (healthy) in ${r.took.toMilliseconds()} ms`,
      );
      expect((await cluster.list(run)).map((s) => s.name)).toContain(clusterServiceName(run, 'web'));
      expect(await cluster.logs(clusterServiceName(run, 'web'), { lines: 10 })).toMatch(/serving v1 on \d+/);
    },
    SLOW,
  );

  it(
    'an update to a release that exits is rolled back by Swarm; the previous spec stays in place',
    async () => {
      const v1 = await freePortRun(4);
      const name = clusterServiceName(run, 'crashy');
      expect((await cluster.deploy(release('crashy', 'v1', v1), { deadline: Duration.minutes(2) })).outcome).toBe(
        'converged',
      );
      const v2 = await freePortRun(4);
      const events: ClusterProgress[] = [];
      const r = await cluster.deploy(
        release('crashy', 'v2', v2, { command: 'echo "v2 starting"; sleep 0.3; echo "v2 gives up" >&2; exit 1' }),
        { onProgress: (p) => events.push(p), deadline: Duration.minutes(2) },
      );
      expect(r.outcome, r.message).toBe('rolled-back');
      expect(r.message).toMatch(/rolled back/);
      expect(r.status.update?.state).toBe('rollback_completed');
      expect(r.status).toMatchObject({ specHash: 'hash-v1', running: 3 });
      expect(r.status.tasks.filter((t) => t.desiredState === 'running').map((t) => t.specHash)).toEqual([
        'hash-v1',
        'hash-v1',
        'hash-v1',
      ]);
      expect(r.status.tasks.some((t) => t.specHash === 'hash-v2' && t.state === 'failed')).toBe(true);
      expect(events.some((e) => e.phase === 'rolling-back')).toBe(true);
      // start-first: the v1 tasks never stopped.
      expect(await answers(v1, 3)).toEqual(['v1', 'v1', 'v1']);
      expect((await cluster.inspect(name))?.specHash).toBe('hash-v1');
      console.log(`[figure] swarm: failing update detected and rolled back in ${r.took.toMilliseconds()} ms`);
    },
    SLOW,
  );

  it(
    'an update whose health check fails is rolled back (the check runs inside the task)',
    async () => {
      const v1 = await freePortRun(4);
      expect((await cluster.deploy(release('sick', 'v1', v1), { deadline: Duration.minutes(2) })).outcome).toBe(
        'converged',
      );
      const v2 = await freePortRun(4);
      const unhealthy = release('sick', 'v2', v2, {
        health: {
          probe: { kind: 'http', port: v2 + 1, path: '/no-such-page' },
          interval: Duration.milliseconds(500),
          timeout: Duration.seconds(1),
          retries: 2,
          startPeriod: Duration.seconds(0),
        },
      });
      const r = await cluster.deploy(unhealthy, { deadline: Duration.minutes(2) });
      expect(r.outcome, r.message).toBe('rolled-back');
      expect(r.status).toMatchObject({ specHash: 'hash-v1', running: 3 });
      expect(await answers(v1, 3)).toEqual(['v1', 'v1', 'v1']);
    },
    SLOW,
  );

  it(
    'a good update rolls through start-first; a manual rollback brings the previous release back; scaling converges',
    async () => {
      const name = clusterServiceName(run, 'api');
      const v1 = await freePortRun(4);
      expect((await cluster.deploy(release('api', 'v1', v1), { deadline: Duration.minutes(2) })).outcome).toBe(
        'converged',
      );
      const v2 = await freePortRun(4);
      const up = await cluster.deploy(release('api', 'v2', v2), { deadline: Duration.minutes(2) });
      expect(up.outcome, up.message).toBe('converged');
      expect(up.status).toMatchObject({ specHash: 'hash-v2', running: 3 });
      expect(up.status.update?.state).toBe('completed');
      expect(await answers(v2, 3)).toEqual(['v2', 'v2', 'v2']);
      console.log(
        `[figure] swarm: rolling update of 3 replicas (start-first, 5s monitor) converged in ${up.took.toMilliseconds()} ms`,
      );

      const back = await cluster.rollback(name, { deadline: Duration.minutes(2) });
      expect(back.outcome, back.message).toBe('rolled-back');
      expect(back.status).toMatchObject({ specHash: 'hash-v1', running: 3 });
      expect(await answers(v1, 3)).toEqual(['v1', 'v1', 'v1']);

      // Replicas only: no rolling update, just more tasks from the same template.
      const scaled = await cluster.deploy(release('api', 'v1', v1, { replicas: 2 }), { deadline: Duration.minutes(2) });
      expect(scaled.outcome, scaled.message).toBe('converged');
      expect(scaled.status.running).toBe(2);
      await waitForHttp(v1 + 1, '/', (b) => b.trim() === 'v1', 'slot 1 still serving v1');
    },
    SLOW,
  );

  it(
    'compose names reach the tasks as /etc/hosts lines (GROUNDWORK_EXTRA_HOSTS, as `import compose` writes it)',
    async () => {
      const base = await freePortRun(2);
      const spec = release('named', 'v1', base, { replicas: 1 });
      const r = await cluster.deploy(
        {
          ...spec,
          command: `cat /etc/hosts; ${SERVE}`,
          env: { ...spec.env, GROUNDWORK_EXTRA_HOSTS: 'api=127.0.0.2 db=127.0.0.3' },
        },
        { deadline: Duration.minutes(2) },
      );
      expect(r.outcome, r.message).toBe('converged');
      // What the task itself read from its /etc/hosts at start.
      const logs = await cluster.logs(clusterServiceName(run, 'named'), { lines: 50 });
      expect(logs).toMatch(/127\.0\.0\.2\s+api/);
      expect(logs).toMatch(/127\.0\.0\.3\s+db/);
      await cluster.remove(clusterServiceName(run, 'named'));
    },
    SLOW,
  );

  it(
    'refuses to touch a service another installation owns; remove leaves nothing behind',
    async () => {
      const v1 = await freePortRun(2);
      const name = clusterServiceName(run, 'owned');
      expect(
        (await cluster.deploy(release('owned', 'v1', v1, { replicas: 1 }), { deadline: Duration.minutes(2) })).outcome,
      ).toBe('converged');
      const stranger = new SwarmCluster({ client, owner: 'someone-else', labels: { [RUN_LABEL]: run } });
      await expect(stranger.deploy(release('owned', 'v2', v1, { replicas: 1 }))).rejects.toThrow(
        /belongs to another Groundwork installation/,
      );
      expect(await stranger.list(run)).toEqual([]);
      const id = (await cluster.inspect(name))?.id;
      await cluster.remove(name);
      expect(await cluster.inspect(name)).toBeUndefined();
      expect(await client.listContainers([`com.docker.swarm.service.id=${id}`])).toEqual([]);
      await cluster.remove(name); // removing a missing service is fine
      await expect(cluster.rollback(name)).rejects.toThrow(/No such service|not found/i);
    },
    SLOW,
  );
});
