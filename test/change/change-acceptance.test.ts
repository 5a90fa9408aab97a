/**
 * Acceptance of issue 15's change management, against a real daemon (in-process: real HTTP on
 * loopback, a real SQLite file, real service processes) with real person tokens: an
 * approval-gated deploy is refused without approval, refused when approved only by its author,
 * applied after another approver signs it; a deploy in a freeze window is refused, and with
 * --break-glass it runs, its reason is in the audit log and on the change record, and a real
 * webhook receiver on loopback gets the notification.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { Value } from '@sinclair/typebox/value';
import { ApiClient, ApiRequestError } from '../../src/daemon/api/client.js';
import { API } from '../../src/daemon/api/contract.js';
import { AuditLog } from '../../src/security/audit.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { runCliOk } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { request, writeStack, type InProcessDaemon } from '../daemon/daemon-harness.js';
import { startChangeLab, type ChangeLab } from './change-lab.js';

interface Answer {
  status: number;
  json: Record<string, unknown>;
  lines: Record<string, unknown>[];
  text: string;
}

describe('change management against a real daemon', () => {
  let dir: string;
  let d: InProcessDaemon;
  let hook: http.Server;
  const received: string[] = [];
  let tokens: Record<string, string> = {};
  let base: StackConfig;
  let lab: ChangeLab | undefined;

  const call = async (who: string, method: 'GET' | 'POST', urlPath: string, body?: unknown): Promise<Answer> => {
    const r = await request(d.daemon.url, method, urlPath, {
      token: tokens[who],
      ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
    });
    const lines = r.text
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { status: r.status, json: lines.length === 1 ? (lines[0] ?? {}) : {}, lines, text: r.text };
  };
  const resultOf = (a: Answer) => a.lines.find((l) => l.type === 'result')?.result as Record<string, unknown>;

  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as AddressInfo).port;
    lab = await startChangeLab('change', {
      notify: { channels: { ops: { webhook: { url: `http://127.0.0.1:${port}/hook` } } } },
    });
    ({ dir, d, tokens, base } = lab);
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
    await new Promise((r) => hook?.close(r));
  });

  it('refuses a gated deploy without approval, with only its author approving, and applies it after another approver', async () => {
    const bare = await call('olga', 'POST', '/v1/services/web/deploy', { message: 'new build' });
    expect(bare.status).toBe(409);
    expect(JSON.stringify(bare.json)).toContain('needs 1 approval');

    const req = await call('olga', 'POST', '/v1/services/web/change-requests', {
      kind: 'deploy',
      message: 'new build',
    });
    expect(req.status).toBe(200);
    const id = Number(req.json.id);
    expect(req.json).toMatchObject({ author: 'olga', status: 'pending', required: 1 });

    const own = await call('olga', 'POST', `/v1/change-requests/${id}/approve`, { author: 'ann' });
    expect(own.status).toBe(409);
    expect(JSON.stringify(own.json)).toContain('is the author of this change');
    // A deployer's token may not approve at all.
    expect((await call('dev', 'POST', `/v1/change-requests/${id}/approve`)).status).toBe(403);

    const early = await call('olga', 'POST', '/v1/services/web/deploy', { request: id });
    expect(early.status).toBe(409);
    expect(JSON.stringify(early.json)).toContain(`change request #${id} has 0 of the 1 approval`);

    const signed = await call('ann', 'POST', `/v1/change-requests/${id}/approve`, { message: 'looks right' });
    expect(signed.status).toBe(200);
    expect(signed.json).toMatchObject({ status: 'approved', approvedBy: ['ann'] });

    const done = await call('olga', 'POST', '/v1/services/web/deploy', { request: id, message: 'new build' });
    expect(done.status).toBe(200);
    const result = resultOf(done);
    expect(result.ok).toBe(true);
    const change = await call('olga', 'GET', `/v1/changes/${String(result.changeId)}`);
    expect(change.json).toMatchObject({ kind: 'deploy', author: 'olga', request: id, breakGlass: null });

    // One approval, one change.
    const again = await call('olga', 'POST', '/v1/services/web/deploy', { request: id });
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.json)).toContain('already carried out');
  }, 60_000);

  it('refuses a change in a freeze window; break-glass applies it, audits the reason and notifies', async () => {
    const now = Date.now();
    writeStack(dir, {
      ...base,
      changes: {
        freezes: {
          'year-end': {
            once: { start: new Date(now - 3_600_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
          },
        },
        notify: ['ops'],
      },
    });
    const frozen = await call('olga', 'POST', '/v1/services/web/deploy', {});
    expect(frozen.status).toBe(409);
    expect(JSON.stringify(frozen.json)).toContain('frozen by freeze window `year-end`');

    const reason = 'payment outage, hotfix for INC-42';
    const glass = await call('olga', 'POST', '/v1/services/web/deploy', { breakGlass: reason });
    expect(glass.status).toBe(200);
    const result = resultOf(glass);
    expect(result.ok).toBe(true);
    const change = await call('olga', 'GET', `/v1/changes/${String(result.changeId)}`);
    expect(change.json).toMatchObject({ kind: 'deploy', author: 'olga', breakGlass: reason });

    const store = SqliteStore.open(path.join(dir, '.groundwork', 'state.db'), systemClock);
    try {
      const entries = await new AuditLog(store.audit, systemClock).list();
      const entry = entries.find((e) => e.operation === 'change.break-glass');
      expect(entry).toMatchObject({ user: 'olga', service: 'web' });
      expect(entry?.reason).toContain(reason);
      expect((await new AuditLog(store.audit, systemClock).verify()).ok).toBe(true);
    } finally {
      store.closeNow();
    }

    // The same entry through the API (admins only), and tokens listed without their hashes.
    const audit = await call('olga', 'GET', '/v1/audit?limit=10000');
    expect(audit.status).toBe(200);
    expect(audit.text).toContain(reason);
    expect((await call('ann', 'GET', '/v1/audit')).status).toBe(403);
    const listed = await call('olga', 'GET', '/v1/tokens');
    const devToken = (JSON.parse(listed.text) as { id: string; user: string; hash?: string }[]).find(
      (t) => t.user === 'dev',
    );
    expect(devToken && 'hash' in devToken).toBe(false);
    expect((await call('olga', 'POST', `/v1/tokens/${devToken?.id ?? ''}/revoke`)).json).toMatchObject({
      state: 'revoked',
    });
    expect((await call('dev', 'GET', '/v1/status')).status).toBe(401);

    const delivered = await waitFor(() => received.find((b) => b.includes(reason)), {
      what: 'the break-glass notification at the webhook receiver',
    });
    expect(delivered).toContain('break-glass');
    expect(delivered).toContain('year-end');
  }, 60_000);
  it('serves the decision records over the API: a viewer reads them, no token reads nothing', async () => {
    await runCliOk(['decision', 'new', 'Keep state in SQLite'], { cwd: dir, env: { GROUNDWORK_AUTHOR: 'olga' } });
    await runCliOk(['decision', 'new', 'Approve web deploys'], { cwd: dir, env: { GROUNDWORK_AUTHOR: 'olga' } });
    const viewer = new ApiClient(d.daemon.url, tokens.vic ?? '');
    expect(await viewer.decisions()).toEqual([
      {
        number: 1,
        title: 'Keep state in SQLite',
        status: 'proposed',
        file: 'docs/decisions/0001-keep-state-in-sqlite.md',
      },
      {
        number: 2,
        title: 'Approve web deploys',
        status: 'proposed',
        file: 'docs/decisions/0002-approve-web-deploys.md',
      },
    ]);
    expect(Value.Check(API.decisions.response, await viewer.decisions())).toBe(true);
    const second = await viewer.decision(2);
    expect(Value.Check(API.decision.response, second)).toBe(true);
    expect(second).toMatchObject({ number: 2, title: 'Approve web deploys' });
    expect(second.markdown).toContain('# 2. Approve web deploys');
    expect(second.markdown).toContain('## Consequences');

    const missing = await viewer.decision(9).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiRequestError);
    expect(missing).toMatchObject({
      status: 404,
      message: expect.stringContaining(
        'there is no decision record #9 under docs/decisions/ (there are #1, #2)',
      ) as unknown,
    });
    expect((await request(d.daemon.url, 'GET', '/v1/decisions', {})).status).toBe(401);
    expect((await request(d.daemon.url, 'GET', '/v1/decisions/1', {})).status).toBe(401);
  }, 30_000);
});
