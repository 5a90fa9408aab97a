/**
 * `deploy --ref` that cannot be deployed is the caller's mistake, told before anything happens:
 * outside a git repository (400, exit 2) and for a ref git does not know (404, exit 1), over the
 * daemon's API and through the CLI; no release number is used up and nothing is streamed.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request, startInProcess, type InProcessDaemon } from '../daemon/daemon-harness.js';
import { runCli } from '../helpers/cli.js';
import { nodeService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

interface ErrorAnswer {
  error: { code: string; message: string; fix?: string };
}

describe('deploy --ref that cannot be deployed', () => {
  let dir = '';
  let d: InProcessDaemon | undefined;
  beforeEach(() => {
    dir = makeTempDir('ref-errors');
    writeServiceScript(dir);
    writeStack(dir, { stack: 'referr', services: { web: nodeService('ref-errors') } });
  });
  afterEach(async () => {
    try {
      await d?.close();
    } finally {
      d = undefined;
      removeTempDir(dir);
    }
  });

  it('outside git: 400 / exit 2; an unknown ref: 404 / exit 1; no release is created', async () => {
    d = await startInProcess(dir);
    await d.api.waitAllHealthy(['web']);
    const releases = async () =>
      (await d?.api.json<{ releases: { seq: number }[] }>('GET', '/v1/services/web/releases'))?.releases.length;
    const before = await releases();

    const deploy = (ref: string) =>
      request(d?.api.url ?? '', 'POST', '/v1/services/web/deploy', {
        token: d?.api.token ?? '',
        body: JSON.stringify({ ref }),
      });
    const outside = await deploy('main');
    expect(outside.status).toBe(400);
    const e1 = (JSON.parse(outside.text) as ErrorAnswer).error;
    expect(e1.code).toBe('bad-request');
    expect(e1.message).toBe(`\`--ref main\` names a git commit, but ${dir} is not in a git repository`);
    expect(e1.fix).toContain('deploy without --ref');
    const cli1 = await runCli(['deploy', 'web', '--ref', 'main'], { cwd: dir });
    expect(cli1.code).toBe(2);
    expect(cli1.stderr).toContain('is not in a git repository');

    const git = (args: string[]) =>
      execFileSync('git', args, {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.test',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.test',
        },
      });
    git(['init', '-q', '-b', 'main']);
    git(['add', 'server.mjs', 'groundwork.yaml']);
    git(['commit', '-q', '-m', 'one']);
    const unknown = await deploy('no-such-branch');
    expect(unknown.status).toBe(404);
    expect((JSON.parse(unknown.text) as ErrorAnswer).error.message).toBe(
      `\`no-such-branch\` is not a commit, branch or tag of the git repository at ${dir}`,
    );
    const cli2 = await runCli(['deploy', 'web', '--ref', 'no-such-branch'], { cwd: dir });
    expect(cli2.code).toBe(1);
    expect(cli2.stderr).toContain('`git log --oneline` and `git branch -a` list what can be deployed');

    expect(await releases()).toBe(before);
  });
});
