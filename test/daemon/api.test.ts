/**
 * The HTTP API's edges, route by route from its own OpenAPI document: every route needs the
 * token; a client's mistake (bad JSON, wrong types, unknown fields, too big, bad query) is a 4xx
 * JSON error with a message, never a 500; unknown routes are 404, wrong methods 405. And the
 * daemon's secrets on disk: the token file is 0600, the API binds loopback by default.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/daemon/api/client.js';
import { API } from '../../src/daemon/api/contract.js';
import type { ApplyLine, DeployLine, ProgressLine } from '../../src/daemon/api/schemas.js';
import { tokenFile } from '../../src/daemon/daemon.js';
import { planHashOf, type Plan } from '../../src/engine/plan.js';
import { isAlive, killProcessesUnder } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import {
  nodeService,
  request,
  spawnUp,
  startInProcess,
  teardownSpawned,
  writeServiceScript,
  writeStack,
  type ApiAnswer,
  type InProcessDaemon,
  type SpawnedDaemon,
} from './daemon-harness.js';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean;
  anyOf?: JsonSchema[];
}
interface Operation {
  requestBody?: { content: { 'application/json': { schema: JsonSchema } } };
  security?: unknown[];
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
}
interface RouteRef {
  method: string;
  template: string;
  path: string;
  bodySchema: JsonSchema | undefined;
  /**
   * Served without the token (`security: []`): push pings, which carry the check's token, and the
   * links in pages, which carry the daemon's signature (test/incidents/oncall-daemon.test.ts).
   */
  open: boolean;
}
interface ErrorJson {
  error?: { code?: string; message?: string; fix?: string };
}

const STACK_FRAME = /^\s{4}at /m;

function errorOf(r: ApiAnswer): ErrorJson['error'] {
  try {
    return (JSON.parse(r.text) as ErrorJson).error;
  } catch {
    return undefined;
  }
}

/** A 4xx with a JSON error that has a code and a message, and no stack trace anywhere. */
function expectClientError(r: ApiAnswer, what: string, statuses: number[], code?: string): void {
  expect(statuses, `${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`).toContain(r.status);
  const e = errorOf(r);
  expect(e?.message, `${what}: an error message (${r.text.slice(0, 300)})`).toBeTruthy();
  if (code) expect(e?.code, `${what}: error code`).toBe(code);
  expect(r.headers['content-type'], what).toContain('application/json');
  expect(r.text, `${what}: no stack trace`).not.toMatch(STACK_FRAME);
}

/** A value of the wrong JSON type for a property of `schema`. */
function wrongValue(schema: JsonSchema): unknown {
  switch (schema.type) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not-a-number';
    case 'boolean':
      return 'yes';
    case 'array':
      return 'not-an-array';
    case 'object':
      return 'not-an-object';
    default:
      return { unexpected: [1, 2, 3] };
  }
}

