/**
 * The API's Hono app in-process, over a real loopback server, with a small route table of its
 * own (no daemon): authentication, body checks, 404/405/413, unexpected errors kept out of the
 * answer, NDJSON and text streaming (an error after the start, a client that goes away), typed
 * routes, and the typed client against it.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { ApiClient, ApiRequestError } from '../../src/daemon/api/client.js';
import { ApiError, createApp, route, type Route } from '../../src/daemon/api/http-app.js';
import { openApiDocument } from '../../src/daemon/api/openapi.js';
import {
  DeployLine,
  DownRequest,
  PlanRequest,
  StatusResponse,
  type ProgressLine,
} from '../../src/daemon/api/schemas.js';
import type { Logger } from '../../src/util/logger.js';
import type { ApplyEvent, ApplyResult } from '../../src/engine/apply.js';
import type { Plan } from '../../src/engine/plan.js';
import type { RefreshResult } from '../../src/engine/refresh.js';
import type { ChangeRecord, InstanceEvent, JournalEntry, ReleaseRecord } from '../../src/store/store.js';
import type { DeployResult } from '../../src/core/deployer.js';
import type { DataPlaneMetrics } from '../../src/proxy/data-plane.js';
import type {
  ApplyEventBody,
  ApplyResultBody,
  ChangeResponse,
  DeployResultBody,
  EventsResponse,
  HistoryResponse,
  PlanResponse,
  ProxyMetricsResponse,
  RefreshResponse,
  ReleasesResponse,
} from '../../src/daemon/api/schemas.js';
import { waitFor } from '../helpers/wait.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function call(
  url: string,
  method: string,
  path: string,
  opts: { token?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { connection: 'close', ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(opts.body);
    }
    const req = http.request(new URL(path, url), { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

interface ErrorJson {
  error: { code: string; message: string; fix?: string; problems?: { path: string; message: string }[] };
}
const errorOf = (a: Answer): ErrorJson['error'] => (JSON.parse(a.text) as ErrorJson).error;
const lines = (a: Answer): unknown[] =>
  a.text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

/** A promise with its resolve, to let a handler go on when the test says so. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

describe('the API app (Hono, in-process)', () => {
  const token = randomBytes(32).toString('base64url');
  const logged: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = { log: (level, msg, fields) => logged.push({ level, msg, ...(fields ? { fields } : {}) }) };
  const calls: string[] = [];
  const midStream = gate();
  const follow = { calls: 0, started: gate(), ended: false, reason: '', socketClosed: false };
  let server: http.Server;
  let url: string;

  const routes: Route[] = [
    route({
      method: 'GET',
      path: '/v1/status',
      summary: 'status',
      response: StatusResponse,
      handler: async () => {
        calls.push('status');
        // Defaults for every field, so the fixture follows the schema as it grows.
        return { status: 200, json: { ...Value.Create(StatusResponse), stack: 't', serial: 3 } };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/plan',
      summary: 'echo a plan request',
      body: PlanRequest,
      // ctx.body is PlanRequest here: no cast.
      handler: async (ctx) => ({ status: 200, json: { vars: ctx.body.vars ?? {} } }),
    }),
    route({
      method: 'GET',
      path: '/v1/services/:name/info',
      summary: 'echo a path parameter',
      handler: async (ctx) => ({ status: 200, json: { name: ctx.params.name } }),
    }),
    route({
      method: 'GET',
      path: '/v1/boom',
      summary: 'an unexpected failure',
      handler: async () => {
        throw new Error('cannot open /srv/secret-dir/db.sqlite: EACCES');
      },
    }),
    route({
      method: 'GET',
      path: '/v1/text',
      summary: 'a text result',
      handler: async () => ({ status: 200, text: 'plain words' }),
    }),
    route({
      method: 'POST',
      path: '/v1/services/:name/deploy',
      summary: 'progress lines then a result; `fail` decides how it ends',
      body: Type.Object(
        { fail: Type.Optional(Type.Union([Type.Literal('before'), Type.Literal('api'), Type.Literal('unexpected')])) },
        { additionalProperties: false },
      ),
      streams: 'ndjson',
      line: DeployLine,
      handler: async (ctx) => {
        if (ctx.body.fail === 'before') throw new ApiError(404, 'not-found', `there is no service ${ctx.params.name}`);
        ctx.stream({ type: 'progress', message: `building ${ctx.params.name}` });
        ctx.stream({ type: 'progress', message: 'starting v2' });
        if (ctx.body.fail === 'api') throw new ApiError(409, 'conflict', 'refusing: the lease is held by pid 42');
        if (ctx.body.fail === 'unexpected') throw new Error('spawn /opt/hidden/bin failed');
        ctx.stream({
          type: 'result',
          result: {
            ok: true,
            service: ctx.params.name,
            release: 2,
            attempted: 2,
            rolledBack: false,
            changeId: 7,
            ms: 5,
          },
        });
        return { streamed: true };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/down',
      summary: 'streams one line, waits for the test, then the result',
      body: DownRequest,
      streams: 'ndjson',
      handler: async (ctx) => {
        ctx.stream({ type: 'progress', message: 'stopping web' });
        await midStream.wait;
        ctx.stream({ type: 'result', ok: true });
        return { streamed: true };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/quiet',
      summary: 'a stream with no line at all',
      body: Type.Object({}),
      streams: 'ndjson',
      handler: async () => ({ streamed: true }),
    }),
    route({
      method: 'GET',
      path: '/v1/services/:name/logs',
      summary: 'a follow stream: lines until the client goes away',
      streams: 'text',
      handler: async (ctx) => {
        follow.calls++;
        ctx.stream(`hello from ${ctx.params.name}\n`);
        // Both ways to learn that the client left: the signal, and (as before) the socket.
        ctx.req.socket.once('close', () => {
          follow.socketClosed = true;
        });
        follow.started.open();
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        follow.reason = String(ctx.signal.reason);
        follow.ended = true;
        // Writes after the client left are dropped, not thrown.
        ctx.stream('nobody reads this\n');
        return { streamed: true };
      },
    }),
  ];
  routes.push(
    route({
      method: 'GET',
      path: '/v1/openapi.json',
      summary: 'the document',
      handler: async () => ({ status: 200, json: openApiDocument(routes) }),
    }),
  );

  beforeAll(async () => {
    server = http.createServer(createApp(routes, token, logger));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers 401 without a token, with a wrong one and with another scheme, on known and unknown routes, running nothing', async () => {
    const before = calls.length;
    for (const path of ['/v1/status', '/v1/nope', '/v1/services/web/deploy']) {
      for (const opts of [
        {},
        { token: randomBytes(32).toString('base64url') },
        { token: token.slice(0, -1) },
        { token: `${token}x` },
        { headers: { authorization: `Basic ${token}` } },
        { headers: { authorization: token } },
      ]) {
        const a = await call(url, path.endsWith('deploy') ? 'POST' : 'GET', `${path}?token=${token}`, {
          ...opts,
          ...(path.endsWith('deploy') ? { body: '{}' } : {}),
        });
        expect(a.status, `${path} ${JSON.stringify(opts).slice(0, 20)}`).toBe(401);
        expect(a.headers['content-type']).toContain('application/json');
        expect(a.headers['www-authenticate']).toContain('Bearer');
        expect(errorOf(a).code).toBe('unauthorized');
        expect(errorOf(a).fix).toContain('Authorization: Bearer');
        expect(a.text).not.toContain(token);
      }
    }
    expect(calls.length).toBe(before);
    const ok = await call(url, 'GET', '/v1/status', { token });
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect((JSON.parse(ok.text) as { serial: number }).serial).toBe(3);
  });

  it('refuses a body that does not match its schema with a 400 naming the path of each problem and the fix', async () => {
    const a = await call(url, 'POST', '/v1/plan', {
      token,
      body: JSON.stringify({ vars: { Bad_Name: 'x', ok: 5 }, bogus: true }),
    });
    expect(a.status).toBe(400);
    const e = errorOf(a);
    expect(e.code).toBe('bad-request');
    expect(e.fix).toBe('see the schema of POST /v1/plan in /v1/openapi.json');
    const paths = (e.problems ?? []).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['/bogus', '/vars/ok']));
    expect(e.message).toContain('/bogus');
    for (const p of e.problems ?? []) expect(p.message).not.toBe('');
    // Not an object at all: the problem is the body itself.
    const arr = await call(url, 'POST', '/v1/plan', { token, body: '[1]' });
    expect(arr.status).toBe(400);
    expect(errorOf(arr).problems?.[0]?.path).toBe('');
    // An empty body is {} and fine; a good one reaches the handler typed.
    expect((await call(url, 'POST', '/v1/plan', { token })).status).toBe(200);
    const good = await call(url, 'POST', '/v1/plan', { token, body: '{"vars":{"region":"eu"}}' });
    expect(JSON.parse(good.text)).toEqual({ vars: { region: 'eu' } });
  });

  it('refuses malformed JSON with a 400 and a fix, and more than 1 MiB with a 413', async () => {
    for (const body of ['{"vars": ', 'hello', '{"a":1}}']) {
      const a = await call(url, 'POST', '/v1/plan', { token, body });
      expect(a.status, body).toBe(400);
      expect(errorOf(a).code).toBe('bad-request');
      expect(errorOf(a).message).toContain('not valid JSON');
      expect(errorOf(a).fix).toContain('{}');
    }
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    big.write('{"message":"', 0);
    big.write('"}', big.length - 2);
    const a = await call(url, 'POST', '/v1/plan', { token, body: big });
    expect(a.status).toBe(413);
    expect(errorOf(a).code).toBe('payload-too-large');
  });

  it('answers an unknown route with 404 and the hint, and a wrong method with 405 and Allow', async () => {
    for (const p of ['/', '/v1/nope', '/v1/status/extra', '/v1/status/', '/v1/services/%E0%A4%A/info']) {
      const a = await call(url, 'GET', p, { token });
      expect(a.status, p).toBe(404);
      expect(errorOf(a).code).toBe('not-found');
      if (!p.includes('%')) expect(errorOf(a).fix).toBe('GET /v1/openapi.json lists the routes');
    }
    for (const [m, p, allow] of [
      ['POST', '/v1/status', 'GET'],
      ['DELETE', '/v1/status', 'GET'],
      ['GET', '/v1/plan', 'POST'],
      ['PUT', '/v1/services/web/deploy', 'POST'],
    ] as const) {
      const a = await call(url, m, p, { token, ...(m === 'GET' ? {} : { body: '{}' }) });
      expect(a.status, `${m} ${p}`).toBe(405);
      expect(errorOf(a).code).toBe('method-not-allowed');
      expect(a.headers.allow).toContain(allow);
    }
    // HEAD would run the GET handler and drop its body: on a follow stream, forever.
    const head = await call(url, 'HEAD', '/v1/services/web/logs?follow=1', { token });
    expect(head.status).toBe(405);
    expect(follow.calls).toBe(0);
  });

  it('answers an unexpected failure with a plain 500 and logs what happened, never leaking it', async () => {
    logged.length = 0;
    const a = await call(url, 'GET', '/v1/boom', { token });
    expect(a.status).toBe(500);
    expect(JSON.parse(a.text)).toEqual({ error: { code: 'internal', message: 'internal error; see the daemon log' } });
    expect(a.text).not.toContain('secret-dir');
    expect(logged).toHaveLength(1);
    expect(logged[0]?.level).toBe('error');
    expect(logged[0]?.fields?.error).toContain('/srv/secret-dir/db.sqlite');
    expect(logged[0]?.fields?.path).toBe('/v1/boom');
  });

  it('passes decoded path parameters and text results through', async () => {
    const a = await call(url, 'GET', '/v1/services/a%2Fb%20c/info', { token });
    expect(JSON.parse(a.text)).toEqual({ name: 'a/b c' });
    const t = await call(url, 'GET', '/v1/text', { token });
    expect(t.headers['content-type']).toContain('text/plain');
    expect(t.text).toBe('plain words');
  });

  it('streams NDJSON lines; an error before the first line is an ordinary error answer', async () => {
    const ok = await call(url, 'POST', '/v1/services/web/deploy', { token, body: '{}' });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/x-ndjson');
    expect(lines(ok)).toEqual([
      { type: 'progress', message: 'building web' },
      { type: 'progress', message: 'starting v2' },
      {
        type: 'result',
        result: { ok: true, service: 'web', release: 2, attempted: 2, rolledBack: false, changeId: 7, ms: 5 },
      },
    ]);
    const before = await call(url, 'POST', '/v1/services/web/deploy', { token, body: '{"fail":"before"}' });
    expect(before.status).toBe(404);
    expect(errorOf(before)).toEqual({ code: 'not-found', message: 'there is no service web' });
    const quiet = await call(url, 'POST', '/v1/quiet', { token, body: '{}' });
    expect(quiet.status).toBe(200);
    expect(quiet.text).toBe('');
  });

  it('ends a stream whose handler fails after it started with an error line (unexpected ones logged, not leaked)', async () => {
    const api = await call(url, 'POST', '/v1/services/web/deploy', { token, body: '{"fail":"api"}' });
    expect(api.status).toBe(200);
    expect(lines(api)).toEqual([
      { type: 'progress', message: 'building web' },
      { type: 'progress', message: 'starting v2' },
      { type: 'error', error: { code: 'conflict', message: 'refusing: the lease is held by pid 42' } },
    ]);
    logged.length = 0;
    const boom = await call(url, 'POST', '/v1/services/web/deploy', { token, body: '{"fail":"unexpected"}' });
    expect(boom.status).toBe(200);
    expect(lines(boom).at(-1)).toEqual({
      type: 'error',
      error: { code: 'internal', message: 'internal error; see the daemon log' },
    });
    expect(boom.text).not.toContain('/opt/hidden');
    expect(logged.map((l) => l.fields?.error)).toEqual(['spawn /opt/hidden/bin failed']);
  });

  it('sends each line as it is written, not when the handler ends', async () => {
    const client = new ApiClient(url, token);
    const seen: ProgressLine[] = [];
    const done = client.down({ exit: false }, (l) => seen.push(l));
    // The first line arrives while the handler still waits for the gate.
    await waitFor(() => seen.length === 1, { what: 'the first line before the handler finished' });
    expect(seen).toEqual([{ type: 'progress', message: 'stopping web' }]);
    midStream.open();
    await done;
    expect(seen.at(-1)).toEqual({ type: 'result', ok: true });
  });

  it('ends a follow stream when the client goes away: the signal aborts, the socket closes, later writes are dropped', async () => {
    const received: string[] = [];
    const abort = new AbortController();
    const client = new ApiClient(url, token);
    const reading = client.logs('web', { follow: true, signal: abort.signal }, (l) => received.push(l));
    await follow.started.wait;
    await waitFor(() => received.length === 1, { what: 'the first log line' });
    expect(received).toEqual(['hello from web']);
    expect(follow.ended).toBe(false);
    abort.abort();
    await reading;
    await waitFor(() => follow.ended && follow.socketClosed, { what: 'the handler to see the client leave' });
    expect(follow.reason).not.toBe('');
    // The server is fine afterwards.
    expect((await client.status()).serial).toBe(3);
  });

  it('the typed client: typed answers, and errors with status, code, fix and problems', async () => {
    const client = new ApiClient(url, token);
    const s = await client.status();
    expect(s.stack).toBe('t');
    const plan = client.plan({ vars: { ok: 'x' } });
    await expect(plan).resolves.toEqual({ vars: { ok: 'x' } });
    // A body the types would not let through, as an older or foreign client might send it.
    const bad: PlanRequest = JSON.parse('{"vars":{"region":5}}');
    const e = await client.plan(bad).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ApiRequestError);
    const err = e as ApiRequestError;
    expect([err.status, err.code]).toEqual([400, 'bad-request']);
    expect(err.problems?.[0]?.path).toBe('/vars/region');
    expect(err.fix).toContain('/v1/openapi.json');
    const wrong = new ApiClient(url, 'wrong-token-wrong-token');
    await expect(wrong.status()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    const doc = await client.openapi();
    expect(Object.keys(doc.paths)).toContain('/v1/services/{name}/deploy');
  });

  it('refuses to build an app with a POST route without a body schema, or with an empty token', () => {
    const noSchema: Route = {
      method: 'POST',
      path: '/v1/x',
      summary: 'x',
      handler: async () => ({ status: 200, json: {} }),
    };
    expect(() => createApp([noSchema], token, logger)).toThrow(/POST \/v1\/x has no body schema/);
    expect(() => createApp([], '  ', logger)).toThrow(/token is empty/);
  });
});

// Checked by `npm run typecheck`: what the daemon's layers return fits the response schemas the
// client is typed with. A field renamed in the store or the engine fails here, not in the CLI.
describe('the response schemas and the types behind them', () => {
  it('each producing type is assignable to its schema type', () => {
    expectTypeOf<ApplyEvent>().toMatchTypeOf<ApplyEventBody>();
    expectTypeOf<ApplyResult>().toMatchTypeOf<ApplyResultBody>();
    expectTypeOf<Plan>().toMatchTypeOf<PlanResponse>();
    expectTypeOf<RefreshResult>().toMatchTypeOf<RefreshResponse>();
    expectTypeOf<ChangeRecord[]>().toMatchTypeOf<HistoryResponse>();
    expectTypeOf<ChangeRecord & { steps: JournalEntry[] }>().toMatchTypeOf<ChangeResponse>();
    expectTypeOf<InstanceEvent[]>().toMatchTypeOf<EventsResponse>();
    expectTypeOf<{
      service: string;
      current: number | null;
      releases: ReleaseRecord[];
    }>().toMatchTypeOf<ReleasesResponse>();
    expectTypeOf<DeployResult>().toMatchTypeOf<DeployResultBody>();
    expectTypeOf<DataPlaneMetrics>().toMatchTypeOf<ProxyMetricsResponse>();
  });
});
