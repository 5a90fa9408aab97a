/**
 * Secret rotation under an approval policy, through the CLI in-process (no daemon) with a real
 * SQLite store, a real age identity and secrets file and real service processes: a new version of
 * a secret that a gated service uses is refused without an approved `rotate` request (the value
 * is not even read), refused while only requested or approved only by its author, and carried out
 * once approved (and only once) as one change: the new version and the restart of exactly the
 * service using it (the other keeps its process), one change record of kind `rotate` carrying the
 * request, one audit entry. In a freeze window it is refused, and let through with --break-glass,
 * which is audited. A planted value is then searched for in every
 * output of the walk (CLI stdout and stderr, `plan --json`, `change show --json`, which is the
 * API's ChangeRequestView, `history --json`) and in every byte under the state directory (the
 * database and its WAL): found 0 times, nor redacted (which would mean it was there).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tryEnviron } from '../helpers/processes.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { AuditLog } from '../../src/security/audit.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { jsonOf, runCli, runCliOk, type CliResult } from '../helpers/cli.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CANARY = 'canary-rotation-gate-0d9f3e7a51';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    const st = statSync(p);
    // Regular files only: an instance's log FIFO would block the read forever.
    return st.isDirectory() ? filesUnder(p) : st.isFile() ? [p] : [];
  });
}

describe('secret rotation gated by the change policy', () => {
  let dir: string;
  const outputs: CliResult[] = [];
  // An approver approves with their own token (without a daemon a claimed name proves nothing).
  const tokens: Record<string, string> = {};
  const as = (who: string) => ({
    cwd: dir,
    env: { GROUNDWORK_AUTHOR: who, ...(tokens[who] ? { GROUNDWORK_TOKEN: tokens[who] } : {}) },
  });
  const cli = async (who: string, argv: string[], code = 0): Promise<CliResult> => {
    const r = await runCli(argv, as(who));
    outputs.push(r);
    expect(r.code, `groundwork ${argv.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(code);
    return r;
  };
  const versions = () =>
    (readFileSync(path.join(dir, 'groundwork.secrets.yaml'), 'utf8').match(/version: \d+/g) ?? []).length;

  let values: string;
  let v1: string;
  let v2: string;
  beforeAll(() => {
    dir = makeTempDir('rotation-gate');
    values = makeTempDir('rotation-gate-values');
    v1 = path.join(values, 'v1');
    v2 = path.join(values, 'v2');
  });
  afterAll(async () => {
    await runCli(['down'], as('olga'));
    removeTempDir(dir);
    removeTempDir(values);
  });
  const pids = async () =>
    Object.fromEntries(
      jsonOf<{ services: { name: string; instances: { pid: number }[] }[] }>(
        await cli('olga', ['status', '--json']),
      ).services.map((x) => [x.name, x.instances.map((i) => i.pid)]),
    );

  it('needs an approved request, carries it out once, breaks glass in a freeze, and leaks no value', async () => {
    const key = jsonOf<{ recipient: string }>(await cli('olga', ['secret', 'init', '--json'])).recipient;
    const base: StackConfig = {
      stack: 'rotgate',
      services: {
        web: {
          command: 'node -e "setInterval(() => {}, 1000)"',
          env: { DB: '${secret.db-password}' },
          stop_grace: '1s',
        },
        other: { command: 'node -e "setInterval(() => {}, 1000)"', stop_grace: '1s' },
      },
      secrets: { 'db-password': {}, unused: {} },
      secret_recipients: { here: key },
      people: { olga: { role: 'admin' }, ann: { role: 'approver' } },
    };
    writeStack(dir, base);
    tokens.ann = jsonOf<{ token: string }>(
      await runCliOk(['token', 'create', '--user', 'ann', '--json'], as('olga')),
    ).token;
    // The values live outside the stack's directory, which a release copies.
    writeFileSync(v1, 'first-value-0000-0000\n');
    writeFileSync(v2, `${CANARY}\n`);
    await cli('olga', ['secret', 'set', 'db-password', '--from-file', v1]);
    await cli('olga', ['apply', '--yes']);
    const before = await pids();
    const gated: StackConfig = {
      ...base,
      changes: { approvals: { 'web-review': { services: ['web'], approvals: 1 } } },
    };
    writeStack(dir, gated);

    // No request: refused before the value is read (a missing file would be the other error).
    const bare = await cli('olga', ['secret', 'rotate', 'db-password', '--from-file', 'no-such-file'], 4);
    expect(bare.stderr).toContain(
      'rotation of secret `db-password` needs 1 approval from people other than its author (changes.approvals: web-review)',
    );
    expect(bare.stderr).toContain('groundwork change request rotate db-password');
    expect((await cli('olga', ['secret', 'set', 'db-password', '--from-file', v2], 4)).stderr).toContain(
      'needs 1 approval',
    );
    // A secret no gated service uses is not gated.
    await cli('olga', ['secret', 'set', 'unused', '--from-file', v1]);
    expect(versions()).toBe(2);

    const req = jsonOf<{ id: number; kind: string; required: number; subject: Record<string, unknown> }>(
      await cli('olga', ['change', 'request', 'rotate', 'db-password', '-m', 'quarterly', '--json']),
    );
    expect(req).toMatchObject({
      kind: 'rotate',
      required: 1,
      subject: { secret: 'db-password', version: 1, services: ['web'] },
    });
    const id = String(req.id);
    expect((await cli('olga', ['change', 'show', id])).stdout).toContain('version 1 -> a new one, used by service.web');
    expect(
      (await cli('olga', ['secret', 'rotate', 'db-password', '--change', id, '--from-file', v2], 4)).stderr,
    ).toContain(`change request #${id} has 0 of the 1 approval`);
    expect((await cli('olga', ['change', 'approve', id], 4)).stderr).toContain(
      '`olga` is the author of this change and may not approve it',
    );
    expect(
      (await cli('olga', ['secret', 'rotate', 'db-password', '--change', id, '--from-file', v2], 4)).stderr,
    ).toContain(`change request #${id} has 0 of the 1 approval`);
    await cli('ann', ['change', 'approve', id, '-m', 'ok']);
    expect((await cli('olga', ['change', 'show', id])).stdout).toContain(
      `carry it out with: groundwork secret rotate db-password --change ${id}`,
    );

    const rotated = jsonOf<{ version: number; services: string[]; change: number }>(
      await cli('olga', [
        'secret',
        'rotate',
        'db-password',
        '--change',
        id,
        '--from-file',
        v2,
        '-m',
        'quarterly',
        '--json',
      ]),
    );
    expect(rotated).toMatchObject({
      version: 2,
      services: ['web'],
      rollout: { outcome: 'applied', applied: ['service.web'] },
    });
    // The one change: the version and the restart of web (a new process with the new value), not of other.
    const after = await pids();
    expect(after.other).toEqual(before.other);
    expect(after.web).not.toEqual(before.web);
    expect(tryEnviron(after.web?.[0] ?? 0)?.DB).toBe(CANARY);
    const history = jsonOf<{ id: number; kind: string; request: number | null; message: string }[]>(
      await cli('olga', ['history', '--json']),
    );
    expect(history[0]).toMatchObject({ id: rotated.change, kind: 'rotate', request: req.id, message: 'quarterly' });
    expect(history.filter((c) => c.request === req.id)).toHaveLength(1);
    expect(jsonOf<{ status: string }>(await cli('olga', ['change', 'show', id, '--json'])).status).toBe('applied');
    expect((await cli('olga', ['secret', 'rotate', 'db-password', '--change', id, '--generate'], 4)).stderr).toContain(
      `change request #${id} was already carried out by change #${rotated.change}`,
    );
    // Nothing left to roll out: no second approval needed.
    expect(jsonOf<{ steps: unknown[] }>(await cli('olga', ['plan', '--json'])).steps).toEqual([]);
    const store0 = SqliteStore.open(path.join(dir, '.groundwork', 'state.db'), systemClock);
    try {
      expect(store0.entries(rotated.change).map((j) => [j.address, j.status])).toEqual([['service.web', 'applied']]);
      const entries = (await new AuditLog(store0.audit, systemClock).list()).filter(
        (a) => a.operation === 'secret.rotate',
      );
      expect(entries.map((a) => a.reason)).toEqual([
        `version 2 by change #${rotated.change} (change request #${req.id}); restarted service.web`,
      ]);
    } finally {
      store0.closeNow();
    }

    // A freeze window: refused, then break-glass rotates, audited.
    writeStack(dir, {
      ...gated,
      changes: {
        ...gated.changes,
        freezes: { now: { once: { start: '2000-01-01T00:00:00Z', end: '2100-01-01T00:00:00Z' } } },
      },
    });
    expect((await cli('olga', ['secret', 'rotate', 'db-password', '--generate'], 4)).stderr).toContain(
      'changes are frozen by freeze window `now`',
    );
    // An approved request in a freeze: refused, and carried through (one change) only with --break-glass.
    const req2 = String(
      jsonOf<{ id: number }>(await cli('olga', ['change', 'request', 'rotate', 'db-password', '-m', 'leak', '--json']))
        .id,
    );
    await cli('ann', ['change', 'approve', req2]);
    const frozenWeb = (await pids()).web;
    expect(
      (await cli('olga', ['secret', 'rotate', 'db-password', '--change', req2, '--generate'], 4)).stderr,
    ).toContain('changes are frozen by freeze window `now`');
    const urgent = jsonOf<{ version: number; change: number }>(
      await cli('olga', [
        'secret',
        'rotate',
        'db-password',
        '--change',
        req2,
        '--generate',
        '--break-glass',
        'leaked in a ticket',
        '--json',
      ]),
    );
    expect(urgent.version).toBe(3);
    expect((await pids()).web).not.toEqual(frozenWeb);
    expect(jsonOf<{ id: number }[]>(await cli('olga', ['history', '--json']))[0]).toMatchObject({
      id: urgent.change,
      kind: 'rotate',
      request: Number(req2),
      breakGlass: 'leaked in a ticket',
    });
    await cli('olga', [
      'secret',
      'rotate',
      'db-password',
      '--generate',
      '--break-glass',
      'the value leaked in a ticket',
    ]);
    const store = SqliteStore.open(path.join(dir, '.groundwork', 'state.db'), systemClock);
    try {
      const audit = await new AuditLog(store.audit, systemClock).list();
      // Audited once per break-glass change (the rotation's dry admission audits nothing).
      expect(audit.filter((a) => a.operation === 'change.break-glass').map((a) => a.reason)).toEqual([
        'break-glass during freeze window now: leaked in a ticket',
        'break-glass during freeze window now: the value leaked in a ticket',
      ]);
      expect(audit.filter((a) => a.operation === 'change.break-glass').map((a) => a.path)).toEqual([
        'secret.db-password',
        'secret.db-password',
      ]);
    } finally {
      store.closeNow();
    }
    expect(versions()).toBe(5);

    // The canary: in no output, not redacted either, in no byte of the state directory.
    const b64 = Buffer.from(CANARY).toString('base64');
    for (const r of outputs) {
      for (const text of [r.stdout, r.stderr]) {
        expect(text).not.toContain(CANARY);
        expect(text).not.toContain(b64);
        expect(text).not.toContain('[secret:db-password]');
      }
    }
    for (const f of [...filesUnder(path.join(dir, '.groundwork')), path.join(dir, 'groundwork.secrets.yaml')]) {
      const bytes = readFileSync(f);
      expect(bytes.includes(CANARY), f).toBe(false);
      expect(bytes.includes(b64), f).toBe(false);
    }
  }, 60_000);
});
