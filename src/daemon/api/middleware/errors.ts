/**
 * Errors as answers. A client's mistake (an ApiError, or a 4xx Hono raised) is a JSON
 * `{ error: { code, message, fix } }` with its status. Anything else is a plain 500 whose real
 * message goes to the daemon log only: it may name files, commands or internals.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from '../../../util/logger.js';
import { ApiError, errorBody, INTERNAL_MESSAGE } from '../api-error.js';
import type { ApiEnv } from '../api-env.js';
import { errorMessage, jsonResponse } from '../responses.js';

export function logUnexpected(logger: Logger, c: Context<ApiEnv>, e: unknown): void {
  logger.log('error', 'unexpected API failure', {
    method: c.req.method,
    path: c.req.path,
    error: errorMessage(e),
    ...(e instanceof Error && e.stack ? { stack: e.stack } : {}),
  });
}

export function onApiError(logger: Logger): ErrorHandler<ApiEnv> {
  return (e, c) => {
    if (e instanceof ApiError) {
      return jsonResponse(
        e.status,
        errorBody(e),
        e.status === 401 ? { 'www-authenticate': 'Bearer realm="groundwork"' } : {},
      );
    }
    if (e instanceof HTTPException && e.status < 500) {
      const code = e.status === 413 ? 'payload-too-large' : 'bad-request';
      return jsonResponse(e.status, { error: { code, message: e.message || `HTTP ${e.status}` } });
    }
    logUnexpected(logger, c, e);
    return jsonResponse(500, { error: { code: 'internal', message: INTERNAL_MESSAGE } });
  };
}

export const onNotFound: NotFoundHandler<ApiEnv> = (c) =>
  jsonResponse(
    404,
    errorBody(
      new ApiError(404, 'not-found', `no route ${c.req.method} ${c.req.path}`, 'GET /v1/openapi.json lists the routes'),
    ),
  );
