/**
 * The dashboard's session: an HttpOnly cookie holding the person's API token itself, and a CSRF
 * value derived from that token that the page reads from a second, readable cookie and sends back
 * in the `X-Groundwork-CSRF` header on every change.
 *
 * Why the token itself and not a session id: the daemon then keeps no session table, a session
 * survives a daemon restart (the dashboard on a second screen stays logged in across
 * `groundwork up`), and revoking or expiring the token ends the session at the next request,
 * because each request authenticates the token exactly as a bearer token. The page's scripts
 * never see the token (HttpOnly), and SameSite=Strict keeps other sites' requests from carrying it.
 *
 * Why the CSRF value is derived (a hash of the token) rather than random: the server recomputes it
 * from the cookie it was sent, so a value planted by a page that can set cookies but not read them
 * (a sibling port on the same host, which shares cookies) never matches; and nothing is stored.
 * The token is 256 random bits, so its hash reveals nothing usable about it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The header a cookie-authenticated change must carry (lower case, as Node and Hono see it). */
export const CSRF_HEADER = 'x-groundwork-csrf';

/** Methods that change nothing: no CSRF header asked for. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CookieNames {
  token: string;
  csrf: string;
}

/**
 * Cookies are shared by every port of a host, so two daemons on one machine (a lab and a test
 * stack, say) would log each other out: the names carry the port the browser used.
 */
export function cookieNames(host: string | undefined): CookieNames {
  const port = /:(\d{1,5})$/.exec(host ?? '')?.[1] ?? 'default';
  return { token: `gw_session_${port}`, csrf: `gw_csrf_${port}` };
}

/** The cookies of a `Cookie` header by name (the first of a repeated name wins, as browsers order them). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** The session's token from a request's `Cookie` and `Host` headers, or undefined without one. */
export function trySessionToken(cookie: string | undefined, host: string | undefined): string | undefined {
  const raw = parseCookies(cookie).get(cookieNames(host).token);
  if (raw === undefined || raw === '') return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** The CSRF value of a session: derived from its token, so the server needs to store nothing. */
export function csrfFor(token: string): string {
  return createHash('sha256').update(`groundwork dashboard csrf\0${token}`, 'utf8').digest('base64url');
}

/** Whether `header` is the CSRF value of the session holding `token` (compared in constant time). */
export function csrfMatches(token: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  const want = Buffer.from(csrfFor(token));
  const got = Buffer.from(header);
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface CookieContext {
  /** The request's Host header (names the cookies by port). */
  host: string | undefined;
  /** Served over TLS: the cookies get `Secure`. */
  secure: boolean;
}

const attributes = (secure: boolean) => `Path=/; SameSite=Strict${secure ? '; Secure' : ''}`;

/** The Set-Cookie values that open a session for `token`. No Max-Age: the token's own expiry rules. */
export function sessionCookies(token: string, c: CookieContext): string[] {
  const names = cookieNames(c.host);
  return [
    `${names.token}=${encodeURIComponent(token)}; HttpOnly; ${attributes(c.secure)}`,
    // Readable by the page on purpose: it copies this into the CSRF header.
    `${names.csrf}=${csrfFor(token)}; ${attributes(c.secure)}`,
  ];
}

/** The Set-Cookie values that end the session. */
export function clearedCookies(c: CookieContext): string[] {
  const names = cookieNames(c.host);
  return [
    `${names.token}=; HttpOnly; Max-Age=0; ${attributes(c.secure)}`,
    `${names.csrf}=; Max-Age=0; ${attributes(c.secure)}`,
  ];
}
