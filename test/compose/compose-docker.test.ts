/**
 * Issue 18's end-to-end acceptance with the real Docker engine: a compose file of two services
 * from the test image, where `front` calls `api` by its compose service name, is imported, run by
 * the daemon (as `groundwork up` runs it), answers through the listener, keeps answering with 0
 * failed requests while `api` is deployed, and comes down.
 *
 * The test image's busybox is static and its libc resolver crashes on any host name (wget
 * http://api/ segfaults), so front's CGI looks the name up in /etc/hosts itself: what is tested
 * is that the name is in the container's hosts file and points at api's stable address.
 * The CGI ends its header lines with CRLF: busybox httpd passes a CGI's header bytes through,
 * and the data plane does not accept bare-LF header lines (502).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon, tokenFile } from '../../src/daemon/daemon.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { loopbackHostFor } from '../../src/kinds/service/service-address.js';
import { runCli } from '../helpers/cli.js';
import { Api, cleanEnv, footprintOf } from '../daemon/daemon-harness.js';
import { describeWithEngine, findEngine, TEST_IMAGE } from '../helpers/docker.js';
import { describeSamples, failed, startTraffic } from '../helpers/lab-daemon.js';
import { settlesWithin, TeardownFailures } from '../helpers/leftovers.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const engine = await findEngine();

const COMPOSE = `services:
  api:
    image: ${TEST_IMAGE}
    environment:
      PORT: "8080"
    command: ["sh", "-c", "exec httpd -f -p 127.0.0.1:$$PORT -h /www"]
    volumes: ["./api-www:/www"]
    expose: ["8080"]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:8080/healthz"]
      interval: 300ms
    stop_grace_period: 2s
  front:
    image: ${TEST_IMAGE}
    environment:
      PORT: "8081"
      API_ADDR: api:8080
    command: ["sh", "-c", "exec httpd -f -p 127.0.0.1:$$PORT -h /www"]
    volumes: ["./front-www:/www"]
    ports: ["\${LISTEN_PORT}:8081"]
    depends_on:
      api: { condition: service_healthy }
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:8081/healthz"]
      interval: 300ms
`;

/** front's CGI: resolves API_ADDR's name through /etc/hosts and relays api's answer. */
const CALL = `#!/bin/sh
host=\${API_ADDR%%:*}
port=\${API_ADDR##*:}
ip=$(awk -v h="$host" '$2 == h { print $1; exit }' /etc/hosts)
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "api is $host at $ip:$port"
wget -qO- "http://$ip:$port/" || echo "CALL FAILED"
`;

describeWithEngine('import compose: two services calling each other by name on the docker engine', engine, () => {
  let dir: string;
  let listener: number;
  let daemon: Daemon | undefined;
  let api: Api;
  const stack = `cmp${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gw-compose-docker-'));
    listener = await freePort();
    mkdirSync(path.join(dir, 'api-www'));
    writeFileSync(path.join(dir, 'api-www', 'index.html'), 'api b1\n');
    writeFileSync(path.join(dir, 'api-www', 'healthz'), 'ok\n');
    mkdirSync(path.join(dir, 'front-www', 'cgi-bin'), { recursive: true });
    writeFileSync(path.join(dir, 'front-www', 'healthz'), 'ok\n');
    writeFileSync(path.join(dir, 'front-www', 'cgi-bin', 'call'), CALL);
    chmodSync(path.join(dir, 'front-www', 'cgi-bin', 'call'), 0o755);
    writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE);
    const r = await runCli(['import', 'compose', '--project-name', stack], {
      cwd: dir,
      env: { LISTEN_PORT: String(listener) },
    });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
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
    await api.waitAllHealthy(['api', 'front'], 60_000);
  }, 90_000);

  afterAll(async () => {
    const t = new TeardownFailures(`the compose stack ${stack} in ${dir}`);
    const d = daemon;
    if (d) {
      await t.step('POST /v1/down', () => api.down(false));
      await t.step('daemon.stop()', () => settlesWithin(d.stop(), 15_000, 'daemon.stop()'));
    }
    await t.sweep(footprintOf(dir), 'down and stop');
    rmSync(dir, { recursive: true, force: true });
    t.throwIfAny();
  });

  it('front reaches api by its compose name, through the listener', async () => {
    const res = await fetch(`http://127.0.0.1:${listener}/cgi-bin/call`);
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(body).toContain(`api is api at ${loopbackHostFor(stack, 'api')}:`);
    expect(body).toContain('api b1');
  });

  it('a deploy of api under load has 0 failed requests', async () => {
    const before = (await api.service('api')).instances.map((i) => i.id);
    const traffic = startTraffic(`http://127.0.0.1:${listener}/cgi-bin/call`, 4, 5);
    await waitFor(() => traffic.samples.filter((x) => x.body.includes('api b1')).length >= 10, {
      what: 'api to answer 10 calls before the deploy',
    });
    const lines = (await api.lines('POST', '/v1/services/api/deploy', { message: 'compose e2e' })) as {
      type: string;
      result?: { ok: boolean };
    }[];
    const ended = performance.now();
    await waitFor(() => traffic.samples.filter((x) => x.sent > ended).length >= 10, {
      what: '10 calls after the deploy',
    });
    const samples = await traffic.stop();
    expect(lines.find((l) => l.type === 'result')?.result?.ok).toBe(true);
    const after = (await api.service('api')).instances.map((i) => i.id);
    expect(after.some((id) => before.includes(id))).toBe(false);
    const bad = samples.filter((s) => !s.body.includes('api b1'));
    expect(failed(samples), describeSamples(samples)).toEqual([]);
    expect(bad.map((s) => s.body)).toEqual([]);
    expect(samples.length).toBeGreaterThan(20);
    console.log(
      `[compose] deploy of api under load: ${samples.length} calls through front, ${failed(samples).length} failed`,
    );
  }, 60_000);
});
