/**
 * `apply` on a terminal asks first, like Terraform: the plan, then only `yes` applies exactly that
 * plan. `-y` skips the question; without a terminal (CI, pipes) or with --json nothing is asked.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeStack } from '../helpers/stack-file.js';
import { readState } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('apply asks on a terminal', () => {
  let dir = '';
  beforeEach(() => {
    dir = makeTempDir('confirm');
    writeStack(dir, { stack: 'confirm', volumes: { data: { path: './data' } } });
  });
  afterEach(() => removeTempDir(dir));

  it('shows the plan, applies nothing on any answer but yes, applies that plan on yes', async () => {
    const no = await runCli(['apply'], { cwd: dir, isTty: true, answers: ['y'] });
    expect(no.code).toBe(1);
    expect(no.stdout).toContain('Plan: 1 to create');
    expect(no.stdout).toContain('Apply these changes?');
    expect(no.stdout).toContain('Apply cancelled: nothing was changed.');
    expect(existsSync(path.join(dir, 'data'))).toBe(false);

    const yes = await runCli(['apply', '-m', 'confirmed'], { cwd: dir, isTty: true, answers: ['yes'] });
    expect(yes.code, yes.stdout + yes.stderr).toBe(0);
    // The plan is shown once, before the question.
    expect(yes.stdout.split('Plan: 1 to create').length - 1).toBe(1);
    expect(existsSync(path.join(dir, 'data'))).toBe(true);
    expect(readState(dir).changes[0]?.message).toBe('confirmed');
  });

  it('-y, a pipe and --json never ask', async () => {
    for (const [argv, tty] of [
      [['apply', '-y'], true],
      [['apply'], false],
      [['apply', '--json'], true],
    ] as const) {
      // No answers: a question would get null and the test would see it in stdout.
      const r = await runCli([...argv], { cwd: dir, isTty: tty, answers: [] });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).not.toContain('Apply these changes?');
    }
  });
});
