/**
 * Without a daemon, `change approve` writes to the state store directly, so the name it claims
 * proves nothing: through the CLI in-process with a real SQLite store and real tokens, `change
 * approve --as bob` is refused without bob's credential (no token, someone else's token, a
 * revoked token), and counts once bob's own token is shown. A person whose role does not approve
 * is refused with their own token too. Nothing is written by a refused approval.
 */
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { jsonOf, runCli, runCliOk } from '../helpers/cli.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('an approval without a daemon needs the approver’s credential', () => {
  let dir: string;
  const tokens: Record<string, string> = {};
  const run = (argv: string[], env: Record<string, string | undefined>) => runCli(argv, { cwd: dir, env });
  const approvals = async () =>
    jsonOf<{ approvals: { by: string }[]; approvedBy: string[] }>(
      await runCliOk(['change', 'show', '1', '--json'], { cwd: dir }),
    );

  beforeAll(async () => {
    dir = makeTempDir('approver-credential');
    const stack: StackConfig = {
      stack: 'approvers',
      services: { web: { command: 'node -e "setInterval(() => {}, 1000)"' } },
      people: { olga: { role: 'admin' }, bob: { role: 'approver' }, dev: { role: 'deployer' } },
      changes: { approvals: { everything: { approvals: 1 } } },
    };
    writeStack(dir, stack);
    for (const who of ['olga', 'bob', 'dev'])
      tokens[who] = jsonOf<{ token: string }>(
        await runCliOk(['token', 'create', '--user', who, '--json'], { cwd: dir }),
      ).token;
    await runCliOk(['change', 'request', 'apply', '-m', 'first'], { cwd: dir, env: { GROUNDWORK_AUTHOR: 'olga' } });
  });

  afterAll(() => removeTempDir(dir));

  it('refuses `--as bob` without bob’s token, then counts bob’s own', async () => {
    const osUser = os.userInfo().username;
    expect(osUser).not.toBe('bob');

    const bare = await run(['change', 'approve', '1', '--as', 'bob'], { GROUNDWORK_AUTHOR: 'olga' });
    expect(bare.code).toBe(4);
    expect(bare.stderr).toContain(
      `cannot approve change request #1 as \`bob\`: an approval made without a daemon counts as \`bob\` only with their credential, and this command runs as the OS user \`${osUser}\` with no GROUNDWORK_TOKEN`,
    );
    expect(bare.stderr).toContain('groundwork token create --user bob --role approver');
    // GROUNDWORK_AUTHOR is a claim too.
    expect((await run(['change', 'approve', '1'], { GROUNDWORK_AUTHOR: 'bob' })).code).toBe(4);

    const borrowed = await run(['change', 'approve', '1', '--as', 'bob'], { GROUNDWORK_TOKEN: tokens.olga });
    expect(borrowed.code).toBe(4);
    expect(borrowed.stderr).toContain('GROUNDWORK_TOKEN belongs to `olga`, not to `bob`');

    const deployer = await run(['change', 'approve', '1', '--as', 'dev'], { GROUNDWORK_TOKEN: tokens.dev });
    expect(deployer.code).toBe(4);
    expect(deployer.stderr).toContain('the token of `dev` (role deployer) does not approve changes');

    const forged = await run(['change', 'approve', '1', '--as', 'bob'], {
      GROUNDWORK_TOKEN: `gw_${'A'.repeat(43)}`,
    });
    expect(forged.code).toBe(4);
    expect(forged.stderr).toContain('GROUNDWORK_TOKEN is not a token that may approve (unknown token)');
    expect((await approvals()).approvals).toEqual([]);

    // Bob's own token: the approval counts, recorded as bob.
    const signed = jsonOf<{ approvedBy: string[]; status: string }>(
      await runCliOk(['change', 'approve', '1', '--as', 'bob', '--json'], {
        cwd: dir,
        env: { GROUNDWORK_TOKEN: tokens.bob },
      }),
    );
    expect(signed).toMatchObject({ approvedBy: ['bob'], status: 'approved' });

    // A revoked token proves nothing any more.
    const listed = jsonOf<{ id: string; user: string | null }[]>(
      await runCliOk(['token', 'list', '--json'], { cwd: dir }),
    );
    const bobs = listed.find((t) => t.user === 'bob');
    await runCliOk(['token', 'revoke', String(bobs?.id)], { cwd: dir });
    const revoked = await run(['change', 'approve', '1', '--as', 'bob'], { GROUNDWORK_TOKEN: tokens.bob });
    expect(revoked.code).toBe(4);
    expect(revoked.stderr).toContain('GROUNDWORK_TOKEN is not a token that may approve (token revoked at');
    expect((await approvals()).approvals.map((a) => a.by)).toEqual(['bob']);

    // The author claiming their own request keeps its own reason.
    const own = await run(['change', 'approve', '1'], { GROUNDWORK_AUTHOR: 'olga' });
    expect(own.code).toBe(4);
    expect(own.stderr).toContain('`olga` is the author of this change and may not approve it');
  });
});
