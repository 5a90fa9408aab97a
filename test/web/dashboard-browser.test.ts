/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core, against
 * a real daemon (in-process, with the built-in proxy) on a temp stack whose `web` service is two
 * node processes behind a proxy listener. As an admin: log in, see web healthy, tail its logs and
 * see a line it writes during the test, deploy from the button and watch the rollout to its end,
 * roll back, add a silence. A form on another page of this host posting with the session cookie
 * but without the CSRF header is refused (403), and from another site carries no cookie (401). A
 * viewer sees no deploy button, and a deploy forced with the viewer's cookie is refused (403).
 * Screenshots of each page go to test-artifacts/web/.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { silentLogger } from '../../src/util/logger.js';
import { FixedUsers } from '../../src/security/roles-stack-users.js';
import { Tokens } from '../../src/security/tokens.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { freePort, labStack } from '../helpers/lab-daemon.js';
import { httpGet } from '../helpers/http.js';
import { chromiumMissing, forcedPost, shot, skipReason, startDashboardLab, type DashboardLab } from './fixture.js';

/** A release of `web` that logs every request it serves (the live tail must show one). */
function writeServer(dir: string, build: string): void {
  writeFileSync(
    path.join(dir, 'server.mjs'),
    `import http from 'node:http';
const server = http.createServer((req, res) => {
  if (req.url !== '/healthz') console.log('${build} served ' + req.url);
  res.setHeader('x-build', '${build}');
  res.end('${build}\\n');
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('${build} listening on ' + process.env.PORT));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 1000).unref(); });
`,
  );
}

