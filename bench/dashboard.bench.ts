/**
 * The dashboard's overview as a person first loads it, with 20 services: `groundwork up` (dist/)
 * on a stack of 20 tiny Node HTTP servers with health checks; Debian's Chromium (playwright-core)
 * with an empty cache per run, logged in, navigates to /ui/ and the clock stops when all 20
 * services show healthy and both traffic charts are drawn (performance.now() from the
 * navigation's start). Bytes on the wire per response (headers and compressed bodies) are counted
 * through the DevTools protocol: the page's own files (HTML, JS, CSS) apart from the API answers.
 *
 * Reference measured in the same run, same browser, same daemon, same session: navigating to a
 * bare JSON document of the daemon (GET /v1/whoami, about 200 bytes), i.e. what one round trip
 * and a blank render cost Chromium here; the ratio is what the dashboard adds to that floor.
 *
 * Targets (issue 16): first load under 1 s, page under 200 KB compressed.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { defineBench, type BenchResult } from './harness/bench.js';
import { benchApi, startBenchDaemon, stopBenchDaemon, waitUntil, type BenchDaemon } from './harness/bench-daemon.js';
import { median } from './harness/median.js';

const CHROMIUM = '/usr/bin/chromium';
const SERVICES = 20;

const SERVER = `const http = require('node:http');
http.createServer((req, res) => res.end(req.url === '/healthz' ? 'ok' : 'hello')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function stackYaml(services: number): string {
  const lines = ['stack: dashboard-bench', 'services:'];
  for (let i = 1; i <= services; i++)
    lines.push(
      `  svc-${String(i).padStart(2, '0')}:`,
      '    command: node',
      '    args: [server.cjs]',
      '    ports: { http: auto }',
      "    env: { PORT: '${port.http}' }",
      '    health: { http: { path: /healthz }, interval: 1s, timeout: 1s }',
      '    stop_grace: 2s',
    );
  return `${lines.join('\n')}\n`;
}

interface Run {
  ms: number;
  pageBytes: number;
  apiBytes: number;
  referenceMs: number;
}

async function measureOnce(browser: Browser, d: BenchDaemon): Promise<Run> {
  // A new context: empty cache, no cookies but the session's.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const login = await context.request.post(`${d.url}/ui/login`, { data: { token: d.token } });
    if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const urls = new Map<string, string>();
    const bytes = { page: 0, api: 0 };
    cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
    cdp.on('Network.loadingFinished', (e) => {
      const url = urls.get(e.requestId) ?? '';
      if (/\/ui\/(assets\/|$)/.test(new URL(url).pathname)) bytes.page += e.encodedDataLength;
      else bytes.api += e.encodedDataLength;
    });
    await page.goto(`${d.url}/ui/`);
    const ms = await page.waitForFunction(
      (n) =>
        document.querySelectorAll('tr[data-service] .badge.healthy').length === n &&
        document.querySelectorAll('.chart canvas').length === 2
          ? performance.now()
          : false,
      SERVICES,
      { polling: 'raf', timeout: 30_000 },
    );
    const value = Number(await ms.jsonValue());
    await page.waitForLoadState('networkidle');
    const counted = { ...bytes };
    // The reference: a bare JSON answer of the same daemon, in a new page of the same session.
    const bare = await context.newPage();
    await bare.goto(`${d.url}/v1/whoami`, { waitUntil: 'load' });
    // A string, not a function: tsx would wrap a function's inner names in a helper the page lacks.
    const referenceMs = await bare.evaluate<number>(
      `(() => { const n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd : NaN; })()`,
    );
    return { ms: value, pageBytes: counted.page, apiBytes: counted.api, referenceMs };
  } finally {
    await context.close();
  }
}

export default defineBench({
  name: 'dashboard',
  description: `The overview's first load in Chromium with ${SERVICES} services, against a bare JSON page of the same daemon`,
  async run(ctx): Promise<BenchResult[]> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const dir = path.join(ctx.workDir, 'stack');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'server.cjs'), SERVER);
    writeFileSync(path.join(dir, 'groundwork.yaml'), stackYaml(SERVICES));
    const d = await startBenchDaemon(ctx.root, dir);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const runs: Run[] = [];
    try {
      await waitUntil(`all ${SERVICES} services healthy`, 180_000, async () => {
        const r = await benchApi(d, 'GET', '/v1/status');
        const s = JSON.parse(r.text) as { services: { replicas: number; instances: { state: string }[] }[] };
        const healthy = s.services.filter(
          (x) => x.instances.length === x.replicas && x.instances.every((i) => i.state === 'healthy'),
        ).length;
        return healthy === SERVICES ? true : undefined;
      });
      // One unmeasured load: Chromium's own first-use costs (its disk cache directory, fonts).
      await measureOnce(browser, d);
      const repeat = Math.max(3, ctx.repeat);
      for (let i = 0; i < repeat; i++) {
        const r = await measureOnce(browser, d);
        runs.push(r);
        ctx.log(
          `run ${i + 1}: overview ${r.ms.toFixed(0)} ms, bare page ${r.referenceMs.toFixed(0)} ms; ` +
            `page ${(r.pageBytes / 1024).toFixed(1)} KB, API ${(r.apiBytes / 1024).toFixed(1)} KB`,
        );
      }
    } finally {
      await browser.close();
      await stopBenchDaemon(d, dir, ctx.log);
    }
    const ms = runs.map((r) => r.ms);
    const ref = runs.map((r) => r.referenceMs);
    const kb = (b: number) => Math.round((b / 1024) * 10) / 10;
    return [
      {
        name: `overview first load, ${SERVICES} services`,
        metric: `navigation to ${SERVICES} healthy rows and both charts drawn (median of ${runs.length})`,
        value: median(ms),
        unit: 'ms',
        reference: { name: 'a bare JSON page (/v1/whoami) of the same daemon', value: median(ref) },
        target: { kind: 'max', value: 1000 },
        samples: ms,
        details: { referenceSamples: ref.map((x) => x.toFixed(0)).join(' ') },
      },
      {
        name: `overview transferred, ${SERVICES} services`,
        metric: 'HTML + JS + CSS on the wire (compressed, headers included)',
        value: kb(median(runs.map((r) => r.pageBytes))),
        unit: 'KB',
        target: { kind: 'max', value: 200 },
        details: { apiKB: kb(median(runs.map((r) => r.apiBytes))) },
      },
    ];
  },
});
