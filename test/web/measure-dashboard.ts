/**
 * Measures the dashboard's overview as a person first loads it, with 20 services: the bytes
 * transferred (compressed HTML + JS + CSS, and the API answers beside them) and the time from
 * navigation to the 20 services shown healthy, in Debian's Chromium with an empty cache.
 * A script to run by hand, not a test with a threshold (the machine's load moves the figure):
 *
 *   npm run build && npx tsx test/web/measure-dashboard.ts [--services 20] [--runs 5]
 *
 * Prints one line per run and the median; report `uptime` beside the figures.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { Daemon, tokenFile } from '../../src/daemon/daemon.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { Api, cleanEnv } from '../daemon/daemon-harness.js';
import { nodeService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const { values } = parseArgs({
  options: { services: { type: 'string', default: '20' }, runs: { type: 'string', default: '5' } },
});
const count = Number(values.services);
const runs = Number(values.runs);

const dir = makeTempDir('dashboard-measure');
writeServiceScript(dir);
const services = Object.fromEntries(
  Array.from({ length: count }, (_, i) => [
    `svc-${String(i + 1).padStart(2, '0')}`,
    nodeService(`measure-${i}`, { health: { http: { path: '/healthz' }, interval: '1s', timeout: '1s' } }),
  ]),
);
writeStack(dir, { stack: 'measure', services });
const stateDir = path.join(dir, '.groundwork');
const daemon = new Daemon({
  stackFile: path.join(dir, 'groundwork.yaml'),
  stateDir,
  host: '127.0.0.1',
  port: 0,
  vars: {},
  env: cleanEnv(),
  clock: systemClock,
  logger: silentLogger,
  applyOnStart: true,
});
await daemon.start();
const token = readFileSync(tokenFile(stateDir), 'utf8').trim();
const api = new Api(daemon.url, token);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  await api.waitAllHealthy(Object.keys(services), 60_000);
  const results: { ms: number; page: number; api: number }[] = [];
  for (let r = 0; r < runs; r++) {
    // A new context: empty cache, no cookies but the session's.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const login = await context.request.post(`${daemon.url}/ui/login`, { data: { token } });
    if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    // Bytes on the wire per response (headers and compressed body), as the browser counted them.
    const kinds = new Map<string, string>();
    const bytes = { page: 0, api: 0 };
    cdp.on('Network.responseReceived', (e) => kinds.set(e.requestId, e.response.url));
    cdp.on('Network.loadingFinished', (e) => {
      const url = kinds.get(e.requestId) ?? '';
      if (/\/ui\/(assets\/|$)/.test(new URL(url).pathname)) bytes.page += e.encodedDataLength;
      else bytes.api += e.encodedDataLength;
    });
    await page.goto(`${daemon.url}/ui/`);
    // performance.now() counts from the navigation's start.
    const ms = await page.waitForFunction(
      (n) =>
        document.querySelectorAll('tr[data-service] .badge.healthy').length === n &&
        document.querySelectorAll('.chart canvas').length === 2
          ? performance.now()
          : false,
      count,
      { polling: 'raf', timeout: 30_000 },
    );
    await page.waitForLoadState('networkidle');
    results.push({ ms: Number(await ms.jsonValue()), ...bytes });
    const last = results.at(-1);
    // Where the time went: the page's own files, then each API answer (ms from navigation start).
    // A string, not a function: tsx would wrap a function's inner names in a helper the page lacks.
    const phases = await page.evaluate<{ dom: number; status: number; whoami: number; query: number }>(`(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const end = (part) => Math.max(0, ...performance.getEntriesByType('resource')
        .filter((e) => e.name.includes(part)).map((e) => e.responseEnd));
      return { dom: nav ? nav.domContentLoadedEventEnd : 0, status: end('/v1/status'),
        whoami: end('/v1/whoami'), query: end('/api/v1/query_range') };
    })()`);
    const f = (n: number) => n.toFixed(0);
    console.log(
      `run ${r + 1}: ${count} services shown healthy with charts at ${last?.ms.toFixed(0)} ms ` +
        `(DOMContentLoaded ${f(phases.dom)}, whoami ${f(phases.whoami)}, status ${f(phases.status)}, query_range ${f(phases.query)}); ` +
        `transferred: page (HTML+JS+CSS) ${((last?.page ?? 0) / 1024).toFixed(1)} KB, API ${((last?.api ?? 0) / 1024).toFixed(1)} KB`,
    );
    await context.close();
  }
  const sorted = results.map((x) => x.ms).sort((a, b) => a - b);
  console.log(`median first load: ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms over ${runs} runs`);
} finally {
  await browser.close();
  await api.down(false).catch(() => undefined);
  await daemon.stop();
  removeTempDir(dir);
}
