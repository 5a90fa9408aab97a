/**
 * The dashboard's routes, checks and metrics pages and the live service page, in Debian's
 * Chromium (playwright-core) against a real daemon (in-process, built-in proxy, metrics every
 * second) on a stack with `web` (two node processes) behind a listener and a route, a DNS zone
 * with a declared record, and an HTTP check of web through the proxy. Screenshots go to
 * test-artifacts/web/ (desktop width, and 360 px in dark mode).
 */
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStreamLine, NetworkResponse } from '../../src/daemon/api/schemas.js';
import { queryWindow } from '../../src/web/app/time-range.js';
import { RemoteDataPlane } from '../../src/proxy/process/remote-data-plane.js';
import { runCliOk } from '../helpers/cli.js';
import { ensureBuilt, ROOT } from '../helpers/dist.js';
import { httpGet } from '../helpers/http.js';
import { freePort, labStack, writeServer } from '../helpers/lab-daemon.js';
import { isAlive } from '../helpers/processes.js';
import { chromiumMissing, shot, skipReason, startDashboardLab, type DashboardLab } from './fixture.js';

const DATA_PLANE = path.join(ROOT, 'dist', 'proxy', 'process', 'main.js');
const ZONE = 'explore.internal';

describe.skipIf(chromiumMissing)(
  `the dashboard's routes, checks, metrics and live pages in Chromium${skipReason}`,
  () => {
    let lab: DashboardLab;
    let plane: RemoteDataPlane | undefined;
    let webPort: number;

    beforeAll(async () => {
      ensureBuilt();
      const [listenerPort, dnsPort] = [await freePort(), await freePort()];
      webPort = listenerPort;
      lab = await startDashboardLab('dashboard-explore', {
        stack: (dir) => {
          writeServer(dir, 'b1');
          return {
            ...labStack({ listenerPort }),
            stack: 'explore',
            dns: {
              zone: ZONE,
              listen: `127.0.0.1:${dnsPort}`,
              records: [{ name: 'nas', type: 'A', value: '192.168.1.20' }],
            },
            checks: {
              'web-home': {
                http: { url: `http://127.0.0.1:${listenerPort}/` },
                interval: '500ms',
                failures: 1,
                successes: 1,
              },
            },
          };
        },
        healthy: ['web'],
        // The data plane as `groundwork up` runs it: its own process, which reports its listeners'
        // state (bound, failed) in a file that status reads, and serves the DNS zone.
        dataPlane: async (stateDir) => {
          plane = (await RemoteDataPlane.attach({ launch: { stateDir, entry: DATA_PLANE } })).plane;
          return plane;
        },
        exitOnDown: true,
        leftAfterDown: () =>
          plane?.pid !== undefined && isAlive(plane.pid)
            ? `the data plane (pid ${plane.pid}) still runs after down`
            : undefined,
      });
    }, 60_000);

    afterAll(async () => {
      await lab?.close();
    });

    /** A logged-in page at `to` (the login page brings us back there). */
    async function open(to: string, colorScheme: 'light' | 'dark' = 'light', width = 1100): Promise<Page> {
      const context = await lab.browser.newContext({ viewport: { width, height: 800 }, colorScheme });
      const page = await context.newPage();
      await page.goto(`${lab.d.daemon.url}${to}`);
      await page.waitForURL(/\/ui\/login\?next=/);
      await page.fill('#token', lab.token);
      await page.click('button[type=submit]');
      await page.waitForURL(`${lab.d.daemon.url}${to}`);
      return page;
    }

    it("lists the stack's listener, its route with ready backends, and the DNS zone's records", async () => {
      const page = await open('/ui/routes');
      const listener = page.locator('tr[data-listener=http]');
      await expect.poll(() => listener.locator('.badge').textContent(), { timeout: 10_000 }).toBe('bound');
      expect(await listener.textContent()).toContain(`:${webPort}`);
      const route = page.locator('tr[data-route]').first();
      await expect.poll(() => route.getByTestId('backends').textContent()).toBe('2/2 ready');
      expect(await route.textContent()).toContain('web');
      await page.waitForSelector(`main h2:text("DNS zone ${ZONE}")`);
      const nas = page.locator(`tr[data-record="nas.${ZONE}"]`);
      expect(await nas.textContent()).toContain('192.168.1.20');
      expect(await nas.textContent()).toContain('stack file');
      // The service's stable address: an A record, and an SRV record per named port.
      expect(await page.locator(`tr[data-record="web.${ZONE}"]`).textContent()).toMatch(/A127\.\d+\.\d+\.\d+/);
      expect(await page.locator(`tr[data-record="_http._tcp.web.${ZONE}"]`).textContent()).toContain('SRV');
      await shot(page, 'routes');
      // The page's source, as the contract declares it.
      const network = await lab.d.api.json<unknown>('GET', '/v1/network');
      expect([...Value.Errors(NetworkResponse, network)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
      // The nav reaches it at 360 px in dark mode, nothing wider than the screen.
      const small = await open('/ui/routes', 'dark', 360);
      await small.waitForSelector(`tr[data-record="nas.${ZONE}"]`);
      await expect.poll(() => small.locator('tr[data-route] [data-testid=backends]').textContent()).toBe('2/2 ready');
      expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      await shot(small, 'routes-360-dark');
      await small.context().close();
      await page.context().close();
    });

    it('draws a typed query (one line per series), shows a bad one with its position, and keeps the range in the address', async () => {
      // The daemon samples instances every few seconds, and the page asks for a window whose end is
      // rounded down to its step (15 s for 15 minutes). Wait until that same window has web's two
      // series, so the page's first answer (it reloads every 30 s) is not an empty one.
      const q = 'groundwork_instance_ready{service="web"}';
      await expect
        .poll(
          async () => {
            const w = queryWindow({ kind: 'preset', preset: '15m' }, Math.floor(Date.now() / 1000));
            const params = new URLSearchParams({
              query: q,
              start: String(w.start),
              end: String(w.end),
              step: String(w.step),
            });
            return (await lab.d.api.json<{ data: { result: unknown[] } }>('GET', `/api/v1/query_range?${params}`)).data
              .result.length;
          },
          { timeout: 45_000 },
        )
        .toBe(2);
      const page = await open('/ui/metrics');
      // web's two instances: one series each.
      await page.fill('#promql', 'groundwork_instance_ready{service="web"}');
      await page.press('#promql', 'Enter');
      await page.waitForURL(/\?range=15m&query=groundwork_instance_ready/);
      const chart = page.locator('.chart');
      await expect.poll(() => chart.getAttribute('data-series'), { timeout: 15_000 }).toBe('2');
      await page.waitForSelector('.chart canvas');
      expect(await chart.locator('.u-legend').textContent()).toContain('replica="1"');
      await shot(page, 'metrics');

      // The range picker changes the request and the address (which a reload keeps).
      const request = page.waitForRequest((r) => r.url().includes('/api/v1/query_range'));
      await page.click('button[data-range="6h"]');
      const sent = new URL((await request).url());
      const span = Number(sent.searchParams.get('end')) - Number(sent.searchParams.get('start'));
      expect(span).toBeGreaterThan(6 * 3600 - 300);
      expect(span).toBeLessThanOrEqual(6 * 3600);
      expect(Number(sent.searchParams.get('step'))).toBe(120);
      expect(new URL(page.url()).searchParams.get('range')).toBe('6h');
      await page.reload();
      expect(await page.locator('button[data-range="6h"]').getAttribute('aria-pressed')).toBe('true');
      expect(await page.inputValue('#promql')).toBe('groundwork_instance_ready{service="web"}');
      // A daemon up for a minute has no sample on a 2-minute grid yet: the chart is drawn, maybe empty.
      await page.waitForSelector('.chart[data-series]');
      await page.click('button[data-range="15m"]');
      expect(new URL(page.url()).searchParams.get('range')).toBe('15m');
      await expect.poll(() => page.locator('.chart').getAttribute('data-series'), { timeout: 15_000 }).toBe('2');

      // A query the engine refuses: its message, and a caret under the place it names.
      await page.fill('#promql', 'sum(rate(groundwork_instance_ready[5m])');
      await page.press('#promql', 'Enter');
      const error = page.getByTestId('query-error');
      await error.waitFor({ timeout: 10_000 });
      expect(await error.textContent()).toMatch(/at character \d+/);
      const caret = (await error.locator('pre.caret').textContent()) ?? '';
      expect(caret.split('\n')[1]).toMatch(/^ +\^$/);
      await shot(page, 'metrics-error');

      // A shared address opens the same view: at 360 px in dark mode, nothing wider than the screen.
      const shared = new URLSearchParams({ range: '15m', query: 'groundwork_instance_ready{service="web"}' });
      const small = await open(`/ui/metrics?${shared}`, 'dark', 360);
      await expect.poll(() => small.locator('.chart').getAttribute('data-series'), { timeout: 15_000 }).toBe('2');
      expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      await shot(small, 'metrics-360-dark');
      await small.context().close();

      // The overview's charts take the same picker.
      await page.goto(`${lab.d.daemon.url}/ui/?range=1h`);
      expect(await page.locator('button[data-range="1h"]').getAttribute('aria-pressed')).toBe('true');
      await page.waitForSelector('main h2:text("Traffic, last 1 hour")');
      await page.context().close();
    });

    it('shows each check with its state, last run and latency chart', async () => {
      for (let i = 0; i < 5; i++) await httpGet(webPort, `/load-${i}`);
      const page = await open('/ui/checks?range=15m');
      const row = page.locator('tr[data-check=web-home]');
      await expect.poll(() => row.locator('.badge').textContent(), { timeout: 10_000 }).toBe('up');
      expect(await row.textContent()).toMatch(/\d+(\.\d)? ms/);
      const latency = page.locator('.chart', { hasText: 'Latency' });
      await expect
        .poll(
          async () => {
            await page.click('button[data-range="15m"]');
            return latency.getAttribute('data-series');
          },
          { timeout: 20_000, interval: 1000 },
        )
        .toBe('1');
      await shot(page, 'checks');
      await page.context().close();
    });

    it('follows a deploy started with the CLI while the service page is open, step by step, to its end', async () => {
      const page = await open('/ui/services/web');
      await page.waitForSelector('tr.current');
      writeServer(lab.dir, 'b2');
      // Beside the page, a client of the API with the bearer token follows the same stream.
      const sse = new AbortController();
      const frames: unknown[] = [];
      const streamed = fetch(`${lab.d.daemon.url}/v1/events/stream?service=web`, {
        headers: { authorization: `Bearer ${lab.token}` },
        signal: sse.signal,
      }).then(async (res) => {
        expect(res.headers.get('content-type')).toContain('text/event-stream');
        const decoder = new TextDecoder();
        let text = '';
        for await (const chunk of res.body ?? []) {
          text += decoder.decode(chunk as Uint8Array, { stream: true });
          for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
            const frame = text.slice(0, end);
            text = text.slice(end + 2);
            if (frame.startsWith('data: ')) frames.push(JSON.parse(frame.slice(6)));
          }
          if (frames.some((f) => (f as { outcome?: unknown }).outcome === 'ok')) return;
        }
      });
      let cliEnded = false;
      const cli = runCliOk(['deploy', 'web', '--state-dir', lab.stateDir], { cwd: lab.dir }).finally(() => {
        cliEnded = true;
      });
      const live = page.getByTestId('live-rollout');
      // Steps show while the CLI's deploy still runs.
      await page.waitForSelector('[data-testid=live-rollout].running li', { timeout: 20_000 });
      const whileRunning = { ended: cliEnded, text: (await live.textContent()) ?? '' };
      await shot(page, 'service-live-deploy');
      const done = await cli;
      expect(whileRunning.ended).toBe(false);
      expect(whileRunning.text).toContain('Deploy');
      await page.waitForSelector('[data-testid=live-rollout].ok', { timeout: 20_000 });
      const steps = await live.locator('li').allTextContents();
      expect(steps.some((s) => /v2: (copying|building)/.test(s))).toBe(true);
      expect(steps.some((s) => /release v2 started/.test(s))).toBe(true);
      expect(steps.at(-1)).toBe('deploy finished');
      expect(done.stdout + done.stderr).toContain('v2');
      expect((await httpGet(webPort, '/')).body).toMatch(/^b2 /);
      // The releases table caught up when the rollout ended.
      await expect.poll(() => page.locator('tr.current').textContent()).toContain('v2');
      await shot(page, 'service-live-deployed');
      await streamed;
      sse.abort();
      expect(
        frames.flatMap((f) => [...Value.Errors(EventStreamLine, f)].map((e) => `${e.path}: ${e.message}`)),
      ).toEqual([]);
      expect(frames).toContainEqual(expect.objectContaining({ type: 'release', release: 2, phase: 'finished' }));
      await page.context().close();
    });
  },
);
