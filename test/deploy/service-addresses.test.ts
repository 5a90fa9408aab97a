/**
 * Stable service addresses, end to end on examples/homelab: `web` calls `api` at
 * `${service.api.url.http}`, the api's own loopback address served by the data plane. Under
 * constant load through the listener, two deploys and a rollback of api, then of web, fail no
 * request, and the address never changes (before it, each api deploy moved api to new ports that
 * web did not know, and the pool emptied: 47,947 of 65,507 requests failed).
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { asServiceOutputs } from '../../src/kinds/service/service-spec.js';
import { runCli } from '../helpers/cli.js';
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

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'homelab');

describe('stable service addresses (examples/homelab)', () => {
  let dir = '';
  let lab: LabDaemon | undefined;

  afterEach(async () => {
    await lab?.close();
    lab = undefined;
    removeTempDir(dir);
  });

  const addressOf = (service: string) => asServiceOutputs(resourceOf(dir, `service.${service}`)?.outputs ?? {}).address;

  it('two deploys and a rollback of api, then of web, under load: no request fails, the address stays', async () => {
    dir = makeTempDir('addresses');
    copyStackDir(EXAMPLE, dir);
    const port = await freePort();
    const file = path.join(dir, 'groundwork.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('port: 18080', `port: ${port}`));
    lab = await startLabDaemon(dir, port);
    await lab.api.waitAllHealthy(['api', 'web']);

    const api = addressOf('api');
    expect(api?.host).toMatch(/^127\.77\.\d+\.\d+$/);
    expect(api?.ports.http).toEqual(expect.any(Number));
    expect(addressOf('web')?.host).toMatch(/^127\.77\./);
    // The address answers by itself, balanced over api's ready instances.
    const direct = await httpGet(api?.ports.http ?? 0, '/healthz', 2000, api?.host);
    expect(direct.status).toBe(200);

    const traffic = startTraffic(lab.webUrl, 8, 5);
    for (const service of ['api', 'web']) {
      const code = path.join(dir, 'services', `${service}.mjs`);
      for (const n of [1, 2]) {
        appendFileSync(code, `// release ${n} of ${service}\n`);
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
    console.log(`service addresses: ${samples.length} requests, ${failed(samples).length} failed`);
    expect(failed(samples), describeSamples(failed(samples))).toEqual([]);
    for (const s of samples) expect(s.body).toContain('<h1>My home lab</h1>');
    expect(addressOf('api')).toEqual(api);
  });
});