describe.skipIf(chromiumMissing)(`the dashboard in Chromium${skipReason}`, () => {
  let lab: DashboardLab;
  let webPort: number;
  let viewerToken: string;
  let evil: http.Server;
  let evilPort: number;

  beforeAll(async () => {
    webPort = await freePort();
    lab = await startDashboardLab('dashboard-browser', {
      // The lab's web service, and a check that always fails (nothing listens on port 9), so an
      // alert fires and opens an incident for the on-call schedule (the incidents page acts on it).
      stack: (dir) => {
        writeServer(dir, 'b1');
        return {
          ...labStack({ listenerPort: webPort }),
          checks: {
            probe: { http: { url: 'http://127.0.0.1:9/healthz' }, interval: '200ms', failures: 1, successes: 1 },
          },
          alerts: { 'probe-down': { check: 'probe', severity: 'critical', summary: 'the probe fails' } },
          notify: { channels: { ops: { webhook: { url: 'http://127.0.0.1:9/hook' } } } },
          people: { ana: { role: 'operator', contacts: { hook: { webhook: { url: 'http://127.0.0.1:9/page' } } } } },
          oncall: {
            schedules: {
              primary: {
                timezone: 'UTC',
                layers: [{ members: ['ana'], rotation: 'weekly', start: '2026-01-05T09:00' }],
              },
            },
            escalation: { default: { steps: [{ notify: ['schedule:primary'] }] } },
          },
        };
      },
      dataPlane: () => Promise.resolve(new NodeProxy({ logger: silentLogger, clock: systemClock })),
    });
    // A second connection to the daemon's store (WAL), as `groundwork token create` makes one.
    const store = SqliteStore.open(path.join(lab.stateDir, 'state.db'), systemClock);
    try {
      viewerToken = (
        await new Tokens(store.tokens, systemClock, new FixedUsers({})).create({ role: 'viewer', expires: null })
      ).token;
    } finally {
      store.closeNow();
    }
    // Another page on this host: it posts a form to the daemon (same site, another origin).
    evil = http.createServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? '';
      res.setHeader('content-type', 'text/html');
      res.end(
        `<form id="f" method="POST" action="${target}"><input name="a" value="1"></form><script>document.getElementById('f').submit()</script>`,
      );
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    evilPort = (evil.address() as AddressInfo).port;
    await lab.d.api.waitAllHealthy(['web']);
  });

  afterAll(async () => {
    await new Promise((r) => (evil ? evil.close(r) : r(undefined)));
    await lab?.close();
  });

  async function loggedIn(token: string, colorScheme: 'light' | 'dark' = 'light', width = 1100): Promise<Page> {
    const context = await lab.browser.newContext({ viewport: { width, height: 800 }, colorScheme });
    const page = await context.newPage();
    await page.goto(`${lab.d.daemon.url}/ui/services/web`);
    // Not logged in: the login page, which brings us back where we were going.
    await page.waitForURL(/\/ui\/login\?next=/);
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL(`${lab.d.daemon.url}/ui/services/web`);
    return page;
  }

  it('an admin logs in, sees web healthy, tails its logs, deploys and rolls back from the buttons', async () => {
    const context = await lab.browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${lab.d.daemon.url}/ui/`);
    await page.waitForURL(/\/ui\/login/);
    await page.fill('#token', 'not-a-token');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('[role=alert]')).toContain('refused');
    await page.fill('#token', lab.token);
    await shot(page, 'login');
    // The overview's API requests of its first load: each asked once (the server's Link
    // preloads, the page's early requests and its own are one request each, not two).
    const asked: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/v1/') || u.pathname.startsWith('/api/')) asked.push(u.pathname + u.search);
    });
    await page.click('button[type=submit]');
    await page.waitForURL(`${lab.d.daemon.url}/ui/`);
    const row = page.locator('tr[data-service=web]');
    await expect.poll(() => row.locator('.badge').textContent()).toBe('healthy');
    expect(await row.textContent()).toContain('2/2 ready');
    expect(await row.textContent()).toContain('v1');
    // Cookies as the browser keeps them: the session is out of the page's reach.
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name.startsWith('gw_session_'))).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
    });
    expect(await page.evaluate(() => document.cookie)).not.toContain(lab.token);
    await page.waitForSelector('.chart canvas');
    const firstLoad = [...asked];
    expect(firstLoad.filter((p) => p === '/v1/whoami')).toHaveLength(1);
    const queries = firstLoad.filter((p) => p.startsWith('/api/v1/query_range?'));
    // The two range queries (the first ones; a refresh after 15 s asks for another window).
    expect(new Set(queries.slice(0, 2)).size).toBe(2);
    expect(queries.filter((p) => p === queries[0])).toHaveLength(1);
    expect(queries.filter((p) => p === queries[1])).toHaveLength(1);
    // Status polls every 5 s until web is healthy: never twice within one poll.
    expect(firstLoad.filter((p) => p === '/v1/status').length).toBeGreaterThanOrEqual(1);
    await shot(page, 'overview');

    // The service page, by keyboard-reachable link.
    await page.click('a[href="/ui/services/web"]');
    await page.waitForURL(`${lab.d.daemon.url}/ui/services/web`);
    const logs = page.getByTestId('logs');
    await expect.poll(() => logs.textContent(), { timeout: 10_000 }).toContain('b1 listening');
    const marker = `/marker-${randomBytes(6).toString('hex')}`;
    expect((await httpGet(webPort, marker)).status).toBe(200);
    await expect.poll(() => logs.textContent(), { timeout: 10_000 }).toContain(`b1 served ${marker}`);

    // Deploy the working tree (now build b2) from the button; the rollout shows live, then ends.
    writeServer(lab.dir, 'b2');
    const rollout = page.getByTestId('rollout');
    await page.click('button[data-action=deploy]');
    await page.waitForSelector('[data-testid=rollout].running');
    await page.waitForSelector('[data-testid=rollout].ok', { timeout: 30_000 });
    const deployed = await rollout.textContent();
    expect(deployed).toContain('Deploy the working tree: finished');
    expect(deployed).toContain('done: release v2 is live');
    expect((await rollout.locator('li').count()) > 1).toBe(true);
    expect((await httpGet(webPort, '/')).body).toBe('b2\n');
    await expect.poll(() => page.locator('tr.current').textContent()).toContain('v2');
    await expect.poll(() => logs.textContent(), { timeout: 10_000 }).toContain('b2 listening');
    await shot(page, 'service-deployed');

    await page.click('button[data-action=rollback]');
    await expect
      .poll(() => rollout.locator('h3').textContent(), { timeout: 30_000 })
      .toMatch(/^Roll back to v1: finished/);
    expect((await httpGet(webPort, '/')).body).toBe('b1\n');
    await shot(page, 'service-rolled-back');

    // A form on another page of this host (same site): the cookie goes along, the header cannot.
    const restarts = (await lab.d.api.status()).services.find((s) => s.name === 'web')?.instances.map((i) => i.pid);
    const target = encodeURIComponent(`${lab.d.daemon.url}/v1/services/web/restart`);
    const forged = page.waitForResponse((r) => r.url().endsWith('/v1/services/web/restart'));
    await page.goto(`http://127.0.0.1:${evilPort}/?target=${target}`);
    expect((await forged).status()).toBe(403);
    // From another site (localhost is not 127.0.0.1): SameSite=Strict keeps the cookie home.
    const crossSite = page.waitForResponse((r) => r.url().endsWith('/v1/services/web/restart'));
    await page.goto(`http://localhost:${evilPort}/?target=${target}`);
    expect((await crossSite).status()).toBe(401);
    expect((await lab.d.api.status()).services.find((s) => s.name === 'web')?.instances.map((i) => i.pid)).toEqual(
      restarts,
    );

    // Alerts: add a silence from the form; it is listed.
    await page.goto(`${lab.d.daemon.url}/ui/alerts`);
    await page.fill('#matchers', 'alertname="web-down"');
    await page.fill('#duration', '2h');
    await page.fill('#comment', 'dashboard test');
    await page.click('form.stack-form button[type=submit]');
    await expect.poll(() => page.locator('main').textContent()).toContain('alertname="web-down"');
    await shot(page, 'alerts');
    // Incidents: the probe's alert opened one; acknowledge it, then resolve it, from its page.
    await page.click('a[href="/ui/incidents"]');
    await page.waitForSelector('main h1:text("Incidents")');
    const incident = page.locator('main table a', { hasText: 'probe' }).first();
    await incident.waitFor({ timeout: 20_000 });
    await shot(page, 'incidents');
    await incident.click();
    await page.waitForURL(/\/ui\/incidents\/\d+$/);
    await page.click('button:text("Acknowledge")');
    await expect.poll(() => page.locator('main h1 .badge').textContent()).toBe('acknowledged');
    await expect.poll(() => page.locator('.timeline').textContent()).toMatch(/ack/i);
    await shot(page, 'incident-acknowledged');
    await page.click('button:text("Resolve")');
    await expect.poll(() => page.locator('main h1 .badge').textContent()).toBe('resolved');

    // Log out: the session ends, pages go back to the login.
    await page.click('text=Log out');
    await page.waitForURL(/\/ui\/login/);
    await page.goto(`${lab.d.daemon.url}/ui/`);
    await page.waitForURL(/\/ui\/login/);
    await context.close();
  });

  it('a viewer sees no deploy button, and a deploy forced with its cookie is refused', async () => {
    const releasesBefore = (await lab.d.api.json<{ releases: unknown[] }>('GET', '/v1/services/web/releases')).releases
      .length;
    const page = await loggedIn(viewerToken);
    await expect.poll(() => page.getByTestId('role').textContent()).toContain('viewer');
    await page.waitForSelector('text=Your role may not deploy');
    expect(await page.locator('button[data-action=deploy]').count()).toBe(0);
    expect(await page.locator('button[data-action=rollback]').count()).toBe(0);
    await shot(page, 'service-viewer');
    // With the right CSRF header: what refuses it now is the role.
    const status = await forcedPost(page, '/v1/services/web/deploy', {});
    expect(status).toBe(403);
    expect((await lab.d.api.json<{ releases: unknown[] }>('GET', '/v1/services/web/releases')).releases).toHaveLength(
      releasesBefore,
    );
    await page.context().close();
  });

  it('fits a 360 px screen in dark mode', async () => {
    const page = await loggedIn(lab.token, 'dark', 360);
    // Traffic through the proxy, so the request-rate chart has a series for web.
    for (let i = 0; i < 20; i++) await httpGet(webPort, `/load-${i}`);
    await expect
      .poll(
        async () => {
          await page.goto(`${lab.d.daemon.url}/ui/`);
          await page.waitForSelector('tr[data-service=web] .badge.healthy');
          await page.waitForSelector('.chart canvas');
          await httpGet(webPort, '/more');
          return page.locator('.chart').first().locator('.u-legend').textContent();
        },
        { timeout: 20_000, interval: 1000 },
      )
      .toContain('web');
    // Nothing wider than the screen: no sideways scrolling.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(11, 17, 32)');
    await shot(page, 'overview-360-dark');
    await page.context().close();
  });
});
