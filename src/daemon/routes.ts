/**
 * The daemon's API routes: each one a thin adapter from HTTP to an operation of core, declared by
 * its contract entry (`route({ ...API.x, handler })`), so body, query, params, answer and stream
 * lines are typed from the schemas that make /v1/openapi.json. Errors of operations map to HTTP
 * statuses here, once.
 */
import type { IncomingMessage } from 'node:http';
import { INCIDENT_STATUSES, type IncidentRow } from '../store/store.js';
import { OperationError, type OperationErrorCode } from '../core/errors.js';
import type { LocalOperations } from '../core/local-operations.js';
import { oncallIcs } from '../core/oncall-ics.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { API } from './api/contract.js';
import { ApiError, route, type Route } from './api/http-app.js';
import { openApiDocument } from './api/openapi.js';
import type { ErrorCode, IncidentLinkResponse } from './api/schemas.js';
import { linkPage, wantsJson, type LinkAction } from '../incidents/link-page.js';
import { followEvents } from '../core/event-stream.js';
import { networkView } from '../core/network-view.js';
import { Duration } from '../util/duration.js';

const STATUS_OF: Record<OperationErrorCode, { status: number; code: ErrorCode }> = {
  'invalid-stack': { status: 422, code: 'invalid-stack' },
  'not-found': { status: 404, code: 'not-found' },
  refused: { status: 409, code: 'conflict' },
  'bad-request': { status: 400, code: 'bad-request' },
  unavailable: { status: 503, code: 'unavailable' },
  forbidden: { status: 403, code: 'forbidden' },
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

/** What a signed link in a page did (or, without confirm=yes, would do), with the link that does it. */
/**
 * What a signed link answers: a page with a confirm button for a browser (linkPage), JSON for a
 * client that asks for it. The confirm address is the link itself, posted.
 */
function linkAnswer(
  ctx: { req: IncomingMessage; params: { id: string }; query: { sig?: string } },
  action: LinkAction,
  r: { incident: IncidentRow; done: boolean },
): { status: number; json: IncidentLinkResponse } | { status: number; html: string } {
  const { id, status, title } = r.incident;
  const verb = action === 'ack' ? 'acknowledge' : 'resolve';
  const incident = { id, status, title };
  const postTo = `/v1/incidents/${id}/${action}?sig=${encodeURIComponent(ctx.query.sig ?? '')}`;
  if (!wantsJson(ctx.req.headers.accept))
    return { status: 200, html: linkPage({ incident, action, done: r.done, postTo }) };
  if (r.done) return { status: 200, json: { incident, done: true, message: `incident #${id} is ${status}` } };
  const host = ctx.req.headers.host ?? '127.0.0.1';
  return {
    status: 200,
    json: {
      incident,
      done: false,
      confirm: `http://${host}${postTo}`,
      message: `incident #${id} (${status}): POST to confirm to ${verb} it`,
    },
  };
}

/** A numeric `:id` of the path, or a 400 naming it. */
function idParam(raw: string): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || id <= 0)
    throw new ApiError(400, 'bad-request', `'${raw}' is not an id`, 'use the number shown by the list command');
  return id;
}

const EVENT_STREAM_HEARTBEAT = Duration.seconds(15);

export interface RouteDeps {
  ops: LocalOperations;
  dataPlane?: DataPlane;
  /** Called before `down` answers when the daemon will exit: it withdraws its info file. */
  leaving(): void;
  /** Called after `down` when the daemon should exit. */
  exit(): void;
  /** The check runner's push entry: false when no push check has the token. */
  push?(token: string, report: { ok: boolean; message?: string }): boolean;
  /** `/metrics`: the daemon's metrics in the exposition format, as of now. */
  metricsText?(): Promise<string>;
}

/** A ping for a token no push check has: the same answer whatever exists, so it reveals nothing. */
const UNKNOWN_PUSH_TOKEN = new ApiError(
  404,
  'not-found',
  'no push check has this token',
  'use the URL shown when the check was applied, or make a new one with `groundwork checks --new-push-url NAME`',
);

