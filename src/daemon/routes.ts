/**
 * The daemon's API routes: each one a thin adapter from HTTP to an operation of core. Errors of
 * operations map to HTTP statuses here, once.
 */
import { OperationError, type OperationErrorCode } from '../core/errors.js';
import type { LocalOperations } from '../core/local-operations.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { ApiError, type Route } from './api/http-app.js';
import { openApiDocument } from './api/openapi.js';
import type { ErrorCode } from './api/schemas.js';
import {
  ApplyRequest,
  DeployRequest,
  DownRequest,
  PlanRequest,
  RefreshRequest,
  RestartRequest,
  RollbackRequest,
  StatusResponse,
  type ApplyRequest as ApplyBody,
  type DeployRequest as DeployBody,
  type DownRequest as DownBody,
  type PlanRequest as PlanBody,
  type RollbackRequest as RollbackBody,
} from './api/schemas.js';

const STATUS_OF: Record<OperationErrorCode, { status: number; code: ErrorCode }> = {
  'invalid-stack': { status: 422, code: 'invalid-stack' },
  'not-found': { status: 404, code: 'not-found' },
  refused: { status: 409, code: 'conflict' },
  'bad-request': { status: 400, code: 'bad-request' },
  unavailable: { status: 503, code: 'unavailable' },
};

/** Runs an operation; its OperationError becomes the matching API error. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof OperationError) {
      const m = STATUS_OF[e.code];
      throw new ApiError(m.status, m.code, e.message, e.fix);
    }
    throw e;
  }
}

export interface RouteDeps {
  ops: LocalOperations;
  dataPlane?: DataPlane;
  /** Called before `down` answers when the daemon will exit: it withdraws its info file. */
  leaving(): void;
  /** Called after `down` when the daemon should exit. */
  exit(): void;
}

