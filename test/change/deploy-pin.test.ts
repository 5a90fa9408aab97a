/**
 * A deploy approval pins a commit, not a branch name. In a real git repository: `change request
 * deploy web --ref main` records the commit main names then; a new commit lands on main; the
 * approved request still deploys the approved commit (and says main moved), never the unreviewed
 * one. Carrying it out with another --ref is refused, naming the approved ref. The release is
 * labelled with the ref as requested and the commit deployed (`git main@abc1234 (pinned by ...)`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { jsonOf, runCli, runCliOk } from '../helpers/cli.js';
import { teardownStack } from '../helpers/lab.js';
import { writeStack } from '../helpers/stack-file.js';
import { instancesOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const STACK = 'pin';

function git(dir: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      GIT_AUTHOR_NAME: 'tester',
      GIT_AUTHOR_EMAIL: 'tester@example.test',
      GIT_COMMITTER_NAME: 'tester',
      GIT_COMMITTER_EMAIL: 'tester@example.test',
    },
  }).trim();
}

describe('a deploy approval pins the commit', () => {
  let dir: string;
  // An approver approves with their own token (without a daemon a claimed name proves nothing).
  const tokens: Record<string, string> = {};
  const as = (who: string) => ({
    cwd: dir,
    env: { GROUNDWORK_AUTHOR: who, ...(tokens[who] ? { GROUNDWORK_TOKEN: tokens[who] } : {}) },
  });
  const commit = (version: string): string => {
    writeFileSync(path.join(dir, 'version.txt'), `${version}\n`);
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', version]);
    return git(dir, ['rev-parse', 'HEAD']);
  };

  beforeAll(() => {
    dir = makeTempDir('pin');
    git(dir, ['init', '-q', '-b', 'main']);
    writeFileSync(path.join(dir, '.gitignore'), '.groundwork/\ngroundwork.yaml\n');
  });

  afterAll(async () => {
    try {
      await teardownStack(dir, STACK);
    } finally {
      removeTempDir(dir);
    }
  });

  it('deploys the commit the ref named at request time, even after the ref moved', async () => {
    const base: StackConfig = {
      stack: STACK,
      // The service holds its code directory open; what it runs is read from there.
      services: { web: { command: 'node -e "setInterval(() => {}, 1000)"', stop_grace: '1s' } },
      people: { olga: { role: 'admin' }, ann: { role: 'approver' } },
    };
    writeStack(dir, base);
    tokens.ann = jsonOf<{ token: string }>(
      await runCliOk(['token', 'create', '--user', 'ann', '--json'], as('olga')),
    ).token;
    const reviewed = commit('reviewed');
    await runCliOk(['apply', '-m', 'first'], as('olga'));
    writeStack(dir, { ...base, changes: { approvals: { 'web-review': { services: ['web'], approvals: 1 } } } });

    const req = jsonOf<{ id: number; subject: { ref: string; commit: string } }>(
      await runCliOk(
        ['change', 'request', 'deploy', 'web', '--ref', 'main', '-m', 'ship reviewed', '--json'],
        as('olga'),
      ),
    );
    expect(req.subject).toMatchObject({ ref: 'main', commit: reviewed });
    expect((await runCliOk(['change', 'show', String(req.id)], as('olga'))).stdout).toContain(
      `ref:       main (commit ${reviewed})`,
    );

    // Someone pushes to main after the request: unreviewed code.
    const unreviewed = commit('unreviewed');
    expect(unreviewed).not.toBe(reviewed);
    await runCliOk(['change', 'approve', String(req.id)], as('ann'));

    const other = await runCli(['deploy', 'web', '--change', String(req.id), '--ref', 'HEAD~1'], as('olga'));
    expect(other.code).toBe(4);
    expect(other.stderr).toContain(`change request #${req.id} approves a deploy of \`main\`, not of \`HEAD~1\``);

    const done = await runCliOk(['deploy', 'web', '--change', String(req.id)], as('olga'));
    expect(done.stdout + done.stderr).toContain(
      `\`main\` has moved to ${unreviewed.slice(0, 12)} since change request #${req.id}; deploying the approved commit ${reviewed.slice(0, 12)}`,
    );
    const [inst] = instancesOf(dir, 'web');
    expect(readFileSync(path.join(inst?.codeDir as string, 'version.txt'), 'utf8')).toBe('reviewed\n');
    const listed = jsonOf<{ current: number; releases: { seq: number; source: string }[] }>(
      await runCliOk(['releases', 'web', '--json'], as('olga')),
    );
    // Labelled with the ref as requested and the commit deployed, not as a bare hash.
    expect(listed.releases.find((r) => r.seq === listed.current)?.source).toBe(
      `git main@${reviewed.slice(0, 7)} (pinned by change request #${req.id})`,
    );
    expect((await runCliOk(['releases', 'web'], as('olga'))).stdout).toContain(`git main@${reviewed.slice(0, 7)}`);

    // The new commit needs an approval of its own.
    const bare = await runCli(['deploy', 'web', '--ref', 'main'], as('olga'));
    expect(bare.code).toBe(4);
    expect(bare.stderr).toContain('needs 1 approval');
  }, 60_000);
});
