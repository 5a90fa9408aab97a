/**
 * Methods: a path that exists with another method is a 405 with `Allow` (hono's
 * methodNotAllowed), and HEAD is refused too. Hono would answer HEAD with the GET handler and
 * drop the body: on a follow stream that handler would then run, unread, for as long as the
 * client keeps the connection.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { ApiError, errorBody } from '../api-error.js';
import type { ApiEnv } from '../api-env.js';
import { jsonResponse } from '../responses.js';

function refusal(method: string, path: string, allowed: string[]): Response {
  const allow = allowed.filter((m) => m !== 'HEAD');
  return jsonResponse(
    405,
    errorBody(
      new ApiError(
        405,
        'method-not-allowed',
        `${method} is not allowed on ${path}`,
        allow.length ? `use ${allow.join(' or ')}` : undefined,
      ),
    ),
    allow.length ? { allow: allow.join(', ') } : {},
  );
}

export function declaredMethodsOnly(app: Hono<ApiEnv>): MiddlewareHandler<ApiEnv>[] {
  return [
    async (c, next) => {
      if (c.req.method === 'HEAD') return refusal('HEAD', c.req.path, []);
      await next();
    },
    methodNotAllowed<ApiEnv>({ app, onMethodNotAllowed: (c, allowed) => refusal(c.req.method, c.req.path, allowed) }),
  ];
}