export function daemonRoutes(deps: RouteDeps): Route[] {
  const { ops } = deps;
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/v1/status',
      summary: 'Services and instances with state, pid, uptime, restarts, health, ports',
      response: StatusResponse,
      handler: async () => ({ status: 200, json: await call(() => ops.status()) }),
    },
    {
      method: 'POST',
      path: '/v1/plan',
      summary: 'Plan the stack file against recorded state',
      body: PlanRequest,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.plan(ctx.body as PlanBody)) }),
    },
    {
      method: 'POST',
      path: '/v1/apply',
      summary: 'Apply the stack file (or a saved plan); streams apply events',
      body: ApplyRequest,
      streams: 'ndjson',
      handler: async (ctx) => {
        const result = await call(() =>
          ops.apply(ctx.body as ApplyBody, {
            onPlan: (plan) => ctx.stream({ type: 'plan', plan }),
            onEvent: (e) => ctx.stream(e),
          }),
        );
        ctx.stream({ type: 'result', result });
        return { streamed: true };
      },
    },
    {
      method: 'POST',
      path: '/v1/refresh',
      summary: 'Read the world and record drift',
      body: RefreshRequest,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.refresh(authorOf(ctx.body))) }),
    },
    {
      method: 'GET',
      path: '/v1/history',
      summary: 'Recorded changes, newest first',
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.history(intParam(ctx.query, 'limit', 20, 1, 1000))),
      }),
    },
    {
      method: 'GET',
      path: '/v1/changes/:id',
      summary: 'One change with its journal',
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.change(Number(ctx.params.id))) }),
    },
    {
      method: 'GET',
      path: '/v1/events',
      summary: 'Instance events (state changes, exits, restarts)',
      handler: async (ctx) => ({
        status: 200,
        json: await call(() =>
          ops.events(ctx.query.get('service') ?? undefined, intParam(ctx.query, 'limit', 100, 1, 10000)),
        ),
      }),
    },
    {
      method: 'GET',
      path: '/v1/services/:name/logs',
      summary: 'Logs of a service (?instance=N&lines=N&since=10m&follow=1)',
      streams: 'text',
      handler: async (ctx) => {
        const q = ctx.query;
        const query = {
          ...(q.get('instance') !== null ? { instance: intParam(q, 'instance', 0, 0, 1000) } : {}),
          lines: intParam(q, 'lines', 200, 1, 100_000),
          ...(q.get('since') ? { since: q.get('since') as string } : {}),
          follow: q.get('follow') === '1' || q.get('follow') === 'true',
        };
        await call(() => ops.logs(ctx.params.name as string, query, (t) => ctx.stream(t), ctx.signal));
        // Starts the (empty) stream when there was nothing to send.
        ctx.stream('');
        return { streamed: true };
      },
    },
    {
      method: 'POST',
      path: '/v1/services/:name/restart',
      summary: 'Restart a service one instance at a time',
      body: RestartRequest,
      streams: 'ndjson',
      handler: async (ctx) => {
        const name = ctx.params.name as string;
        await call(() =>
          ops.restart(name, authorOf(ctx.body), (message) =>
            ctx.stream({ type: 'progress', address: `service.${name}`, message }),
          ),
        );
        ctx.stream({ type: 'result', ok: true });
        return { streamed: true };
      },
    },
    {
      method: 'POST',
      path: '/v1/down',
      summary: 'Stop every service (and the daemon unless exit is false)',
      body: DownRequest,
      streams: 'ndjson',
      handler: async (ctx) => {
        const body = ctx.body as DownBody;
        await call(() => ops.down(authorOf(body), (message) => ctx.stream({ type: 'progress', message })));
        // The daemon stops answering before it exits: say so first, so the next command does not
        // find a daemon.json of a daemon that is going away.
        if (body.exit !== false) deps.leaving();
        ctx.stream({ type: 'result', ok: true });
        if (body.exit !== false) setImmediate(() => deps.exit());
        return { streamed: true };
      },
    },
    {
      method: 'POST',
      path: '/v1/services/:name/deploy',
      summary: 'Build a release (git ref or working tree) and roll it out; streams progress',
      body: DeployRequest,
      streams: 'ndjson',
      handler: async (ctx) => {
        const result = await call(() =>
          ops.deploy(ctx.params.name as string, ctx.body as DeployBody, (message) =>
            ctx.stream({ type: 'progress', message }),
          ),
        );
        ctx.stream({ type: 'result', result });
        return { streamed: true };
      },
    },
    {
      method: 'POST',
      path: '/v1/services/:name/rollback',
      summary: 'Roll back to the previous release (or `to`): code and config; streams progress',
      body: RollbackRequest,
      streams: 'ndjson',
      handler: async (ctx) => {
        const result = await call(() =>
          ops.rollback(ctx.params.name as string, ctx.body as RollbackBody, (message) =>
            ctx.stream({ type: 'progress', message }),
          ),
        );
        ctx.stream({ type: 'result', result });
        return { streamed: true };
      },
    },
    {
      method: 'GET',
      path: '/v1/services/:name/releases',
      summary: 'Releases of a service, newest first',
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.releases(ctx.params.name as string, intParam(ctx.query, 'limit', 50, 1, 1000))),
      }),
    },
    {
      method: 'GET',
      path: '/v1/proxy/metrics',
      summary: 'Per-route and per-backend traffic metrics of the built-in proxy',
      handler: async () => ({
        status: 200,
        json: deps.dataPlane
          ? await (deps.dataPlane.refreshMetrics?.() ?? deps.dataPlane.metrics())
          : { routes: {}, backends: {}, listeners: {} },
      }),
    },
  ];
  routes.push({
    method: 'GET',
    path: '/v1/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    handler: async () => ({ status: 200, json: openApiDocument(routes) }),
  });
  return routes;
}

function authorOf(body: unknown): { author?: string; message?: string } {
  if (!body || typeof body !== 'object') return {};
  const b = body as { author?: unknown; message?: unknown };
  return {
    ...(typeof b.author === 'string' ? { author: b.author } : {}),
    ...(typeof b.message === 'string' ? { message: b.message } : {}),
  };
}

export function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ApiError(400, 'bad-request', `${name} must be a whole number from ${min} to ${max}, found "${v}"`);
  return n;
}
