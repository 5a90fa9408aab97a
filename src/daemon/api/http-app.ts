/**
 * The daemon's HTTP API on Hono, served to node:http through @hono/node-server. Every request
 * passes the middleware below in order (authentication first, so an unknown route without a
 * token is a 401, not a 404), then its route's own middleware (body limit, JSON, schema), then
 * the route's handler. Errors: see middleware/errors.ts. How to add a route or a middleware:
 * README.md beside this file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import type { Logger } from '../../util/logger.js';
import type { ApiEnv } from './api-env.js';
import { adminTokenOnly, authenticate, type ApiAccess } from './middleware/auth.js';
import { attributeToPerson, authorizeRoute } from './middleware/auth-authorize.js';
import { onApiError, onNotFound } from './middleware/errors.js';
import { declaredMethodsOnly } from './middleware/methods.js';
import { jsonBody, limitBody } from './middleware/json-body.js';
import { routeHandler } from './route-handler.js';
import { redactAnswers } from './middleware/redact.js';
import { Redactor } from '../../security/redact.js';
import type { Route } from './route.js';

export { ApiError } from './api-error.js';
export { MAX_BODY_BYTES } from './middleware/json-body.js';
export { route, type Route, type RouteContext, type RouteResult } from './route.js';
export { apiAccess, type ApiAccess } from './middleware/auth.js';

/** A plain token is the daemon's own token alone, with no audit log (tests of the HTTP layer). */
const accessOf = (a: ApiAccess | string): ApiAccess => (typeof a === 'string' ? adminTokenOnly(a) : a);

/** The API as a Hono app. Needs Node bindings (`ctx.req`): serve it with `createApp`. */
export function createApi(
  routes: Route[],
  access: ApiAccess | string,
  logger: Logger,
  redactor: () => Redactor = () => Redactor.none,
  ui?: MiddlewareHandler<ApiEnv>,
): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const acc = accessOf(access);
  // Outermost: every answer, an error or a 401 included, is redacted of known secret values.
  app.use('*', redactAnswers(redactor));
  // The dashboard (src/web/server/dashboard.ts) answers every /ui request itself, before the
  // bearer check: its assets and login page are public, its pages check the session cookie.
  if (ui) app.use('/ui', ui).use('/ui/*', ui);

  // Routes that carry their own credential (push pings: the token in the path) skip the bearer check.
  const open = routes.filter((r) => r.public);
  const isOpen = (method: string, path: string) => open.some((r) => r.method === method && pathMatches(r.path, path));
  // Every request, matched or not, in this order: who is calling (the token's id, person, role
  // and services), then whether the method exists for the path.
  const everyRequest: MiddlewareHandler<ApiEnv>[] = [authenticate(acc, isOpen), ...declaredMethodsOnly(app)];
  // Then a matched route's own, in this order; each entry sees the route's declaration. Roles
  // and the audit come before the body is read: a caller who may not call a route learns nothing
  // from its body checks. After the body: a person's token signs changes with their name.
  // Approvals (which need the body) will follow.
  const perRoute: ((r: Route) => MiddlewareHandler<ApiEnv>[])[] = [
    (r) => (r.public ? [] : authorizeRoute(r, acc)),
    (r) =>
      r.method === 'POST' ? (r.public ? [limitBody] : [limitBody, jsonBody(r.body, `${r.method} ${r.path}`)]) : [],
    (r) => (r.public ? [] : attributeToPerson(r)),
  ];

  for (const m of everyRequest) app.use('*', m);
  for (const r of routes) {
    if (r.method === 'POST' && !r.body)
      throw new Error(`route POST ${r.path} has no body schema; give it one (an empty Type.Object({}) at least)`);
    const handlers: MiddlewareHandler<ApiEnv>[] = [...perRoute.flatMap((m) => m(r)), routeHandler(r, logger)];
    app.on(r.method, [r.path], ...handlers);
  }
  app.notFound(onNotFound);
  app.onError(onApiError(logger));
  return app;
}

/** Whether a request path fits a route pattern (`:name` is one non-empty segment). */
function pathMatches(pattern: string, path: string): boolean {
  const p = pattern.split('/');
  const a = path.split('/');
  return p.length === a.length && p.every((seg, i) => (seg.startsWith(':') ? (a[i] ?? '') !== '' : seg === a[i]));
}

/** A node:http request listener: `http.createServer(createApp(routes, access, logger, redactor, ui))`. */
export function createApp(
  routes: Route[],
  access: ApiAccess | string,
  logger: Logger,
  redactor: () => Redactor = () => Redactor.none,
  ui?: MiddlewareHandler<ApiEnv>,
): (req: IncomingMessage, res: ServerResponse) => void {
  // No overriding of the process's global Request/Response (node-server's default): the daemon
  // hosts other code that uses fetch. The cost: about 2x CPU per request (figures in README.md).
  const listener = getRequestListener(createApi(routes, access, logger, redactor, ui).fetch, {
    overrideGlobalObjects: false,
  });
  // node:http ignores a listener's promise; a rejection there would end the daemon (Node 20).
  return (req, res) => {
    listener(req, res).catch((err: unknown) => {
      logger.log('error', 'api: request failed outside its handler', { error: String(err) });
      res.destroy();
    });
  };
}
