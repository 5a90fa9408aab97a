/**
 * Authentication: every request, known route or not, needs `Authorization: Bearer <token>`,
 * either the daemon's own token (the bootstrap admin) or a token made with `groundwork token
 * create`. Nothing else (query strings, other schemes) is accepted. A refusal is a 401 and an
 * entry in the audit log (without the token sent, which may be a mistyped real one).
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

/** What the API needs of the access layer: who a header names, and where to record. */
export interface ApiAccess {
  authenticate(authorization: string | undefined): Promise<Authentication>;
  /** Appends to the audit log; throws when it cannot (then the request fails: no unrecorded change). */
  record(entry: AuditEntry): void;
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
    const result = await access.authenticate(c.req.header('authorization'));
    if (!result.ok) {
      access.record({
        token: result.tokenId ?? null,
        user: result.user ?? null,
        remote: remoteOf(c),
        method: c.req.method,
        path: c.req.path,
        route: null,
        operation: null,
        service: null,
        decision: 'denied',
        status: 401,
        reason: result.reason,
      });
      throw new ApiError(
        401,
        'unauthorized',
        result.tokenId ? `the bearer token was refused: ${result.reason}` : 'a valid bearer token is required',
        result.tokenId
          ? 'ask an admin for a new token (`groundwork token create`)'
          : "send `Authorization: Bearer <token>`; the daemon's own token is in .groundwork/daemon.token, others come from `groundwork token create`",
      );
    }
    c.set('caller', result.caller);
    await next();
  };
}
