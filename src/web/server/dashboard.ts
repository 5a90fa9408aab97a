/**
 * The dashboard at `/ui/`, on the API's own address (same origin, so the API's cookie
 * authentication and CSRF check in daemon/api/middleware/auth.ts cover the page's requests).
 *
 *   GET  /ui/assets/*   the bundle's hashed files: public, cached for a year, precompressed
 *   GET  /ui/login      the login page (the app shows its form there): public
 *   POST /ui/login      `{ "token": "..." }` as JSON: checked as a bearer token, then the session
 *                       cookies (session-cookie.ts); a bad token is a 401 and an audit entry
 *   POST /ui/logout     clears them (needs the CSRF header, as any cookie-authenticated change)
 *   GET  /ui/*          the app, for a valid session; otherwise a redirect to the login page
 *
 * A Hono middleware that answers every `/ui` request itself: mounted before the API's bearer
 * check, it never calls `next`.
 */
import type { Context, Env, MiddlewareHandler } from 'hono';
import type { AuditEntry } from '../../security/audit.js';
import type { Authentication } from '../../security/tokens.js';
import { overviewQueries } from '../app/overview-queries.js';
import { rangeFromSearch } from '../app/time-range.js';
import { Bundle, defaultBundleDir, pickEncoding, type Asset } from './bundle.js';
import {
  clearedCookies,
  csrfMatches,
  CSRF_HEADER,
  sessionCookies,
  trySessionToken,
  type CookieContext,
} from './session-cookie.js';

export interface DashboardOptions<E extends Env> {
  /** Checks an `Authorization` header value exactly as the API does (`Bearer <token>`). */
  authenticate(authorization: string): Promise<Authentication>;
  /** Appends a refused login to the audit log (awaited). */
  record(entry: AuditEntry): void | Promise<void>;
  /** The caller's address for the audit log. */
  remote(c: Context<E>): string;
  /**
   * Unix time in ms, from which the overview's early range queries are named: the wall clock the
   * browser reads too (default Date.now; a test passes a fixed one).
   */
  now?: () => number;
  /** Where the built bundle is (default: dist/web/ui of this package). */
  dir?: string;
}

/** A login body is one token: anything much longer is not one. */
const MAX_LOGIN_BYTES = 4096;

/**
 * What the page may load: only its own files, no inline script, nothing framed. Styles set from
 * script (uPlot, Preact's style props) go through the CSSOM, which this policy does not restrict.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * A `Link` header that has the browser ask for a page's first API answers while it still loads
 * the script; the script's own GETs of the same paths take them (api.ts startEarly: same
 * credentials and mode). Every page reads the session (whoami); the overview its status and its
 * two range queries, whose paths depend on the clock and the address's range exactly as the page
 * computes them (overview-queries.ts, shared). A step boundary passed in between (every 15 s for
 * the default range) only costs the page a request of its own.
 */
export function earlyAnswers(rest: string, search: string, nowS: number): string {
  const paths = ['/v1/whoami'];
  if (rest === '') {
    const q = overviewQueries(rangeFromSearch(new URLSearchParams(search)), nowS);
    paths.push('/v1/status', q.requests, q.errors);
  }
  // URLSearchParams percent-encodes `<`, `>`, `,` and `;`, so each path is one link-value.
  return paths.map((p) => `<${p}>; rel=preload; as=fetch; crossorigin`).join(', ');
}

