/**
 * The parts of access, each through its entry point with real components (SQLite files, stack
 * files, the Hono app): the fail-closed route table, a person's tokens following the stack file,
 * the refusals of `token create`, and the stack file's `people:` diagnostics.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackText } from '../../../src/config/load.js';
import { apiAccess, createApi, route, type Route } from '../../../src/daemon/api/http-app.js';
import { ruleFor } from '../../../src/daemon/api/middleware/auth-rules.js';
import { API, type ApiName } from '../../../src/daemon/api/contract.js';
import type { AuditEntry } from '../../../src/security/audit.js';
import { authorize } from '../../../src/security/authorize.js';
import { PERMISSIONS } from '../../../src/security/permissions.js';
import { StackUsers } from '../../../src/security/roles-stack-users.js';
import { Tokens } from '../../../src/security/tokens.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../../src/util/clock.js';
import { Duration } from '../../../src/util/duration.js';
import { silentLogger } from '../../../src/util/logger.js';
import { runCli } from '../../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { Type } from '@sinclair/typebox';

describe('the route table', () => {
  it('has a rule for every route of the contract, found by method and declared path', () => {
    for (const name of Object.keys(API) as ApiName[])
      expect(ruleFor(API[name].method, API[name].path), `${name}: ${API[name].path}`).toBeDefined();
  });

  it('refuses a route without a rule to the admin itself, and records it', async () => {
    const recorded: AuditEntry[] = [];
    const access = apiAccess(
      () =>
        Promise.resolve({
          ok: true,
          caller: { tokenId: 'admin', user: null, role: 'admin', permissions: new Set(PERMISSIONS), services: null },
        }),
      (e) => void recorded.push(e),
    );
    let ran = false;
    const unruled: Route = route({
      method: 'POST',
      path: '/v1/unruled',
      summary: 'a route nobody wrote a rule for',
      body: Type.Object({}),
      handler: async () => {
        ran = true;
        return { status: 200, json: {} };
      },
    });
    const app = createApi([unruled], access, silentLogger);
    const r = await app.request('/v1/unruled', { method: 'POST', body: '{}', headers: { authorization: 'Bearer x' } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/has no access rule/);
    expect(ran).toBe(false);
    expect(recorded).toMatchObject([{ decision: 'denied', status: 403, route: 'POST /v1/unruled', token: 'admin' }]);
  });

  it("records a person's changes under their name, whatever author the body claims", async () => {
    const access = apiAccess(
      () =>
        Promise.resolve({
          ok: true,
          caller: {
            tokenId: 'tok_a',
            user: 'ana',
            role: 'deployer',
            permissions: new Set(PERMISSIONS),
            services: null,
          },
        }),
      () => undefined,
    );
    const echo: Route = route({
      ...API.refresh,
      response: Type.Object({ author: Type.Optional(Type.String()) }),
      handler: async (ctx) => ({ status: 200, json: { author: ctx.body.author } }),
    });
    const app = createApi([echo], access, silentLogger);
    const r = await app.request('/v1/refresh', {
      method: 'POST',
      body: '{"author":"the-boss"}',
      headers: { authorization: 'Bearer x' },
    });
    expect(await r.json()).toEqual({ author: 'ana' });
  });

  it('refuses a change it cannot record (the audit log fails closed), running nothing', async () => {
    const access = apiAccess(
      () =>
        Promise.resolve({
          ok: true,
          caller: { tokenId: 'admin', user: null, role: 'admin', permissions: new Set(PERMISSIONS), services: null },
        }),
      () => {
        throw new Error('SQLITE_FULL: database or disk is full');
      },
    );
    let ran = false;
    const refresh: Route = route({
      ...API.refresh,
      handler: async () => {
        ran = true;
        return { status: 200, json: { serial: 0, changeId: null, reports: [] } };
      },
    });
    const app = createApi([refresh], access, silentLogger);
    const r = await app.request('/v1/refresh', { method: 'POST', body: '{}', headers: { authorization: 'Bearer x' } });
    expect(r.status).toBe(500);
    expect(await r.text()).not.toContain('SQLITE_FULL');
    expect(ran).toBe(false);
  });

  it('decides on permission first, then on services: one service, the whole stack, nothing in particular', () => {
    const caller = {
      tokenId: 'tok_x',
      user: 'ana',
      role: 'deployer' as const,
      permissions: new Set(['service.deploy', 'status.read'] as const),
      services: new Set(['web']),
    };
    expect(authorize(caller, 'service.deploy', { kind: 'service', name: 'web' })).toEqual({ allowed: true });
    expect(authorize(caller, 'service.deploy', { kind: 'service', name: 'api' })).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/limited to web, not `api`/),
    });
    expect(authorize(caller, 'status.read', { kind: 'stack' })).toMatchObject({ allowed: false });
    expect(authorize(caller, 'status.read', { kind: 'none' })).toEqual({ allowed: true });
    expect(authorize(caller, 'stack.apply', { kind: 'none' })).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/role deployer may not stack.apply/),
    });
  });
});

describe('tokens of people follow the stack file', () => {
  let dir: string;
  let store: SqliteStore;
  const stack = (ana: string) =>
    `stack: s\nservices:\n  web: { command: "true" }\n  api: { command: "true" }\npeople:\n${ana}`;

  beforeAll(() => {
    dir = makeTempDir('tokens');
    store = SqliteStore.open(path.join(dir, '.groundwork', 'state.db'), systemClock);
  });
  afterAll(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  it('narrows a token when the person is lowered, and refuses it when they are removed', async () => {
    const file = path.join(dir, 'groundwork.yaml');
    writeFileSync(file, stack('  ana: { role: operator }\n  bob: { role: viewer }\n'));
    const tokens = new Tokens(store.tokens, systemClock, new StackUsers(file));
    const { token, record } = await tokens.create({ role: 'operator', user: 'ana', expires: Duration.parse('1d') });
    expect(record.hash).not.toContain(token.slice(3, 20));
    const before = await tokens.authenticate(`Bearer ${token}`);
    expect(before.ok && before.caller.permissions.has('stack.apply')).toBe(true);

    writeFileSync(file, stack('  ana: { role: deployer, services: [api] }\n  bob: { role: viewer }\n'));
    const lowered = await tokens.authenticate(`Bearer ${token}`);
    expect(lowered.ok).toBe(true);
    if (lowered.ok) {
      expect(lowered.caller.permissions.has('stack.apply')).toBe(false);
      expect(lowered.caller.permissions.has('service.deploy')).toBe(true);
      expect([...(lowered.caller.services ?? [])]).toEqual(['api']);
    }

    writeFileSync(file, stack('  bob: { role: viewer }\n'));
    expect(await tokens.authenticate(`Bearer ${token}`)).toMatchObject({
      ok: false,
      tokenId: record.id,
      user: 'ana',
      reason: expect.stringMatching(/no longer declared/),
    });
  });

  it('refuses tokens wider than the person, for unknown people and for undeclared services', async () => {
    const file = path.join(dir, 'groundwork.yaml');
    writeFileSync(file, stack('  ana: { role: deployer, services: [web] }\n'));
    const cli = (args: string[]) => runCli(['token', 'create', ...args], { cwd: dir });
    const wider = await cli(['--user', 'ana', '--role', 'admin']);
    expect(wider.code).toBe(1);
    expect(wider.stderr).toMatch(/user `ana` is a deployer: a admin token would allow more/);
    const otherService = await cli(['--user', 'ana', '--service', 'api']);
    expect(otherService.stderr).toMatch(/limited to web; a token for api would allow more/);
    expect((await cli(['--user', 'cara', '--role', 'viewer'])).stderr).toMatch(
      /`cara` is not declared.*use one of: ana/,
    );
    expect((await cli(['--role', 'viewer', '--service', 'wbe'])).stderr).toMatch(/service `wbe` is not declared/);
    expect((await cli(['--role', 'root'])).stderr).toMatch(/unknown role `root`; use one of viewer, deployer/);
    expect((await cli(['--role', 'viewer', '--expires', 'soon'])).stderr).toMatch(/--expires needs a duration/);
    const ok = await cli(['--user', 'ana']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^gw_[A-Za-z0-9_-]{43}\n$/);
    expect(ok.stderr).toMatch(/role deployer, services web, user ana, expires /);
  });
});

describe('people in the stack file', () => {
  it('locates a wrong role and a service that is not declared, with the fix', () => {
    const r = parseStackText(
      'stack: s\nservices:\n  web: { command: "true" }\npeople:\n  ana:\n    role: root\n  bob:\n    role: viewer\n    services: [web, wbe]\n',
      'users.yaml',
    );
    const role = r.diagnostics.find((d) => d.path === 'people.ana.role');
    expect(role).toMatchObject({ line: 6, fix: expect.stringMatching(/viewer, deployer, operator, approver, admin/) });
    const svc = r.diagnostics.find((d) => d.path === 'people.bob.services.1');
    expect(svc).toMatchObject({ line: 9, code: 'dangling-reference', fix: 'did you mean `web`?' });
  });
});
