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
import { asServiceOutputs } from '../../src/kinds/service/service-spec.js';
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
  const addressOf = (service: string) => asServiceOutputs(resourceOf(dir, `service.${service}`)?.outputs ?? {}).address;

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
