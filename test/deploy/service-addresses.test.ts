/**
 * Stable service addresses, end to end on examples/homelab: `web` calls `api` at
 * `${service.api.url.http}`, the api's own loopback address served by the data plane. Under
 * constant load through the listener, two deploys and a rollback of api, then of web, fail no
 * request, and the address never changes; the same for examples/homelab-containers on Docker
 * (before it, each api deploy moved api to new ports that
 * web did not know, and the pool emptied: 47,947 of 65,507 requests failed).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceOutputsOf } from '../../src/kinds/service/service-spec.js';
import { runCli } from '../helpers/cli.js';
import { describeWithEngine, findEngine, newRunId } from '../helpers/docker.js';
import { httpGet } from '../helpers/http.js';
import {
  describeSamples,
  failed,
  freePort,
  startLabDaemon,
  startTraffic,
  type LabDaemon,
} from '../helpers/lab-daemon.js';
import { resourceOf } from '../helpers/state.js';
import { isAlive } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { spawnUp, teardownSpawned, type SpawnedDaemon } from '../daemon/daemon-harness.js';
import { copyStackDir, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const docker = await findEngine();

interface LabCase {
  example: string;
  /** The listener's line in the example, replaced by a free port. */
  listener: string;
  /** What every page must show. */
  heading: string;
}

/**
 * Copies the example (under a stack name of its own), starts the daemon on it, and under constant
 * load through the listener deploys api twice, rolls it back, then the same for web. Every step
 * must succeed, no request fail, and the api's address never change.
 */
async function everyServiceUnderLoad(c: LabCase, open: (lab: LabDaemon, dir: string) => void): Promise<void> {
  const dir = makeTempDir('addresses');
  copyStackDir(path.join(EXAMPLES, c.example), dir);
  const port = await freePort();
  const file = path.join(dir, 'groundwork.yaml');
  writeFileSync(
    file,
    readFileSync(file, 'utf8')
      .replace(c.listener, `port: ${port}`)
      .replace(/^stack: (.*)$/m, `stack: $1-${newRunId()}`),
  );
  const lab = await startLabDaemon(dir, port);
  open(lab, dir);
  await lab.api.waitAllHealthy(['api', 'web'], 60_000);
  const addressOf = (service: string) => serviceOutputsOf(resourceOf(dir, `service.${service}`)).address;

  const api = addressOf('api');
  expect(api?.host).toMatch(/^127\.77\.\d+\.\d+$/);
  expect(api?.ports.http).toEqual(expect.any(Number));
  expect(addressOf('web')?.host).toMatch(/^127\.77\./);
  // The address answers by itself, balanced over api's ready instances.
  const direct = await httpGet(api?.ports.http ?? 0, '/healthz', 2000, api?.host);
  expect(direct.status).toBe(200);

  const traffic = startTraffic(lab.webUrl, 8, 5);
  for (const service of ['api', 'web']) {
    for (const n of [1, 2]) {
      // Something new for the release to carry (the code directory is copied per release).
      writeFileSync(path.join(dir, 'RELEASE'), `${service} ${n}\n`);
      const r = await runCli(['deploy', service, '-m', `${service} ${n}`], { cwd: dir });
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const r = await runCli(['rollback', service], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(addressOf('api')).toEqual(api);
  }
  await new Promise((r) => setTimeout(r, 300));
  const samples = await traffic.stop();
  expect(samples.length).toBeGreaterThan(100);
  // The figure for notes: how much load went through while every service was replaced 3 times.
  console.log(
    `[figure] service addresses (${c.example}): ${samples.length} requests, ${failed(samples).length} failed`,
  );
  expect(failed(samples), describeSamples(failed(samples))).toEqual([]);
  for (const s of samples) expect(s.body).toContain(c.heading);
  expect(addressOf('api')).toEqual(api);
}

describe('stable service addresses', () => {
  const labs: { lab: LabDaemon; dir: string }[] = [];
  afterEach(async () => {
    for (const { lab, dir } of labs.splice(0)) {
      await lab.close();
      removeTempDir(dir);
    }
  });

  it('examples/homelab: two deploys and a rollback of api, then of web, under load: no request fails', async () => {
    await everyServiceUnderLoad(
      { example: 'homelab', listener: 'port: 18080', heading: '<h1>My home lab</h1>' },
      (lab, dir) => labs.push({ lab, dir }),
    );
  });
});

describeWithEngine('stable service addresses with runtime: docker', docker, () => {
  const labs: { lab: LabDaemon; dir: string }[] = [];
  afterEach(async () => {
    for (const { lab, dir } of labs.splice(0)) {
      await lab.close();
      removeTempDir(dir);
    }
  });

  it('examples/homelab-containers: two deploys and a rollback of api, then of web, under load: no request fails', async () => {
    await everyServiceUnderLoad(
      { example: 'homelab-containers', listener: 'port: 18380', heading: '<h1>Containers in the lab</h1>' },
      (lab, dir) => labs.push({ lab, dir }),
    );
  }, 300_000);
});

describe('stable service addresses outlive the daemon', () => {
  const state: { dir: string; daemons: SpawnedDaemon[] } = { dir: '', daemons: [] };
  afterEach(async () => {
    const live = state.daemons.filter((d) => isAlive(d.pid));
    state.daemons = [];
    try {
      await teardownSpawned(state.dir, live.at(-1));
    } finally {
      for (const d of live) if (isAlive(d.pid)) d.child.kill('SIGKILL');
      removeTempDir(state.dir);
    }
  });

  it('examples/homelab under `groundwork up`: deploy api, SIGKILL the daemon, start it again, deploy web: no request fails', async () => {
    const dir = makeTempDir('addresses-kill');
    state.dir = dir;
    copyStackDir(path.join(EXAMPLES, 'homelab'), dir);
    const port = await freePort();
    const file = path.join(dir, 'groundwork.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('18080', String(port))); // the listener and the notify channel
    const first = await spawnUp(dir);
    state.daemons.push(first);
    await first.api.waitAllHealthy(['api', 'web'], 60_000);
    const traffic = startTraffic(`http://127.0.0.1:${port}/`, 8, 5);
    await waitFor(() => traffic.samples.length > 100, { what: '100 requests before the first deploy' });

    writeFileSync(path.join(dir, 'RELEASE'), 'api 1\n');
    const api = await runCli(['deploy', 'api', '-m', 'api 1'], { cwd: dir });
    expect(api.code, api.stdout + api.stderr).toBe(0);
    process.kill(first.pid, 'SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // No daemon: the listener and api's address are served by the data plane alone.
    const atKill = traffic.samples.length;
    await waitFor(() => traffic.samples.length > atKill + 200, { what: '200 requests while no daemon runs' });

    const second = await spawnUp(dir);
    state.daemons.push(second);
    await second.api.waitAllHealthy(['api', 'web'], 60_000);
    writeFileSync(path.join(dir, 'RELEASE'), 'web 1\n');
    const web = await runCli(['deploy', 'web', '-m', 'web 1'], { cwd: dir });
    expect(web.code, web.stdout + web.stderr).toBe(0);
    const samples = await traffic.stop();
    console.log(
      `[figure] service addresses across a daemon SIGKILL (homelab): ${samples.length} requests, ${failed(samples).length} failed`,
    );
    expect(failed(samples), describeSamples(failed(samples))).toEqual([]);
  });
});
