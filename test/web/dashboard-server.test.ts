/**
 * The dashboard's server side over a real loopback socket, in the API's own Hono app (as the
 * daemon mounts it) with a small route table: the login (a token in, HttpOnly + SameSite=Strict
 * cookies out), pages behind the session, public precompressed assets, cookie authentication of
 * API calls with the CSRF header required on changes, logout, and the CLI's bearer path unchanged.
 * The bundle is a small one written here; test/web/dashboard-browser.test.ts drives the real one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gzipSync } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEnv } from '../../src/daemon/api/api-env.js';
import { createApi, createApp, route, type Route } from '../../src/daemon/api/http-app.js';
import { adminTokenOnly } from '../../src/daemon/api/middleware/auth.js';
import type { AuditEntry } from '../../src/security/audit.js';
import { silentLogger } from '../../src/util/logger.js';
import { overviewQueries } from '../../src/web/app/overview-queries.js';
import { DEFAULT_RANGE } from '../../src/web/app/time-range.js';
import { dashboard } from '../../src/web/server/dashboard.js';
import { csrfFor } from '../../src/web/server/session-cookie.js';
import { request, type ApiAnswer } from '../daemon/daemon-harness.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const TOKEN = 'gw_dashboard-test-token-0123456789abcdefghijklmnop';
const SCRIPT = 'console.log("dashboard");'.repeat(50);

let changes = 0;
const routes: Route[] = [
  route({ method: 'GET', path: '/v1/thing', summary: 'read', handler: async () => ({ status: 200, json: { ok: 1 } }) }),
  route({
    method: 'POST',
    path: '/v1/thing',
    summary: 'change',
    body: Type.Object({}),
    handler: async () => {
      changes++;
      return { status: 200, json: { changed: true } };
    },
  }),
];

function writeBundle(dir: string): void {
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  const files: Record<string, string> = {
    'index.html': '<!doctype html><title>Groundwork</title><script type="module" src="/ui/assets/app-X1.js"></script>',
    'assets/app-X1.js': SCRIPT,
  };
  for (const [name, text] of Object.entries(files)) {
    const full = path.join(dir, name);
    writeFileSync(full, text);
    writeFileSync(`${full}.br`, brotliCompressSync(text));
    writeFileSync(`${full}.gz`, gzipSync(text));
  }
}

describe('the dashboard server: login, session cookie, CSRF, assets', () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  const audit: AuditEntry[] = [];

  beforeAll(async () => {
    dir = makeTempDir('dashboard');
    writeBundle(dir);
    const access = { ...adminTokenOnly(TOKEN), record: (e: AuditEntry) => void audit.push(e) };
    const ui = dashboard<ApiEnv>({
      authenticate: (h) => access.authenticate(h),
      record: access.record,
      remote: () => 'test',
      dir,
    });
    server = http.createServer(createApp(routes, access, silentLogger, undefined, ui));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    removeTempDir(dir);
  });

  /**
   * The API's app with the dashboard, called in-process (app.request) for what the socket cannot
   * send: another Host (TLS, a port), a fixed clock, a folder without a bundle.
   */
  const inProcessApp = (o: { now?: () => number; dir?: string } = {}) =>
    createApi(
      routes,
      adminTokenOnly(TOKEN),
      silentLogger,
      undefined,
      dashboard<ApiEnv>({
        authenticate: (h) => adminTokenOnly(TOKEN).authenticate(h),
        record: () => undefined,
        remote: () => 'test',
        dir: o.dir ?? dir,
        ...(o.now ? { now: o.now } : {}),
      }),
    );
  const port = () => new URL(url).port;
  const login = (body: string, headers: Record<string, string> = {}) =>
    request(url, 'POST', '/ui/login', { body, headers });
  const cookieHeader = (a: ApiAnswer): string =>
    ([] as string[])
      .concat(a.headers['set-cookie'] ?? [])
      .map((c) => c.split(';')[0])
      .join('; ');

  it('redirects a page without a session to the login page, keeping where it was going', async () => {
    const a = await request(url, 'GET', '/ui/services/web?x=1');
    expect(a.status).toBe(302);
    expect(a.headers.location).toBe(`/ui/login?next=${encodeURIComponent('/ui/services/web?x=1')}`);
    expect((await request(url, 'GET', '/ui')).headers.location).toBe('/ui/');
    const garbage = await request(url, 'GET', '/ui/', { headers: { cookie: `gw_session_${port()}=nope` } });
    expect(garbage.status).toBe(302);
  });

  it('serves the login page and the assets without a session, precompressed, with a strict CSP', async () => {
    const page = await request(url, 'GET', '/ui/login');
    expect(page.status).toBe(200);
    expect(page.text).toContain('/ui/assets/app-X1.js');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['cache-control']).toBe('no-cache');

    const br = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get(`${url}/ui/assets/app-X1.js`, { headers: { 'accept-encoding': 'gzip, deflate, br' } }, (res) => {
          const chunks: Buffer[] = [];
          res
            .on('data', (c: Buffer) => chunks.push(c))
            .on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toContain('immutable');
    expect(br.headers.vary).toBe('accept-encoding');
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT);

    const gz = await request(url, 'GET', '/ui/assets/app-X1.js', { headers: { 'accept-encoding': 'gzip, br;q=0' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const plain = await request(url, 'GET', '/ui/assets/app-X1.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toBe(SCRIPT);
    expect((await request(url, 'GET', '/ui/assets/nope.js')).status).toBe(404);
  });

  it('refuses a bad login (audited, no cookie) and a login that is not JSON (no login CSRF from a form)', async () => {
    const bad = await login(JSON.stringify({ token: 'wrong' }));
    expect(bad.status).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();
    expect(JSON.parse(bad.text).error.fix).toContain('groundwork token create');
    expect(audit.some((e) => e.path === '/ui/login' && e.status === 401 && e.decision === 'denied')).toBe(true);
    // What a cross-site HTML form can send: refused before the token is looked at.
    const form = await login(`token=${TOKEN}`, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect((await login('{')).status).toBe(400);
    expect((await login(JSON.stringify({ token: 'x'.repeat(5000) }))).status).toBe(413);
  });

  it('logs in: an HttpOnly SameSite=Strict session cookie and a readable CSRF cookie, named by port', async () => {
    const ok = await login(JSON.stringify({ token: TOKEN }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({ role: 'admin', user: null });
    const cookies = ([] as string[]).concat(ok.headers['set-cookie'] ?? []);
    const session = cookies.find((c) => c.startsWith(`gw_session_${port()}=`));
    const csrf = cookies.find((c) => c.startsWith(`gw_csrf_${port()}=`));
    expect(session).toMatch(/; HttpOnly; Path=\/; SameSite=Strict$/);
    expect(csrf).toBe(`gw_csrf_${port()}=${csrfFor(TOKEN)}; Path=/; SameSite=Strict`);
    // Plain HTTP: no Secure (the browser would drop it); over TLS it is there.
    const api = inProcessApp();
    const tls = await api.request('https://127.0.0.1:8443/ui/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', host: '127.0.0.1:8443' },
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(tls.headers.getSetCookie().every((c) => c.includes('; Secure') && c.includes('_8443='))).toBe(true);
  });

  it("names the page's script and first API answers in a Link header, so the browser asks for them while it loads", async () => {
    // A fixed clock: the overview's range queries are named from it, as the page names them.
    const now = Date.UTC(2026, 11, 2, 6, 0, 7);
    const api = inProcessApp({ now: () => now });
    const cookie = `gw_session_8080=${TOKEN}`;
    const links = async (page: string) => {
      const res = await api.request(`http://127.0.0.1:8080${page}`, { headers: { cookie, host: '127.0.0.1:8080' } });
      expect(res.status).toBe(200);
      return (res.headers.get('link') ?? '').split(', ');
    };
    const q = overviewQueries(DEFAULT_RANGE, Math.floor(now / 1000));
    expect(q.requests).toContain(`end=${Math.floor(now / 15_000) * 15}&step=15`);
    // The script first: the daemon answers it before it computes any query.
    expect(await links('/ui/')).toEqual([
      '</ui/assets/app-X1.js>; rel=modulepreload',
      '</v1/whoami>; rel=preload; as=fetch; crossorigin',
      '</v1/status>; rel=preload; as=fetch; crossorigin',
      `<${q.requests}>; rel=preload; as=fetch; crossorigin`,
      `<${q.errors}>; rel=preload; as=fetch; crossorigin`,
    ]);
    // The range in the address is the range queried.
    const hour = overviewQueries({ kind: 'preset', preset: '1h' }, Math.floor(now / 1000));
    expect(await links('/ui/?range=1h')).toContain(`<${hour.requests}>; rel=preload; as=fetch; crossorigin`);
    // Another page: only the session; the login page: nothing to ask for yet.
    expect(await links('/ui/routes')).toEqual([
      '</ui/assets/app-X1.js>; rel=modulepreload',
      '</v1/whoami>; rel=preload; as=fetch; crossorigin',
    ]);
    const loginPage = await api.request('http://127.0.0.1/ui/login');
    expect(loginPage.headers.get('link')).toBeNull();
  });

  it('authenticates API calls by the cookie; a change needs the CSRF header (403 without, as a cross-site post)', async () => {
    const cookie = cookieHeader(await login(JSON.stringify({ token: TOKEN })));
    expect((await request(url, 'GET', '/ui/', { headers: { cookie } })).status).toBe(200);
    expect((await request(url, 'GET', '/v1/thing', { headers: { cookie } })).status).toBe(200);

    const before = changes;
    // What a form on another page of this host sends: the cookie, and no header.
    const forged = await request(url, 'POST', '/v1/thing', {
      body: 'a=1',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.text).error.message).toContain('X-Groundwork-CSRF');
    const wrong = await request(url, 'POST', '/v1/thing', {
      body: '{}',
      headers: { cookie, 'x-groundwork-csrf': csrfFor('another token') },
    });
    expect(wrong.status).toBe(403);
    expect(changes).toBe(before);
    expect(audit.filter((e) => e.status === 403 && e.path === '/v1/thing')).toHaveLength(2);

    const right = await request(url, 'POST', '/v1/thing', {
      body: '{}',
      headers: { cookie, 'x-groundwork-csrf': csrfFor(TOKEN) },
    });
    expect(right.status).toBe(200);
    expect(changes).toBe(before + 1);
  });

  it('leaves bearer clients unchanged: no CSRF header, and the header wins over a stale cookie', async () => {
    const a = await request(url, 'POST', '/v1/thing', { token: TOKEN, body: '{}' });
    expect(a.status).toBe(200);
    const b = await request(url, 'POST', '/v1/thing', {
      token: TOKEN,
      body: '{}',
      headers: { cookie: `gw_session_${port()}=stale` },
    });
    expect(b.status).toBe(200);
    const stale = await request(url, 'GET', '/v1/thing', { headers: { cookie: `gw_session_${port()}=stale` } });
    expect(stale.status).toBe(401);
    expect(JSON.parse(stale.text).error.fix).toContain('/ui/login');
  });

  it('logs out only with the CSRF header, clearing both cookies', async () => {
    const cookie = cookieHeader(await login(JSON.stringify({ token: TOKEN })));
    expect((await request(url, 'POST', '/ui/logout', { headers: { cookie } })).status).toBe(403);
    const out = await request(url, 'POST', '/ui/logout', { headers: { cookie, 'x-groundwork-csrf': csrfFor(TOKEN) } });
    expect(out.status).toBe(200);
    const cleared = ([] as string[]).concat(out.headers['set-cookie'] ?? []);
    expect(cleared).toHaveLength(2);
    expect(cleared.every((c) => c.includes('Max-Age=0'))).toBe(true);
  });

  it('says how to build the dashboard when the bundle is missing', async () => {
    const api = inProcessApp({ dir: path.join(dir, 'not-built') });
    const res = await api.request('http://127.0.0.1/ui/login');
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
  });
});
