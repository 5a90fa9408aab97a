/**
 * Bearer-token authentication: every request, known route or not, needs
 * `Authorization: Bearer <token>`. Nothing else (query strings, other schemes) is accepted.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../api-error.js';

// Both sides are hashed first so the comparison takes the same time whatever the length of the
// header: comparing the raw strings would leak the token's length through the early exit.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** `open(method, path)`: routes that carry their own credential (push pings) and skip this check. */
export function bearerAuth(
  token: string,
  open: (method: string, path: string) => boolean = () => false,
): MiddlewareHandler {
  // An empty token file would otherwise let `Authorization: Bearer ` in.
  if (token.trim() === '')
    throw new Error('the API token is empty; delete .groundwork/daemon.token and restart the daemon to make a new one');
  const expected = digest(`Bearer ${token}`);
  return async (c, next) => {
    if (open(c.req.method, c.req.path)) return next();
    const header = c.req.header('authorization');
    if (header === undefined || !timingSafeEqual(digest(header), expected)) {
      c.header('www-authenticate', 'Bearer realm="groundwork"');
      throw new ApiError(
        401,
        'unauthorized',
        'a valid bearer token is required',
        'send `Authorization: Bearer <token>`; the token is in .groundwork/daemon.token',
      );
    }
    await next();
  };
}
