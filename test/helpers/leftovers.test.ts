/**
 * The teardown sweep finds what a test left, by each trace it can leave (working directory,
 * command line, environment), removes it, and the teardown then fails naming it.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeLeftovers, processesOf, sweepLeftovers, TeardownFailures } from './leftovers.js';
import { isAlive } from './processes.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

describe('leftover sweep', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('leftovers');
  });
  afterEach(() => removeTempDir(dir));

  const start = (opts: { cwd?: string; env?: Record<string, string> }) => {
    const c = spawn('sleep', ['600'], {
      cwd: opts.cwd ?? '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env },
      detached: true,
      stdio: 'ignore',
    });
    c.unref();
    return c.pid as number;
  };

  it('finds a process by its working directory and one by its environment, and kills both', async () => {
    const byCwd = start({ cwd: dir });
    const byEnv = start({ env: { HEALTH_FILE: `${dir}/sick` } });
    const unrelated = start({});
    try {
      const found = processesOf({ dir });
      expect(found.map((p) => p.pid).sort()).toEqual([byCwd, byEnv].sort());
      expect(found.find((p) => p.pid === byEnv)?.why).toContain('HEALTH_FILE');
      const swept = await sweepLeftovers({ dir });
      expect(describeLeftovers(swept)).toContain(`pid ${byCwd}`);
      expect(isAlive(byCwd)).toBe(false);
      expect(isAlive(byEnv)).toBe(false);
      expect(isAlive(unrelated)).toBe(true);
    } finally {
      process.kill(unrelated, 'SIGKILL');
    }
  });

  it('a teardown that finds a leftover fails and names it', async () => {
    const pid = start({ cwd: dir });
    const t = new TeardownFailures('a test');
    await t.step('a step that throws', () => Promise.reject(new Error('boom')));
    await t.sweep({ dir }, 'down');
    expect(() => t.throwIfAny()).toThrow(new RegExp(`a step that throws: boom[\\s\\S]*pid ${pid}`));
    expect(isAlive(pid)).toBe(false);
  });
});
