/**
 * `env_file:` (docker compose's format): the instance gets the file's values, `env:` wins over
 * them, the values never appear in the plan or state (a hash of the file does, so a changed file
 * is a planned update), and a bad line is reported by `validate` with the file's line.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../src/config/env-file.js';
import { runCli, runCliOk } from '../helpers/cli.js';
import { httpGet } from '../helpers/http.js';
import { nodeService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { instancesOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('env_file', () => {
  it('reads compose-style lines: comments, export, quotes, escapes, inline comments', () => {
    const { values, problems } = parseEnvFile(
      [
        '# a comment',
        '',
        'A=plain value # trailing comment',
        'export B=exported',
        "C='single # not a comment $HOME'",
        'D="line\\none \\"quoted\\""',
        'E=',
        'F=a=b',
        '1BAD=x',
        'NOEQUALS',
        'G="open',
      ].join('\n'),
    );
    expect(values).toEqual({
      A: 'plain value',
      B: 'exported',
      C: 'single # not a comment $HOME',
      D: 'line\none "quoted"',
      E: '',
      F: 'a=b',
    });
    expect(problems.map((p) => p.line)).toEqual([9, 10, 11]);
    expect(problems[0]?.message).toContain('`1BAD` is not an environment name');
  });

  describe('with a service', () => {
    let dir = '';
    beforeEach(() => {
      dir = makeTempDir('env-file');
      writeServiceScript(dir);
    });
    afterEach(async () => {
      await runCli(['destroy', '--auto-approve'], { cwd: dir });
      removeTempDir(dir);
    });

    it('gives the instance the values, env wins, the values stay out of plan and state', async () => {
      writeFileSync(path.join(dir, 'app.env'), 'MESSAGE=from-the-file-4711\nOTHER=x\n');
      writeFileSync(path.join(dir, 'override.env'), 'OTHER=y\n');
      writeStack(dir, {
        stack: 'envfile',
        services: { web: { ...nodeService('env-file'), env_file: ['app.env', 'override.env'] } },
      });
      const plan = await runCliOk(['plan', '--json'], { cwd: dir });
      expect(plan.stdout).not.toContain('from-the-file-4711');
      await runCliOk(['apply', '-y'], { cwd: dir });
      const port = instancesOf(dir, 'web')[0]?.ports.http as number;
      expect((await httpGet(port, '/')).body).toContain('from-the-file-4711');
      // The CLI closed the store: its WAL is checkpointed into state.db (or still beside it).
      for (const f of ['state.db', 'state.db-wal'].map((x) => path.join(dir, '.groundwork', x)).filter(existsSync))
        expect(readFileSync(f).includes('from-the-file-4711'), f).toBe(false);

      // A changed file is a planned change of the service; `env:` wins over the file.
      writeFileSync(path.join(dir, 'app.env'), 'MESSAGE=changed-0815\n');
      const changed = await runCli(['plan', '--exit-code'], { cwd: dir });
      expect(changed.code).toBe(3);
      expect(changed.stdout).toContain('env_file');
      expect(changed.stdout).not.toContain('changed-0815');
      writeStack(dir, {
        stack: 'envfile',
        services: { web: { ...nodeService('env-file', { env: { MESSAGE: 'from-env' } }), env_file: 'app.env' } },
      });
      await runCliOk(['apply', '-y'], { cwd: dir });
      const port2 = instancesOf(dir, 'web')[0]?.ports.http as number;
      expect((await httpGet(port2, '/')).body).toContain('from-env');
    });

    it('validate names a missing file and a bad line, located at the entry', async () => {
      writeFileSync(path.join(dir, 'bad.env'), 'OK=1\nnot a line\n');
      writeStack(dir, {
        stack: 'envfile',
        services: { web: { ...nodeService('env-file'), env_file: ['bad.env', 'missing.env'] } },
      });
      const r = await runCli(['validate'], { cwd: dir });
      expect(r.code).toBe(1);
      const out = r.stdout + r.stderr;
      expect(out).toMatch(
        /groundwork\.yaml:\d+:\d+.*env_file bad\.env, line 2: `not a line` is not an environment name/,
      );
      expect(out).toContain(`env_file missing.env cannot be read (no such file: ${path.join(dir, 'missing.env')})`);
    });
  });
});
