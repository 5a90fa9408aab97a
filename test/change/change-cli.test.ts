/**
 * Saved plans awaiting approval, through the CLI in-process without a daemon (one code path in
 * core): `plan --out` → `change request apply --plan` → `change approve` by another person →
 * `apply ID` applies exactly that plan, refused while the stack file differs from what was
 * approved; the change names its decision and `history` shows it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { jsonOf, runCli, runCliOk } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeStack } from '../helpers/stack-file.js';

describe('change requests through the CLI', () => {
  let dir: string;
  // An approver approves with their own token (without a daemon a claimed name proves nothing).
  const tokens: Record<string, string> = {};
  const as = (who: string) => ({
    cwd: dir,
    env: { GROUNDWORK_AUTHOR: who, ...(tokens[who] ? { GROUNDWORK_TOKEN: tokens[who] } : {}) },
  });

  beforeAll(async () => {
    dir = makeTempDir('change-cli');
    const stack: StackConfig = {
      stack: 'changecli',
      services: { web: { command: 'node -e "setInterval(() => {}, 1000)"' } },
      people: { olga: { role: 'admin' }, ann: { role: 'approver' } },
      changes: { approvals: { everything: { approvals: 1 } } },
    };
    writeStack(dir, stack);
    tokens.ann = jsonOf<{ token: string }>(
      await runCliOk(['token', 'create', '--user', 'ann', '--json'], as('olga')),
    ).token;
  });

  afterAll(async () => {
    await runCli(['down'], as('olga'));
    removeTempDir(dir);
  });

  it('applies exactly the approved plan, names its decision, and refuses what was not approved', async () => {
    const bare = await runCli(['apply', '-m', 'first'], as('olga'));
    expect(bare.code).not.toBe(0);
    expect(bare.stderr).toContain('needs 1 approval from people other than its author (changes.approvals: everything)');

    const adr = jsonOf<{ number: number; file: string }>(
      await runCliOk(['decision', 'new', 'Run web as a plain process', '--json'], as('olga')),
    );
    expect(adr).toMatchObject({ number: 1, file: 'docs/decisions/0001-run-web-as-a-plain-process.md' });
    const text = readFileSync(path.join(dir, adr.file), 'utf8');
    for (const part of ['# 1. Run web as a plain process', '## Context', '## Decision', '## Consequences'])
      expect(text).toContain(part);
    expect((await runCliOk(['decision', 'list'], as('olga'))).stdout).toContain('0001  proposed');

    await runCliOk(['plan', '--out', 'first.plan.json'], as('olga'));
    const req = jsonOf<{ id: number; hash: string; status: string; decisions: number[] }>(
      await runCliOk(
        ['change', 'request', 'apply', '--plan', 'first.plan.json', '-m', 'first', '--decision', '1', '--json'],
        as('olga'),
      ),
    );
    expect(req).toMatchObject({ id: 1, status: 'pending', decisions: [1] });
    expect(await runCli(['change', 'request', 'apply', '--decision', '9'], as('olga'))).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no decision record #9') as unknown,
    });

    const own = await runCli(['change', 'approve', '1'], as('olga'));
    expect(own.code).not.toBe(0);
    expect(own.stderr).toContain('`olga` is the author of this change and may not approve it');
    expect((await runCli(['apply', '1'], as('olga'))).stderr).toContain('has 0 of the 1 approval');
    await runCliOk(['change', 'approve', '1', '-m', 'ok'], as('ann'));
    const shown = await runCliOk(['change', 'show', '1'], as('olga'));
    expect(shown.stdout).toContain('[approved]');
    expect(shown.stdout).toContain('create service.web');

    // The stack file moved since the approval: refused, naming why.
    const file = path.join(dir, 'groundwork.yaml');
    const approved = readFileSync(file, 'utf8');
    writeFileSync(file, approved.replace('setInterval', 'setTimeout'));
    const moved = await runCli(['apply', '1'], as('olga'));
    expect(moved.code).toBe(4);
    expect(moved.stderr).toContain('Refusing to apply change request #1');
    expect(moved.stderr).toContain('the stack file changed since this plan was made');
    writeFileSync(file, approved);

    const done = await runCliOk(['apply', '1'], as('olga'));
    expect(done.stdout).toContain('Apply complete!');
    const [last] = jsonOf<{ kind: string; author: string; request: number; decisions: number[] }[]>(
      await runCliOk(['history', '--json'], as('olga')),
    );
    expect(last).toMatchObject({ kind: 'apply', author: 'olga', request: 1, decisions: [1] });
    expect((await runCliOk(['history'], as('olga'))).stdout).toContain('decisions #1; request #1');
    expect(jsonOf<{ status: string }>(await runCliOk(['change', 'show', '1', '--json'], as('olga'))).status).toBe(
      'applied',
    );
    // One approval, one change.
    expect((await runCli(['apply', '1'], as('olga'))).code).toBe(4);
  }, 60_000);
});
