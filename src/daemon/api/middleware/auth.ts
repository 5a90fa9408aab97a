/**
 * Authentication: every request, known route or not, needs `Authorization: Bearer <token>`,
 * either the daemon's own token (the bootstrap admin) or a token made with `groundwork token
 * create`, or the dashboard's session cookie holding such a token (src/web/server/session-cookie.ts;
 * used only when no Authorization header is sent). A change (not GET/HEAD) authenticated by the
 * cookie must also carry the session's X-Groundwork-CSRF header, or it is a 403: a browser sends
 * cookies with requests that other pages start, headers only with the page's own. Nothing else
 * (query strings, other schemes) is accepted. A refusal is a 401 (403 for CSRF) and an entry in
 * the audit log (without the token sent, which may be a mistyped real one).
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AuditEntry } from '../../../security/audit.js';
import type { Authentication } from '../../../security/tokens.js';
import { PERMISSIONS } from '../../../security/permissions.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../api-env.js';
import type { RouteMethod } from '../route.js';
import { ruleFor, type AccessRule } from './auth-rules.js';
import { csrfMatches, CSRF_HEADER, SAFE_METHODS, trySessionToken } from '../../../web/server/session-cookie.js';

/** What the API needs of the access layer: who a header names, and where to record. */
export interface ApiAccess {
  authenticate(authorization: string | undefined): Promise<Authentication>;
  /**
   * Appends to the audit log, awaited (the log is in the asynchronous store); throws or rejects
   * when it cannot (then the request fails: no unrecorded change).
   */
  record(entry: AuditEntry): void | Promise<void>;
  /** The rule of a route (auth-rules.ts); undefined: none, and the route is refused to everyone. */
  ruleFor(method: RouteMethod, path: string): AccessRule | undefined;
}

/** What the daemon serves: tokens and people from `authenticate`, the API's rule table. */
export function apiAccess(authenticate: ApiAccess['authenticate'], record: ApiAccess['record']): ApiAccess {
  return { authenticate, record, ruleFor };
}

/** With the daemon's token alone, every route is the admin's. */
const ADMIN_ONLY: AccessRule = { permission: 'access.admin', target: 'none', audit: 'read' };

/**
 * Only the daemon's own token, and no audit log: for tests of the HTTP layer that need neither
 * people nor a store. The daemon composes the real one (security/tokens.ts + security/audit.ts).
 */
export function adminTokenOnly(token: string): ApiAccess {
  if (token.trim() === '')
    throw new Error('the API token is empty; delete .groundwork/daemon.token and restart the daemon to make a new one');
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  const expected = digest(`Bearer ${token}`);
  return {
    authenticate: (header) =>
      Promise.resolve(
        header !== undefined && timingSafeEqual(digest(header), expected)
          ? {
              ok: true,
              caller: {
                tokenId: 'admin',
                user: null,
                role: 'admin',
                permissions: new Set(PERMISSIONS),
                services: null,
              },
            }
          : { ok: false, reason: header === undefined ? 'no bearer token' : 'unknown token' },
      ),
    record: () => undefined,
    ruleFor: () => ADMIN_ONLY,
  };
}

/** The caller's address as the socket saw it (no proxy headers: the daemon is reached directly). */
export function remoteOf(c: Context<ApiEnv>): string {
  // `env` is absent when the app is called in-process (`app.request`).
  const incoming = (c.env as Partial<ApiEnv['Bindings']> | undefined)?.incoming;
  return incoming?.socket.remoteAddress ?? 'in-process';
}

/** `open(method, path)`: routes that carry their own credential (push pings) and skip this check. */
export function authenticate(
  access: ApiAccess,
  open: (method: string, path: string) => boolean = () => false,
): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (open(c.req.method, c.req.path)) return next();
    const header = c.req.header('authorization');
    // The CLI's bearer header wins; the cookie is only the browser's way of sending the same token.
    const session = header === undefined ? trySessionToken(c.req.header('cookie'), c.req.header('host')) : undefined;
    const result = await access.authenticate(session !== undefined ? `Bearer ${session}` : header);
    const denied = async (status: number, reason: string, tokenId: string | null, user: string | null) =>
      await access.record({
        token: tokenId,
        user,
        remote: remoteOf(c),
        method: c.req.method,
        path: c.req.path,
        route: null,
        operation: null,
        service: null,
        decision: 'denied',
        status,
        reason,
      });
    if (!result.ok) {
      await denied(401, result.reason, result.tokenId ?? null, result.user ?? null);
      if (session !== undefined)
        throw new ApiError(
          401,
          'unauthorized',
          `the dashboard session's token was refused: ${result.reason}`,
          'log in again at /ui/login with a valid token',
        );
      throw new ApiError(
        401,
        'unauthorized',
        result.tokenId ? `the bearer token was refused: ${result.reason}` : 'a valid bearer token is required',
        result.tokenId
          ? 'ask an admin for a new token (`groundwork token create`)'
          : "send `Authorization: Bearer <token>`; the daemon's own token is in .groundwork/daemon.token, others come from `groundwork token create`",
      );
    }
    if (session !== undefined && !SAFE_METHODS.has(c.req.method) && !csrfMatches(session, c.req.header(CSRF_HEADER))) {
      await denied(403, 'session cookie without its CSRF header', result.caller.tokenId, result.caller.user);
      throw new ApiError(
        403,
        'forbidden',
        `${c.req.method} ${c.req.path} came with the dashboard's session cookie but without its X-Groundwork-CSRF header`,
        'send the value of the gw_csrf_PORT cookie in the X-Groundwork-CSRF header (the dashboard does), or use `Authorization: Bearer <token>`',
      );
    }
    c.set('caller', result.caller);
    await next();
  };
}
