/**
 * `groundwork deploy SERVICE --ref REF` and the release builder: in a git repository with two
 * commits whose code differs, deploying the first commit runs that commit's code (built by the
 * service's build command in its own release directory), while the working tree holds the
 * second; an unknown ref fails with a clear message and leaves what runs alone; a deploy without
 * --ref takes the working tree again.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, runCliOk, STACK_FRAME } from '../helpers/cli.js';
import { httpGet, waitForHttp } from '../helpers/http.js';
import { teardownStack } from '../helpers/lab.js';
import { writeStack } from '../helpers/stack-file.js';
import { instancesOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const STACK = 'refs';

/** Answers with the code's version and what its build wrote. */
const SERVER = `import http from 'node:http';
import { readFileSync } from 'node:fs';
const version = readFileSync('version.txt', 'utf8').trim();
const built = readFileSync('built.txt', 'utf8').trim();
http.createServer((req, res) => res.end(\`\${version} \${built}\\n\`)).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

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

describe('deploy --ref', () => {
  let dir: string;
  const answer = async () => {
    const [inst] = instancesOf(dir, 'web');
    return (await httpGet(inst?.ports.http as number, '/')).body.trim();
  };

  beforeEach(() => {
    dir = makeTempDir('ref');
    git(dir, ['init', '-q', '-b', 'main']);
    writeFileSync(path.join(dir, '.gitignore'), '.groundwork/\nbuilt.txt\n');
    writeFileSync(path.join(dir, 'server.mjs'), SERVER);
    writeStack(dir, {
      stack: STACK,
      services: {
        web: {
          command: 'node',
          args: ['server.mjs'],
          build: { command: 'echo "built-$(cat version.txt)" > built.txt' },
          ports: { http: 'auto' },
          env: { PORT: '${port.http}' },
          health: { http: { path: '/' }, interval: '500ms', timeout: '1s' },
          stop_grace: '2s',
        },
      },
    });
    for (const v of ['v1', 'v2']) {
      writeFileSync(path.join(dir, 'version.txt'), `${v}\n`);
      git(dir, ['add', '-A']);
      git(dir, ['commit', '-q', '-m', v]);
    }
    // The working tree's own build output, so the first apply (which runs the working tree) can start.
    writeFileSync(path.join(dir, 'built.txt'), 'built-in-tree\n');
  });

  afterEach(async () => {
    try {
      await teardownStack(dir, STACK);
    } finally {
      removeTempDir(dir);
    }
  });

  it("deploying the first commit runs that commit's code, built in its release directory", async () => {
    const first = git(dir, ['rev-parse', 'HEAD~1']);
    await runCliOk(['apply'], { cwd: dir });
    expect(await answer()).toBe('v2 built-in-tree');

    const r = await runCliOk(['deploy', 'web', '--ref', first, '-m', 'back to v1'], { cwd: dir });
    expect(r.stdout + r.stderr).not.toMatch(STACK_FRAME);
    const [inst] = instancesOf(dir, 'web');
    await waitForHttp(inst?.ports.http as number, '/', (b) => b.startsWith('v1'), 'the v1 release to answer');
    expect(await answer()).toBe('v1 built-v1');
    // It runs from its release directory, which holds the first commit's files and its build output.
    const codeDir = inst?.codeDir as string;
    expect(codeDir).toContain(path.join('.groundwork', 'releases', 'web'));
    expect(readFileSync(path.join(codeDir, 'version.txt'), 'utf8')).toBe('v1\n');
    expect(readFileSync(path.join(codeDir, 'built.txt'), 'utf8')).toBe('built-v1\n');
    // The working tree is untouched.
    expect(readFileSync(path.join(dir, 'version.txt'), 'utf8')).toBe('v2\n');
    const listed = JSON.parse((await runCliOk(['releases', 'web', '--json'], { cwd: dir })).stdout) as {
      current: number;
      releases: { seq: number; source: string; status: string }[];
    };
    const current = listed.releases.find((x) => x.seq === listed.current);
    expect(current).toMatchObject({ source: `git ${first}@${first.slice(0, 7)}`, status: 'active' });

    // An unknown ref: a clear error, and v1 keeps running.
    const bad = await runCli(['deploy', 'web', '--ref', 'no-such-branch'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr + bad.stdout).toContain('`no-such-branch` is not a commit');
    expect(bad.stderr + bad.stdout).not.toMatch(STACK_FRAME);
    expect(await answer()).toBe('v1 built-v1');

    // Without --ref: the working tree (v2), built again in a new release.
    await runCliOk(['deploy', 'web', '-m', 'the working tree'], { cwd: dir });
    expect(await answer()).toBe('v2 built-v2');
  });
});