describe('the HTTP API, route by route', () => {
  let dir: string;
  let d: InProcessDaemon;
  let url: string;
  let token: string;
  let routes: RouteRef[];

  beforeAll(async () => {
    dir = makeTempDir('api');
    writeServiceScript(dir);
    writeStack(dir, { stack: 'api', services: { web: nodeService(`gw-api-${randomBytes(3).toString('hex')}`) } });
    d = await startInProcess(dir);
    await d.api.waitAllHealthy(['web']);
    url = d.api.url;
    token = d.api.token;
    const doc = await d.api.json<OpenApi>('GET', '/v1/openapi.json');
    routes = Object.entries(doc.paths).flatMap(([template, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        template,
        path: template
          .replace('{name}', 'web')
          .replace('{id}', '1')
          .replace(/\{[a-z]+\}/g, 'x'),
        bodySchema: op.requestBody?.content['application/json'].schema,
        open: op.security?.length === 0,
      })),
    );
  });

  afterAll(async () => {
    const t = await d.close();
    removeTempDir(dir);
    expect(t.downCompleted).toBe(true);
    expect(t.leftovers).toBe(0);
  });

  it('the OpenAPI document lists the routes the CLI uses', () => {
    const names = routes.map((r) => `${r.method} ${r.template}`);
    for (const r of [
      'GET /v1/status',
      'POST /v1/plan',
      'POST /v1/apply',
      'GET /v1/services/{name}/logs',
      'POST /v1/services/{name}/restart',
      'POST /v1/down',
      'GET /v1/events',
      'GET /v1/history',
    ]) {
      expect(names).toContain(r);
    }
    console.log(`[api] ${routes.length} routes: ${names.join(', ')}`);
  });

  it('every route answers 401 `unauthorized` without a token, with a wrong token, and with the token in the wrong place', async () => {
    const wrong = randomBytes(32).toString('base64url');
    const attempts: { what: string; opts: { token?: string; headers?: Record<string, string> }; suffix?: string }[] = [
      { what: 'no token', opts: {} },
      { what: 'wrong token', opts: { token: wrong } },
      {
        what: 'the token with one character changed',
        opts: { token: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}` },
      },
      { what: 'a prefix of the token', opts: { token: token.slice(0, 10) } },
      { what: 'Basic instead of Bearer', opts: { headers: { authorization: `Basic ${token}` } } },
      { what: 'no scheme', opts: { headers: { authorization: token } } },
      { what: 'token in the query string', opts: {}, suffix: `?token=${token}&access_token=${token}` },
    ];
    expect(routes.filter((r) => r.open).map((r) => `${r.method} ${r.template}`)).toEqual([
      'GET /v1/incidents/{id}/ack',
      'POST /v1/incidents/{id}/ack',
      'GET /v1/incidents/{id}/resolve',
      'POST /v1/incidents/{id}/resolve',
      'GET /v1/push/{token}',
      'POST /v1/push/{token}',
    ]);
    for (const r of routes.filter((x) => !x.open)) {
      for (const a of attempts) {
        const body = r.method === 'POST' ? '{}' : undefined;
        const res = await request(url, r.method, `${r.path}${a.suffix ?? ''}`, {
          ...a.opts,
          ...(body ? { body } : {}),
        });
        expectClientError(res, `${r.method} ${r.path} with ${a.what}`, [401], 'unauthorized');
        expect(res.text, 'the 401 never echoes the token').not.toContain(token);
      }
    }
    // Nothing ran: the service is still there, untouched.
    expect((await d.api.instance('web', 0)).restarts).toBe(0);
    expect((await d.api.instance('web', 0)).state).toBe('healthy');
  });

  it('every POST route refuses malformed bodies with a 400 (invalid JSON, not an object, wrong types, unknown fields) and 2 MiB with a 413', async () => {
    // A push ping's body is not read (any body is a ping): the check's own test covers its limit.
    const posts = routes.filter((r) => r.method === 'POST' && !r.open);
    expect(posts.length).toBeGreaterThan(3);
    const withoutSchema = posts.filter((r) => !r.bodySchema).map((r) => r.template);
    expect(withoutSchema, 'POST routes must declare a body schema (else any body is accepted)').toEqual([]);
    let checked = 0;
    for (const r of posts) {
      const schema = r.bodySchema as JsonSchema;
      const bodies: { what: string; body: string }[] = [
        { what: 'invalid JSON', body: '{"vars": ' },
        { what: 'not JSON at all', body: 'hello' },
        { what: 'a JSON string', body: '"text"' },
        { what: 'a JSON number', body: '42' },
        { what: 'JSON null', body: 'null' },
        { what: 'a JSON array', body: '[]' },
        { what: 'an unknown field', body: JSON.stringify({ bogusField: 1 }) },
        ...Object.entries(schema.properties ?? {}).map(([k, v]) => ({
          what: `a wrong type for ${k}`,
          body: JSON.stringify({ [k]: wrongValue(v) }),
        })),
      ];
      for (const b of bodies) {
        const res = await request(url, 'POST', r.path, { token, body: b.body });
        expectClientError(res, `POST ${r.path} with ${b.what}`, [400], 'bad-request');
        checked++;
      }
      const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
      big.write('{"message":"', 0);
      big.write('"}', big.length - 2);
      const res = await request(url, 'POST', r.path, { token, body: big });
      expectClientError(res, `POST ${r.path} with a 2 MiB body`, [413], 'payload-too-large');
      checked++;
    }
    console.log(`[api] ${checked} malformed requests to ${posts.length} POST routes: all 4xx with a message`);
    // None of them did anything.
    expect((await d.api.instance('web', 0)).restarts).toBe(0);
    expect((await d.api.status()).serial).toBe(1);
  });

  it('an unknown route is 404 and a wrong method is 405, both as JSON errors', async () => {
    for (const p of [
      '/',
      '/v1',
      '/v1/nope',
      '/v2/status',
      '/v1/status/extra',
      '/v1/services/web/nope',
      '/v1/services/%E0%A4%A/logs',
    ]) {
      expectClientError(await request(url, 'GET', p, { token }), `GET ${p}`, [404], 'not-found');
    }
    const templates = new Set(routes.map((r) => r.template));
    for (const t of templates) {
      const path = routes.find((r) => r.template === t)?.path as string;
      const allowed = new Set(routes.filter((r) => r.template === t).map((r) => r.method));
      for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].filter((x) => !allowed.has(x))) {
        const res = await request(url, m, path, { token, ...(m === 'GET' ? {} : { body: '{}' }) });
        expectClientError(res, `${m} ${path}`, [405], 'method-not-allowed');
      }
    }
  });

  it('bad query parameters are 400 with a message naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/v1/services/web/logs?lines=abc', 'lines'],
      ['/v1/services/web/logs?lines=0', 'lines'],
      ['/v1/services/web/logs?lines=-5', 'lines'],
      ['/v1/services/web/logs?lines=1.5', 'lines'],
      ['/v1/services/web/logs?since=garbage', 'since'],
      ['/v1/services/web/logs?since=10', 'since'],
      ['/v1/services/web/logs?instance=abc', 'instance'],
      ['/v1/history?limit=abc', 'limit'],
      ['/v1/history?limit=0', 'limit'],
      ['/v1/events?limit=abc', 'limit'],
    ];
    for (const [p, param] of cases) {
      const res = await request(url, 'GET', p, { token });
      expectClientError(res, `GET ${p}`, [400], 'bad-request');
      expect(errorOf(res)?.message, `GET ${p}`).toContain(param);
    }
    // And the good forms work.
    for (const p of [
      '/v1/services/web/logs?lines=5',
      '/v1/services/web/logs?since=10m',
      '/v1/services/web/logs?instance=0',
      '/v1/history?limit=5',
      '/v1/events?limit=5',
    ]) {
      expect((await request(url, 'GET', p, { token })).status, p).toBe(200);
    }
  });

  it('unknown services and changes are 404 with a hint', async () => {
    for (const [m, p] of [
      ['GET', '/v1/services/nope/logs'],
      ['POST', '/v1/services/nope/restart'],
      ['GET', '/v1/events?service=nope'],
      ['GET', '/v1/changes/999'],
      ['GET', '/v1/changes/abc'],
    ] as const) {
      expectClientError(
        await request(url, m, p, { token, ...(m === 'POST' ? { body: '{}' } : {}) }),
        `${m} ${p}`,
        [404],
        'not-found',
      );
    }
  });

  // The schema lets `steps` be anything. A plan with garbage steps, the current serial and stack
  // hash, and a planHash computed over it (the hash is a plain sha256 anyone can compute) crashes
  // apply half-way: HTTP 200, an `internal` error line, and a change left `running`.
  it('a saved plan with malformed steps is refused as a client error, and leaves no change half-open', async () => {
    const plan = await d.api.json<Plan>('POST', '/v1/plan', {});
    const garbage = { ...plan, steps: [42] as unknown as Plan['steps'] };
    const unhashed = await request(url, 'POST', '/v1/apply', { token, body: JSON.stringify({ plan: garbage }) });
    expectClientError(unhashed, 'POST /v1/apply with garbage steps (planHash not matching)', [400, 409, 422]);
    const res = await request(url, 'POST', '/v1/apply', {
      token,
      body: JSON.stringify({ plan: { ...garbage, planHash: planHashOf(garbage) } }),
    });
    const history = await d.api.json<{ id: number; outcome: string }[]>('GET', '/v1/history?limit=5');
    expect
      .soft(
        history.filter((c) => c.outcome === 'running'),
        'changes left running',
      )
      .toEqual([]);
    expectClientError(res, 'POST /v1/apply with garbage steps (planHash computed over them)', [400, 409, 422]);
  });

  // A plan edited after review (here: a different command) must not be applied as if it were the
  // reviewed one: its content no longer matches its planHash.
  it('a saved plan whose content no longer matches its planHash is refused', async () => {
    const original = readFileSync(path.join(dir, 'groundwork.yaml'), 'utf8');
    writeStack(dir, {
      stack: 'api',
      services: { web: nodeService('ignored'), extra: { command: 'sleep 60', stop_grace: '1s' } },
    });
    // Make the reviewed plan for the edited file (the web marker changes too, which is fine).
    const reviewed = await d.api.json<
      { steps: { address: string; spec?: { command?: string } }[] } & Record<string, unknown>
    >('POST', '/v1/plan', {});
    const tampered = JSON.parse(JSON.stringify(reviewed)) as typeof reviewed;
    const step = tampered.steps.find((s) => s.address === 'service.extra');
    expect(step?.spec?.command).toBe('sleep 60');
    (step?.spec as { command: string }).command = 'sleep 61';
    const res = await request(url, 'POST', '/v1/apply', { token, body: JSON.stringify({ plan: tampered }) });
    writeFileSync(path.join(dir, 'groundwork.yaml'), original);
    expect(res.text, 'the tampered step must not run').not.toContain('"status":"applied"');
    expectClientError(res, 'POST /v1/apply with a tampered plan', [400, 409, 422]);
  });
  // The contract (src/daemon/api/contract.ts) is what the typed client relies on: the daemon must
  // serve every entry, and every answer it gives must match the entry's schema.
  it('the daemon serves every route of the contract, and every answer matches its schema', async () => {
    const served = new Set(routes.map((r) => `${r.method} ${r.template}`));
    for (const [name, spec] of Object.entries(API)) {
      expect(served, `contract entry ${name}`).toContain(`${spec.method} ${spec.path.replace(/:([a-z]+)/g, '{$1}')}`);
    }
    const client = new ApiClient(url, token);
    const problems: string[] = [];
    const check = (what: string, schema: TSchema, value: unknown): void => {
      for (const e of [...Value.Errors(schema, value)].slice(0, 3))
        problems.push(`${what} ${e.path || '(root)'}: ${e.message} (found ${JSON.stringify(e.value)?.slice(0, 80)})`);
    };
    check('status', API.status.response, await client.status());
    check('plan', API.plan.response, await client.plan({}));
    check('refresh', API.refresh.response, await client.refresh({}));
    const history = await client.history({ limit: 5 });
    check('history', API.history.response, history);
    check('change', API.change.response, await client.change(history[history.length - 1]?.id ?? 1));
    check('events', API.events.response, await client.events({ service: 'web', limit: 20 }));
    check('releases', API.releases.response, await client.releases('web'));
    check('proxyMetrics', API.proxyMetrics.response, await client.proxyMetrics());
    check('openapi', API.openapi.response, await client.openapi());
    const applyLines: ApplyLine[] = [];
    await client.apply({ message: 'schema check' }, (l) => applyLines.push(l));
    expect(applyLines.map((l) => l.type)).toContain('result');
    applyLines.forEach((l, i) => check(`apply line ${i}`, API.apply.line, l));
    const restartLines: ProgressLine[] = [];
    await client.restart('web', {}, (l) => restartLines.push(l));
    expect(restartLines.at(-1)).toEqual({ type: 'result', ok: true });
    restartLines.forEach((l, i) => check(`restart line ${i}`, API.restart.line, l));
    const deployLines: DeployLine[] = [];
    await client.deploy('web', { message: 'schema check' }, (l) => deployLines.push(l));
    expect(deployLines.map((l) => l.type)).toContain('result');
    deployLines.forEach((l, i) => check(`deploy line ${i}`, API.deploy.line, l));
    const logLines: string[] = [];
    await client.logs('web', { lines: 5 }, (l) => logLines.push(l));
    expect(logLines.length).toBeGreaterThan(0);
    await expect(client.change(999_999)).rejects.toMatchObject({ status: 404, code: 'not-found' });
    expect(problems).toEqual([]);
  });
});

describe('the daemon on disk and on the network', () => {
  let dir: string;
  let up: SpawnedDaemon | undefined;

  beforeAll(() => {
    dir = makeTempDir('apibind');
    writeStack(dir, { stack: 'bind' });
  });

  afterAll(async () => {
    const t = await teardownSpawned(dir, up);
    removeTempDir(dir);
    expect(t.leftovers).toBe(0);
  });

  it('binds 127.0.0.1 by default, keeps the token in a 0600 file (tightening an existing one), and answers only with it', async () => {
    // A token file left readable by others, e.g. restored from a backup: the daemon tightens it.
    const stateDir = path.join(dir, '.groundwork');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(tokenFile(stateDir), `${randomBytes(32).toString('base64url')}\n`);
    chmodSync(tokenFile(stateDir), 0o644);
    up = await spawnUp(dir, { listen: null });
    const u = new URL(up.url);
    expect(u.hostname).toBe('127.0.0.1');
    expect(statSync(tokenFile(stateDir)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(stateDir, 'daemon.json')).mode & 0o777).toBe(0o600);
    // The kernel's view: one listening socket on that port, bound to 127.0.0.1 only.
    const portHex = Number(u.port).toString(16).toUpperCase().padStart(4, '0');
    const listening = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .concat(readFileSync('/proc/net/tcp6', 'utf8').split('\n'))
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${portHex}`) && f[3] === '0A')
      .map((f) => f[1]);
    expect(listening).toEqual([`0100007F:${portHex}`]);
    // From another address of this machine (when it has one) the port is closed.
    const other = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (other) {
      const err = await request(`http://${other.address}:${u.port}`, 'GET', '/v1/status', {
        token: up.token,
        timeoutMs: 2000,
      }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/ECONNREFUSED|timeout|no answer/);
    } else {
      console.log('[api] this machine has no non-loopback IPv4 address; checked /proc/net/tcp only');
    }
    expect((await request(up.url, 'GET', '/v1/status', { token: up.token })).status).toBe(200);
    expect((await request(up.url, 'GET', '/v1/status', {})).status).toBe(401);
    // POST /v1/down ends the daemon.
    expect(await up.api.down(true)).toBe(true);
    await waitFor(() => !isAlive(up?.pid as number), { what: 'the daemon to exit after down' });
    expect(await up.exited).toBe(0);
    expect(await killProcessesUnder(dir)).toBe(0);
  });
});
