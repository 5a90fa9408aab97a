/**
 * Refusing a change request (issue 16): the store keeps who refused it, when and why (a database
 * from before the refusal columns opens and migrates); an approver rejects with a required
 * reason, its author may withdraw it, and a refused request is never approved or carried out.
 * Against a real daemon (loopback HTTP, person tokens, SQLite file) and the CLI without a daemon.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/security/audit.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { jsonOf, runCli, runCliOk } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { request, writeStack, type InProcessDaemon } from '../daemon/daemon-harness.js';
import { startChangeLab, type ChangeLab } from './change-lab.js';

const fixedClock = { now: () => new Date('2026-12-02T06:00:00.000Z') };

describe('change request refusals in the SQLite store', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('reject-store');
  });
  afterAll(() => removeTempDir(dir));

  it('opens a database from before refusals, then refuses once and never lets a refused request be claimed', async () => {
    const file = path.join(dir, 'state.db');
    // A database as the previous release left it: every migration but the refusal columns.
    const old = new Database(file);
    for (const [i, sql] of MIGRATIONS.slice(0, -1).entries()) {
      old.exec(sql);
      old.pragma(`user_version = ${i + 1}`);
    }
    old
      .prepare(
        `INSERT INTO change_requests (kind, service, subject, hash, author, message, decisions, created_at)
         VALUES ('deploy', 'web', '{}', 'h', 'olga', 'old one', '[]', '2026-11-01T00:00:00.000Z')`,
      )
      .run();
    old.close();

    const store = SqliteStore.open(file, fixedClock);
    try {
      const crs = store.changeRequests;
      expect(await crs.tryGetRequest(1)).toMatchObject({ author: 'olga', refusal: null, appliedChange: null });
      const refusal = { by: 'ann', at: '2026-12-02T06:00:00.000Z', reason: 'deploys the wrong commit' };
      expect(await crs.refuseRequest(1, refusal)).toBe(true);
      expect(await crs.refuseRequest(1, { ...refusal, by: 'olga' })).toBe(false);
      expect((await crs.tryGetRequest(1))?.refusal).toEqual(refusal);
      expect(await crs.claimRequest(1, 7)).toBe(false);
      expect((await crs.tryGetRequest(1))?.appliedChange).toBeNull();

      // Carried out first: a refusal comes too late.
      const id = await crs.saveRequest({
        kind: 'apply',
        service: null,
        subject: {},
        hash: 'h2',
        author: 'olga',
        message: '',
        decisions: [],
      });
      expect(await crs.claimRequest(id, 8)).toBe(true);
      expect(await crs.refuseRequest(id, refusal)).toBe(false);
      expect((await crs.tryGetRequest(id))?.refusal).toBeNull();
    } finally {
      store.closeNow();
    }
  });
});

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

describe('rejecting and withdrawing change requests against a real daemon', () => {
  let dir: string;
  let d: InProcessDaemon;
  let tokens: Record<string, string> = {};

  const call = async (who: string, urlPath: string, body?: unknown): Promise<Answer> => {
    const r = await request(d.daemon.url, body === undefined ? 'GET' : 'POST', urlPath, {
      token: tokens[who],
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, json: JSON.parse(r.text) as Record<string, unknown> };
  };
  const requestDeploy = async (who: string, message: string): Promise<number> => {
    const r = await call(who, '/v1/services/web/change-requests', { kind: 'deploy', message });
    expect(r.status).toBe(200);
    return Number(r.json.id);
  };

  let lab: ChangeLab | undefined;
  beforeAll(async () => {
    lab = await startChangeLab('reject', {}, 'reject-api');
    ({ dir, d, tokens } = lab);
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  it('an approver rejects with a reason; the request can then not be approved or deployed, and the audit log has it', async () => {
    const id = await requestDeploy('olga', 'new build');

    // Same permission as approving: a viewer and a deployer are refused before anything is read.
    expect((await call('vic', `/v1/change-requests/${id}/reject`, { reason: 'no' })).status).toBe(403);
    expect((await call('dev', `/v1/change-requests/${id}/reject`, { reason: 'no' })).status).toBe(403);
    // A reason is required: missing, then blank.
    const none = await call('ann', `/v1/change-requests/${id}/reject`, {});
    expect(none.status).toBe(400);
    expect(JSON.stringify(none.json)).toContain('reason');
    const blank = await call('ann', `/v1/change-requests/${id}/reject`, { reason: '   ' });
    expect(blank.status).toBe(400);
    expect(JSON.stringify(blank.json)).toContain(`rejecting change request #${id} needs a reason`);
    // Someone else's request cannot be withdrawn.
    const notHers = await call('dev', `/v1/change-requests/${id}/withdraw`, { reason: 'mine now' });
    expect(notHers.status).toBe(409);
    expect(JSON.stringify(notHers.json)).toContain(`only its author olga may, not \`dev\``);

    // The token names the person, whatever the body claims.
    const rejected = await call('ann', `/v1/change-requests/${id}/reject`, {
      reason: 'deploys an untested commit',
      author: 'olga',
    });
    expect(rejected.status).toBe(200);
    expect(rejected.json).toMatchObject({
      status: 'refused',
      refusal: { by: 'ann', reason: 'deploys an untested commit' },
    });

    const approve = await call('ann', `/v1/change-requests/${id}/approve`, {});
    expect(approve.status).toBe(409);
    const approveText = JSON.stringify(approve.json);
    expect(approveText).toContain(`cannot approve change request #${id}`);
    expect(approveText).toContain('rejected by ann');
    expect(approveText).toContain('deploys an untested commit');
    const deploy = await call('olga', '/v1/services/web/deploy', { request: id });
    expect(deploy.status).toBe(409);
    expect(JSON.stringify(deploy.json)).toContain('rejected by ann');
    expect((await call('ann', `/v1/change-requests/${id}/reject`, { reason: 'again' })).status).toBe(409);

    const listed = await call('vic', '/v1/change-requests');
    expect(listed.json).toEqual(
      expect.arrayContaining([expect.objectContaining({ id, status: 'refused' })]) as unknown as Record<
        string,
        unknown
      >,
    );

    // Audited like approve: the call, its person and its status.
    const store = SqliteStore.open(path.join(dir, '.groundwork', 'state.db'), systemClock);
    try {
      const entries = await new AuditLog(store.audit, systemClock).list(0, 10_000);
      const path_ = `/v1/change-requests/${id}/reject`;
      expect(entries.filter((e) => e.path === path_).map((e) => [e.user, e.decision, e.status])).toEqual(
        expect.arrayContaining([
          ['vic', 'denied', 403],
          ['ann', 'allowed', 200],
        ]),
      );
    } finally {
      store.closeNow();
    }
  }, 60_000);

  it('the author withdraws their own request with a reason', async () => {
    const id = await requestDeploy('dev', 'try this');
    const withdrawn = await call('dev', `/v1/change-requests/${id}/withdraw`, { reason: 'wrong branch' });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.json).toMatchObject({ status: 'refused', refusal: { by: 'dev', reason: 'wrong branch' } });
    const approve = await call('olga', `/v1/change-requests/${id}/approve`, {});
    expect(approve.status).toBe(409);
    expect(JSON.stringify(approve.json)).toContain('withdrawn by its author dev');
  }, 30_000);
});

describe('change reject through the CLI without a daemon', () => {
  let dir: string;
  const tokens: Record<string, string> = {};
  const as = (who: string) => ({
    cwd: dir,
    env: { GROUNDWORK_AUTHOR: who, ...(tokens[who] ? { GROUNDWORK_TOKEN: tokens[who] } : {}) },
  });

  beforeAll(async () => {
    dir = makeTempDir('reject-cli');
    writeStack(dir, {
      stack: 'rejectcli',
      services: { web: { command: 'node -e "setInterval(() => {}, 1000)"' } },
      people: { olga: { role: 'admin' }, ann: { role: 'approver' }, vic: { role: 'viewer' } },
      changes: { approvals: { everything: { approvals: 1 } } },
    });
    for (const who of ['ann', 'vic'])
      tokens[who] = jsonOf<{ token: string }>(
        await runCliOk(['token', 'create', '--user', who, '--json'], as('olga')),
      ).token;
  }, 60_000);

  afterAll(() => removeTempDir(dir));

  it('needs a reason and a credential that approves; a rejected request is not approved or applied', async () => {
    await runCliOk(['change', 'request', 'apply', '-m', 'first'], as('olga'));

    const bare = await runCli(['change', 'reject', '1'], as('ann'));
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('`groundwork change reject` needs a reason');
    const viewer = await runCli(['change', 'reject', '1', '--reason', 'no'], as('vic'));
    expect(viewer.code).toBe(4);
    expect(viewer.stderr).toContain('the token of `vic` (role viewer) does not approve changes');

    const r = jsonOf<{ status: string; refusal: { by: string; reason: string } }>(
      await runCliOk(['change', 'reject', '1', '--reason', 'touches the database', '--json'], as('ann')),
    );
    expect(r).toMatchObject({ status: 'refused', refusal: { by: 'ann', reason: 'touches the database' } });

    const approve = await runCli(['change', 'approve', '1'], as('ann'));
    expect(approve.code).toBe(4);
    expect(approve.stderr).toContain('change request #1 was rejected by ann');
    const apply = await runCli(['apply', '1'], as('olga'));
    expect(apply.code).toBe(4);
    expect(apply.stderr).toContain('touches the database');

    expect((await runCliOk(['change', 'list'], as('olga'))).stdout).toMatch(
      /1\s+refused.*\(refused by ann: touches the database\)/,
    );
    expect((await runCliOk(['change', 'show', '1'], as('olga'))).stdout).toContain('refused:   rejected by ann at');
  }, 60_000);

  it('lets the author withdraw their own request, and nobody else', async () => {
    const id = jsonOf<{ id: number }>(
      await runCliOk(['change', 'request', 'apply', '-m', 'second', '--json'], as('olga')),
    ).id;
    expect((await runCli(['change', 'withdraw', String(id)], as('olga'))).code).toBe(2);
    const other = await runCli(['change', 'withdraw', String(id), '--reason', 'mine'], as('ann'));
    expect(other.code).toBe(4);
    expect(other.stderr).toContain(`cannot withdraw change request #${id}: only its author olga may, not \`ann\``);
    const r = jsonOf<{ status: string; refusal: { by: string; reason: string } }>(
      await runCliOk(['change', 'withdraw', String(id), '--reason', 'wrong plan', '--json'], as('olga')),
    );
    expect(r).toMatchObject({ status: 'refused', refusal: { by: 'olga', reason: 'wrong plan' } });
    expect((await runCliOk(['change', 'show', String(id)], as('olga'))).stdout).toContain(
      'refused:   withdrawn by its author olga at',
    );
  }, 30_000);
});