export function daemonRoutes(deps: RouteDeps): Route[] {
  const { ops } = deps;
  // Only the POST (the page's button) acts; a GET, whatever its query, shows what it would do.
  const byLink = (
    ctx: { params: { id: string }; query: { sig?: string } },
    action: LinkAction,
    confirmed: boolean,
  ): Promise<{ incident: IncidentRow; done: boolean }> =>
    ops.incidentByLink(idParam(ctx.params.id), action, ctx.query.sig ?? '', confirmed);
  const routes: Route[] = [
    route({
      ...API.status,
      handler: async () => ({ status: 200, json: await call(() => ops.status()) }),
    }),
    route({
      ...API.plan,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.plan(ctx.body)) }),
    }),
    route({
      ...API.apply,
      handler: async (ctx) => {
        const result = await call(() =>
          ops.apply(ctx.body, {
            onPlan: (plan) => ctx.stream({ type: 'plan', plan }),
            onEvent: (e) => ctx.stream(e),
          }),
        );
        ctx.stream({ type: 'result', result });
        return { streamed: true };
      },
    }),
    route({
      ...API.refresh,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.refresh(ctx.body)) }),
    }),
    route({
      ...API.history,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.history(ctx.query.limit)) }),
    }),
    route({
      ...API.requestApply,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.requestChange({ ...ctx.body, kind: 'apply' })),
      }),
    }),
    route({
      ...API.requestServiceChange,
      handler: async (ctx) => {
        const { kind, ref, to, ...rest } = ctx.body;
        const service = ctx.params.name;
        const input =
          kind === 'deploy'
            ? { ...rest, kind, service, ...(ref !== undefined ? { ref } : {}) }
            : { ...rest, kind, service, ...(to !== undefined ? { to } : {}) };
        return { status: 200, json: await call(() => ops.requestChange(input)) };
      },
    }),
    route({
      ...API.approveChange,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.approveChange(Number(ctx.params.id), ctx.body)),
      }),
    }),
    route({
      ...API.rejectChange,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.rejectChange(Number(ctx.params.id), ctx.body)),
      }),
    }),
    route({
      ...API.withdrawChange,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.withdrawChange(Number(ctx.params.id), ctx.body)),
      }),
    }),
    route({
      ...API.changeRequests,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.changeRequests(ctx.query.limit)) }),
    }),
    route({
      ...API.changeRequest,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.changeRequest(Number(ctx.params.id))) }),
    }),
    route({
      ...API.decisions,
      handler: async () => ({ status: 200, json: await call(() => ops.decisions()) }),
    }),
    route({
      ...API.decision,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.decision(Number(ctx.params.id))) }),
    }),
    route({
      ...API.tokens,
      handler: async () => ({ status: 200, json: await call(() => ops.tokenList()) }),
    }),
    route({
      ...API.revokeToken,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.revokeToken(ctx.params.id)) }),
    }),
    route({
      ...API.auditVerify,
      handler: async () => ({ status: 200, json: await call(() => ops.auditVerify()) }),
    }),
    route({
      ...API.audit,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.auditEntries(ctx.query.after, ctx.query.limit)),
      }),
    }),
    route({
      ...API.change,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.change(Number(ctx.params.id))) }),
    }),
    route({
      ...API.events,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.events(ctx.query.service, ctx.query.limit)),
      }),
    }),
    route({
      ...API.eventStream,
      handler: async (ctx) => {
        const service = ctx.query.service;
        // An unknown service is a 404 now, before the stream starts.
        if (service !== undefined) await call(async () => ops.serviceAddress(service));
        // Opens the stream (the 200 goes out now, not at the first event).
        ctx.comment('groundwork events');
        // A comment now and then: proxies and browsers keep a quiet stream open, and a client
        // that left is noticed (its signal aborts) within one interval.
        const beat = setInterval(() => ctx.comment('keep-alive'), EVENT_STREAM_HEARTBEAT.toMilliseconds());
        try {
          await followEvents(ops.installation.bus, service, (e) => ctx.stream(e), ctx.signal);
        } finally {
          clearInterval(beat);
        }
        return { streamed: true };
      },
    }),
    route({
      ...API.network,
      handler: async () => ({
        status: 200,
        json: networkView(await ops.installation.store.resources.listResources(), ops.installation.stateDir),
      }),
    }),
    route({
      ...API.logs,
      handler: async (ctx) => {
        await call(() => ops.logs(ctx.params.name, ctx.query, (t) => ctx.stream(t), ctx.signal));
        // Starts the (empty) stream when there was nothing to send.
        ctx.stream('');
        return { streamed: true };
      },
    }),
    route({
      ...API.restart,
      handler: async (ctx) => {
        const name = ctx.params.name;
        await call(() =>
          ops.restart(name, ctx.body, (message) =>
            ctx.stream({ type: 'progress', address: `service.${name}`, message }),
          ),
        );
        ctx.stream({ type: 'result', ok: true });
        return { streamed: true };
      },
    }),
    route({
      ...API.scale,
      handler: async (ctx) => {
        const result = await call(() =>
          ops.scale(ctx.params.name, ctx.body, {
            onPlan: (plan) => ctx.stream({ type: 'plan', plan }),
            onEvent: (e) => ctx.stream(e),
          }),
        );
        ctx.stream({ type: 'result', result });
        return { streamed: true };
      },
    }),
    route({
      ...API.down,
      handler: async (ctx) => {
        const { exit, ...attribution } = ctx.body;
        await call(() => ops.down(attribution, (message) => ctx.stream({ type: 'progress', message })));
        // The daemon stops answering before it exits: say so first, so the next command does not
        // find a daemon.json of a daemon that is going away.
        if (exit !== false) deps.leaving();
        ctx.stream({ type: 'result', ok: true });
        if (exit !== false) setImmediate(() => deps.exit());
        return { streamed: true };
      },
    }),
    route({
      ...API.deploy,
      handler: async (ctx) => {
        const result = await call(() =>
          ops.deploy(ctx.params.name, ctx.body, (message) => ctx.stream({ type: 'progress', message })),
        );
        ctx.stream({ type: 'result', result });
        return { streamed: true };
      },
    }),
    route({
      ...API.rollback,
      handler: async (ctx) => {
        const result = await call(() =>
          ops.rollback(ctx.params.name, ctx.body, (message) => ctx.stream({ type: 'progress', message })),
        );
        ctx.stream({ type: 'result', result });
        return { streamed: true };
      },
    }),
    route({
      ...API.releases,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.releases(ctx.params.name, ctx.query.limit)),
      }),
    }),
    route({
      ...API.proxyMetrics,
      handler: async () => ({
        status: 200,
        json: deps.dataPlane
          ? await (deps.dataPlane.refreshMetrics?.() ?? deps.dataPlane.metrics())
          : { routes: {}, backends: {}, listeners: {} },
      }),
    }),
  ];
  const ping = (token: string, query: { status?: string; msg?: string }) => {
    const ok = query.status === undefined || query.status === 'up';
    if (!deps.push?.(token, { ok, ...(query.msg !== undefined ? { message: query.msg } : {}) }))
      throw UNKNOWN_PUSH_TOKEN;
    return { status: 200, json: { ok: true } };
  };
  routes.push(
    route({
      ...API.promQuery,
      handler: async (ctx) => {
        const a = await call(() => ops.promQuery('query', ctx.query));
        return { status: a.status, json: a.body };
      },
    }),
    route({
      ...API.promQueryRange,
      handler: async (ctx) => {
        const a = await call(() => ops.promQuery('query_range', ctx.query));
        return { status: a.status, json: a.body };
      },
    }),
    route({
      ...API.metrics,
      handler: async (ctx) => {
        if (!deps.metricsText)
          throw new ApiError(
            503,
            'unavailable',
            'metrics are not collected by this daemon',
            'start it with `groundwork up`',
          );
        ctx.stream(await deps.metricsText());
        return { streamed: true };
      },
    }),
    route({ ...API.alerts, handler: async () => ({ status: 200, json: await call(() => ops.alerts()) }) }),
    route({
      ...API.ackAlert,
      handler: async (ctx) => {
        await call(() => ops.acknowledgeAlert(ctx.params.fingerprint, ctx.body.author ?? 'api'));
        return { status: 200, json: { ok: true } };
      },
    }),
    route({
      ...API.addSilence,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.addSilence(ctx.body)) }),
    }),
    route({
      ...API.expireSilence,
      handler: async (ctx) => {
        const id = Number(ctx.params.id);
        if (!Number.isInteger(id) || id <= 0)
          throw new ApiError(
            400,
            'bad-request',
            `silence id '${ctx.params.id}' is not a number`,
            'see `groundwork silence list`',
          );
        await call(() => ops.expireSilence(id));
        return { status: 200, json: { ok: true } };
      },
    }),
    route({
      ...API.incidents,
      handler: async (ctx) => {
        const status = INCIDENT_STATUSES.find((s) => s === ctx.query.status);
        const incidents = await call(() =>
          ops.incidents({ ...(status ? { status } : {}), limit: ctx.query.limit ?? 50 }),
        );
        return { status: 200, json: { incidents } };
      },
    }),
    route({
      ...API.incident,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.incident(idParam(ctx.params.id))) }),
    }),
    route({
      ...API.incidentAction,
      handler: async (ctx) => {
        const { action, text, author } = ctx.body;
        const incident = await call(() =>
          ops.incidentAction(idParam(ctx.params.id), {
            action,
            by: author ?? 'api',
            ...(text !== undefined ? { text } : {}),
          }),
        );
        return { status: 200, json: { incident } };
      },
    }),
    ...(['ack', 'resolve'] as const).flatMap((action) => {
      const [link, confirm] =
        action === 'ack'
          ? [API.incidentAckLink, API.incidentAckConfirm]
          : [API.incidentResolveLink, API.incidentResolveConfirm];
      return [
        route({
          ...link,
          handler: async (ctx) => linkAnswer(ctx, action, await call(() => byLink(ctx, action, false))),
        }),
        route({
          ...confirm,
          handler: async (ctx) => linkAnswer(ctx, action, await call(() => byLink(ctx, action, true))),
        }),
      ];
    }),
    route({
      ...API.incidentStats,
      handler: async () => ({ status: 200, json: { stats: await call(() => ops.incidentStats()) } }),
    }),
    route({
      ...API.addActionItem,
      handler: async (ctx) => {
        const { text, owner, due, author } = ctx.body;
        const item = await call(() =>
          ops.addActionItem(idParam(ctx.params.id), {
            text,
            owner,
            by: author ?? 'api',
            ...(due !== undefined ? { due } : {}),
          }),
        );
        return { status: 200, json: item };
      },
    }),
    route({
      ...API.setActionItem,
      handler: async (ctx) => ({
        status: 200,
        json: await call(() => ops.setActionItemDone(idParam(ctx.params.id), ctx.body.done, ctx.body.author ?? 'api')),
      }),
    }),
    route({
      ...API.postmortem,
      handler: async (ctx) => ({
        status: 200,
        json: { markdown: await call(() => ops.postmortem(idParam(ctx.params.id))) },
      }),
    }),
    route({
      ...API.oncall,
      handler: async (ctx) => {
        const { at, schedule, days } = ctx.query;
        const q = {
          ...(at !== undefined ? { at } : {}),
          ...(schedule !== undefined ? { schedule } : {}),
          ...(days !== undefined ? { days } : {}),
        };
        return { status: 200, json: await call(() => ops.oncall(q)) };
      },
    }),
    route({
      ...API.oncallIcs,
      handler: async (ctx) => {
        const { ics } = await call(() =>
          oncallIcs((q) => ops.oncall(q), { schedule: ctx.params.schedule, days: ctx.query.days ?? 90 }),
        );
        ctx.stream(ics);
        return { streamed: true };
      },
    }),
    route({
      ...API.addOverride,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.addOverride(ctx.body)) }),
    }),
    route({
      ...API.removeOverride,
      handler: async (ctx) => {
        await call(() => ops.removeOverride(idParam(ctx.params.id)));
        return { status: 200, json: { ok: true } };
      },
    }),
    route({
      ...API.pushToken,
      handler: async (ctx) => ({ status: 200, json: await call(() => ops.newPushToken(ctx.params.name)) }),
    }),
    route({ ...API.push, handler: async (ctx) => ping(ctx.params.token, ctx.query) }),
    route({ ...API.pushPost, handler: async (ctx) => ping(ctx.params.token, ctx.query) }),
  );
  routes.push(
    route({
      ...API.whoami,
      handler: async (ctx) => {
        const c = ctx.caller;
        // The auth middleware sets the caller on every non-public route; this one is not public.
        if (!c)
          throw new ApiError(
            401,
            'unauthorized',
            'GET /v1/whoami needs a token',
            'send `Authorization: Bearer <token>`',
          );
        return {
          status: 200,
          json: {
            tokenId: c.tokenId,
            user: c.user,
            role: c.role,
            permissions: [...c.permissions].sort(),
            services: c.services === null ? null : [...c.services].sort(),
          },
        };
      },
    }),
    route({
      ...API.openapi,
      handler: async () => ({ status: 200, json: openApiDocument(routes) }),
    }),
  );
  return routes;
}
