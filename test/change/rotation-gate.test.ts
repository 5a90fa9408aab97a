/**
 * Secret rotation under an approval policy, through the CLI in-process with a real SQLite store,
 * a real age identity and secrets file: a new version of a secret that a gated service uses is
 * refused without an approved `rotate` request (the value is not even read), refused while only
 * requested, carried out once approved (and only once), refused in a freeze window and let
 * through with --break-glass, which is audited. A planted value is then searched for in every
 * output of the walk (CLI stdout and stderr, `plan --json`, `change show --json`, which is the
 * API's ChangeRequestView, `history --json`) and in every byte under the state directory (the
 * database and its WAL): found 0 times, nor redacted (which would mean it was there).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { AuditLog } from '../../src/security/audit.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { jsonOf, runCli, type CliResult } from '../helpers/cli.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CANARY = 'canary-rotation-gate-0d9f3e7a51';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('secret rotation gated by the change policy', () => {
  let dir: string;
  const outputs: CliResult[] = [];
  const as = (who: string) => ({ cwd: dir, env: { GROUNDWORK_AUTHOR: who } });
  const cli = async (who: string, argv: string[], code = 0): Promise<CliResult> => {
    const r = await runCli(argv, as(who));
    outputs.push(r);
    expect(r.code, `groundwork ${argv.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(code);
    return r;
  };
  const versions = () =>
    (readFileSync(path.join(dir, 'groundwork.secrets.yaml'), 'utf8').match(/version: \d+/g) ?? []).length;

  beforeAll(() => {
    dir = makeTempDir('rotation-gate');
  });
  afterAll(() => removeTempDir(dir));

  it('needs an approved request, carries it out once, breaks glass in a freeze, and leaks no value', async () => {
    const key = jsonOf<{ recipient: string }>(await cli('olga', ['secret', 'init', '--json'])).recipient;
    const base: StackConfig = {
      stack: 'rotgate',
      services: {
        web: { command: 'node -e "setInterval(() => {}, 1000)"', env: { DB: '${secret.db-password}' } },
      },
      secrets: { 'db-password': {}, unused: {} },
      secret_recipients: { here: key },
      people: { olga: { role: 'admin' }, ann: { role: 'approver' } },
    };
    writeStack(dir, base);
    writeFileSync(path.join(dir, 'v1'), 'first-value-0000-0000\n');
    writeFileSync(path.join(dir, 'v2'), `${CANARY}\n`);
    await cli('olga', ['secret', 'set', 'db-password', '--from-file', 'v1']);
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
    expect((await cli('olga', ['secret', 'set', 'db-password', '--from-file', 'v2'], 4)).stderr).toContain(
      'needs 1 approval',
    );
    // A secret no gated service uses is not gated.
    await cli('olga', ['secret', 'set', 'unused', '--from-file', 'v1']);
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
      (await cli('olga', ['secret', 'rotate', 'db-password', '--change', id, '--from-file', 'v2'], 4)).stderr,
    ).toContain(`change request #${id} has 0 of the 1 approval`);
    await cli('ann', ['change', 'approve', id, '-m', 'ok']);
    expect((await cli('olga', ['change', 'show', id])).stdout).toContain(
      `carry it out with: groundwork secret rotate db-password --change ${id}`,
    );

    const rotated = jsonOf<{ version: number; services: string[] }>(
      await cli('olga', [
        'secret',
        'rotate',
        'db-password',
        '--change',
        id,
        '--from-file',
        'v2',
        '-m',
        'quarterly',
        '--json',
      ]),
    );
    expect(rotated).toMatchObject({ version: 2, services: ['web'] });
    const [last] = jsonOf<{ kind: string; request: number; message: string }[]>(
      await cli('olga', ['history', '--json']),
    );
    expect(last).toMatchObject({ kind: 'rotate', request: req.id, message: 'quarterly' });
    expect(jsonOf<{ status: string }>(await cli('olga', ['change', 'show', id, '--json'])).status).toBe('applied');
    expect((await cli('olga', ['secret', 'rotate', 'db-password', '--change', id, '--generate'], 4)).stderr).toContain(
      `change request #${id} was already carried out by change #`,
    );
    // The rollout is a plan like any other: it shows the version, never the value.
    const plan = await cli('olga', ['plan', '--json']);
    expect(plan.stdout).toContain('"db-password"');

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
      const audit = new AuditLog(store.audit, systemClock).list();
      expect(audit.find((a) => a.operation === 'change.break-glass')).toMatchObject({
        path: 'secret.db-password',
        reason: 'break-glass during freeze window now: the value leaked in a ticket',
      });
    } finally {
      store.close();
    }
    expect(versions()).toBe(4);

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