export function dashboard<E extends Env>(o: DashboardOptions<E>): MiddlewareHandler<E> {
  const dir = o.dir ?? defaultBundleDir();
  let bundle: Bundle | undefined;
  // Loaded at the first request, and again while it is missing (a build that finishes later).
  const loaded = (): Bundle | undefined => (bundle ??= Bundle.tryLoad(dir));

  const serve = (c: Context<E>, asset: Asset, cache: string, extra: Record<string, string> = {}): Response => {
    const encoding = pickEncoding(c.req.header('accept-encoding'), asset);
    const body = encoding === 'br' ? asset.br : encoding === 'gzip' ? asset.gzip : asset.body;
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'content-type': asset.type,
      'cache-control': cache,
      vary: 'accept-encoding',
      ...(encoding ? { 'content-encoding': encoding } : {}),
      ...extra,
    };
    return new Response(c.req.method === 'HEAD' ? null : (body ?? asset.body), { status: 200, headers });
  };

  const json = (status: number, body: unknown, setCookies: string[] = []): Response => {
    const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    for (const v of setCookies) headers.append('set-cookie', v);
    return new Response(`${JSON.stringify(body)}\n`, { status, headers });
  };
  const problem = (status: number, code: string, message: string, fix: string) =>
    json(status, { error: { code, message, fix } });

  const cookieContext = (c: Context<E>): CookieContext => ({
    host: c.req.header('host'),
    secure: new URL(c.req.url).protocol === 'https:',
  });

  const login = async (c: Context<E>): Promise<Response> => {
    // JSON only: a cross-site HTML form cannot send it, and a cross-site script cannot either
    // without a CORS preflight, which this server never answers (no login CSRF).
    if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('application/json'))
      return problem(
        415,
        'bad-request',
        'the login takes a JSON body',
        'send `{ "token": "..." }` as application/json',
      );
    const text = await c.req.text();
    if (Buffer.byteLength(text) > MAX_LOGIN_BYTES)
      return problem(
        413,
        'payload-too-large',
        `the login body is over ${MAX_LOGIN_BYTES} bytes`,
        'send only the token',
      );
    let token: unknown;
    try {
      token = (JSON.parse(text) as { token?: unknown } | null)?.token;
    } catch {
      return problem(400, 'bad-request', 'the login body is not JSON', 'send `{ "token": "..." }`');
    }
    if (typeof token !== 'string' || token.trim() === '')
      return problem(400, 'bad-request', 'the login body has no `token` string', 'send `{ "token": "..." }`');
    const result = await o.authenticate(`Bearer ${token.trim()}`);
    if (!result.ok) {
      await o.record({
        token: result.tokenId ?? null,
        user: result.user ?? null,
        remote: o.remote(c),
        method: 'POST',
        path: '/ui/login',
        route: 'POST /ui/login',
        operation: null,
        service: null,
        decision: 'denied',
        status: 401,
        reason: result.reason,
      });
      return problem(
        401,
        'unauthorized',
        `the token was refused: ${result.reason}`,
        "paste a token from `groundwork token create`, or the daemon's own from .groundwork/daemon.token",
      );
    }
    const { caller } = result;
    return json(
      200,
      { user: caller.user, role: caller.role, permissions: [...caller.permissions].sort() },
      sessionCookies(token.trim(), cookieContext(c)),
    );
  };

  const logout = (c: Context<E>): Response => {
    const token = trySessionToken(c.req.header('cookie'), c.req.header('host'));
    // Without a session there is nothing to end; with one, only the page may end it.
    if (token !== undefined && !csrfMatches(token, c.req.header(CSRF_HEADER)))
      return problem(
        403,
        'forbidden',
        'logging out needs the X-Groundwork-CSRF header of the session',
        'log out from the dashboard page itself',
      );
    return json(200, { ok: true }, clearedCookies(cookieContext(c)));
  };

  const page = async (c: Context<E>, rest: string): Promise<Response> => {
    const b = loaded();
    if (!b)
      return new Response(
        `The dashboard was not built: ${dir} has no index.html.\nRun \`npm run build\` (it runs scripts/build-web.mjs) and reload.\n`,
        { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } },
      );
    if (rest.startsWith('assets/')) {
      const asset = b.tryFile(rest);
      if (!asset) return new Response('no such file in the dashboard bundle\n', { status: 404 });
      // Hashed names: a file's content never changes under its name.
      return serve(c, asset, 'public, max-age=31536000, immutable');
    }
    if (rest !== 'login') {
      const token = trySessionToken(c.req.header('cookie'), c.req.header('host'));
      const ok = token !== undefined && (await o.authenticate(`Bearer ${token}`)).ok;
      if (!ok) {
        const next = encodeURIComponent(`/ui/${rest}${new URL(c.req.url).search}`);
        return new Response(null, {
          status: 302,
          headers: { location: `/ui/login?next=${next}`, 'cache-control': 'no-store' },
        });
      }
    }
    if (rest === 'login') return serve(c, b.index, 'no-cache');
    const answers = earlyAnswers(rest, new URL(c.req.url).search, Math.floor((o.now ?? Date.now)() / 1000));
    const link = [...b.entryLinks, answers].join(', ');
    return serve(c, b.index, 'no-cache', { link });
  };

  return async (c) => {
    const p = c.req.path;
    if (p === '/ui') return c.redirect('/ui/', 302);
    const rest = p.slice('/ui/'.length);
    const method = c.req.method;
    if (method === 'POST' && rest === 'login') return login(c);
    if (method === 'POST' && rest === 'logout') return logout(c);
    if (method === 'GET' || method === 'HEAD') return page(c, rest);
    return problem(405, 'method-not-allowed', `${method} ${p} is not served`, 'the dashboard serves GET pages');
  };
}
