/**
 * Issue 5's acceptance for `runtime: docker` through the real daemon and the built-in proxy:
 * a killed container is restarted, a restarted daemon adopts running containers, and a rolling
 * deploy under load has no failed requests.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon, tokenFile } from '../../src/daemon/daemon.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { Api, cleanEnv, footprintOf } from '../daemon/daemon-harness.js';
import { describeWithEngine, findEngine, TEST_IMAGE } from '../helpers/docker.js';
import { failed, describeSamples, startTraffic } from '../helpers/lab-daemon.js';
import { settlesWithin, TeardownFailures } from '../helpers/leftovers.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const engine = await findEngine();

function writeSite(dir: string, build: string): void {
  mkdirSync(path.join(dir, 'www'), { recursive: true });
  writeFileSync(path.join(dir, 'www', 'index.html'), `build ${build}\n`);
  writeFileSync(path.join(dir, 'www', 'healthz'), 'ok\n');
}

describeWithEngine('runtime docker under the daemon', engine, () => {
  let dir: string;
  let listener: number;
  let daemon: Daemon | undefined;
  let api: Api;
  const stack = `dk${Math.random().toString(36).slice(2, 8)}`;

  const start = async () => {
    const stateDir = path.join(dir, '.groundwork');
    daemon = new Daemon({
      stackFile: path.join(dir, 'groundwork.yaml'),
      stateDir,
      host: '127.0.0.1',
      port: 0,
      vars: {},
      env: cleanEnv(),
      clock: systemClock,
      logger: silentLogger,
      applyOnStart: true,
      dataPlane: new NodeProxy({ logger: silentLogger, clock: systemClock }),
    });
    await daemon.start();
    api = new Api(daemon.url, readFileSync(tokenFile(stateDir), 'utf8').trim());
    await api.waitAllHealthy(['web']);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gw-docker-daemon-'));
    listener = await freePort();
    writeSite(dir, 'b1');
    writeFileSync(
      path.join(dir, 'groundwork.yaml'),
      `stack: ${stack}
services:
  web:
    runtime: docker
    image: ${TEST_IMAGE}
    replicas: 2
    command: exec httpd -f -p 127.0.0.1:\${port.http} -h www
    ports: { http: auto }
    health: { http: { path: /healthz, body: ok }, interval: 500ms, timeout: 1s }
    stop_grace: 2s
    deploy: { monitor: 1s }
listeners:
  http: { port: ${listener} }
routes:
  - { match: { path: / }, service: web, port: http }
`,
    );
    await start();
  });

  afterAll(async () => {
    const t = new TeardownFailures(`the docker stack ${stack} in ${dir}`);
    const d = daemon;
    if (d) {
      await t.step('POST /v1/down', () => api.down(false));
      await t.step('daemon.stop()', () => settlesWithin(d.stop(), 15_000, 'daemon.stop()'));
    }
    // Containers are found by their owner label (the state directory), processes by the directory.
    await t.sweep(footprintOf(dir), 'down and stop');
    rmSync(dir, { recursive: true, force: true });
    t.throwIfAny();
  });

  it("each container's CPU and resident memory are series of its instance (read from /proc by the container's host pid)", async () => {
    const q = (expr: string) =>
      api.json<{ data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(
        'GET',
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
    let rss: { metric: Record<string, string>; value: [number, string] }[] = [];
    await waitFor(
      async () => {
        rss = (await q('groundwork_instance_resident_memory_bytes{service="web"}')).data.result;
        return rss.length === 2;
      },
      { what: "web's two containers in groundwork_instance_resident_memory_bytes", timeoutMs: 60_000 },
    );
    expect(rss.map((r) => r.metric.replica).sort()).toEqual(['0', '1']);
    // httpd in the busybox image: resident, but far from a gigabyte.
    for (const r of rss) expect(Number(r.value[1])).toBeGreaterThan(0);
    for (const r of rss) expect(Number(r.value[1])).toBeLessThan(1 << 30);
    const cpu = (await q('groundwork_instance_cpu_seconds_total{service="web"}')).data.result;
    expect(cpu.map((r) => r.metric.replica).sort()).toEqual(['0', '1']);
    for (const r of cpu) expect(Number(r.value[1])).toBeGreaterThanOrEqual(0);
  });

  it('a killed container is restarted by the supervisor', async () => {
    const before = await api.instance('web', 0);
    const name = before.id as string;
    execFileSync('docker', ['kill', name.startsWith('gw-') ? name : `gw-${stack}-${name}`], { stdio: 'ignore' });
    const after = await waitFor(
      async () => {
        const i = await api.instance('web', 0);
        return i.restarts >= 1 && i.state === 'healthy' && i.pid !== before.pid ? i : undefined;
      },
      { what: 'a restarted web/0', timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(after.restarts).toBeGreaterThanOrEqual(1);
  });

  it('a restarted daemon adopts the running containers (same pids, no duplicates)', async () => {
    const pids = (await api.service('web')).instances.map((i) => i.pid).sort();
    await daemon?.stop();
    daemon = undefined;
    await start();
    expect((await api.service('web')).instances.map((i) => i.pid).sort()).toEqual(pids);
    const running = execFileSync('docker', ['ps', '-q', '--filter', `label=groundwork.stack=${stack}`], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .filter(Boolean);
    expect(running).toHaveLength(2);
  });

  it('a rolling deploy through the built-in load balancer under load has 0 failed requests', async () => {
    const traffic = startTraffic(`http://127.0.0.1:${listener}/`, 4, 5);
    // Load before the deploy: wait until b1 has answered a few requests.
    await waitFor(() => traffic.samples.filter((x) => x.body.includes('build b1')).length >= 10, {
      what: 'b1 to answer 10 requests before the deploy',
    });
    writeSite(dir, 'b2');
    const lines = (await api.lines('POST', '/v1/services/web/deploy', { message: 'b2' })) as {
      type: string;
      result?: { ok: boolean };
    }[];
    // Load after the deploy: wait until b2 has answered a few requests sent after it ended.
    const ended = performance.now();
    await waitFor(() => traffic.samples.filter((x) => x.sent > ended && x.body.includes('build b2')).length >= 10, {
      what: 'b2 to answer 10 requests after the deploy',
    });
    const samples = await traffic.stop();
    expect(lines.find((l) => l.type === 'result')?.result?.ok).toBe(true);
    expect(failed(samples), describeSamples(samples)).toEqual([]);
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.some((s) => s.body.includes('build b2'))).toBe(true);
    console.log(`[docker] rolling deploy under load: ${samples.length} requests, ${failed(samples).length} failed`);
  });
});
