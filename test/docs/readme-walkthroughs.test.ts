/**
 * The README's walkthroughs, run as written so they cannot drift from the product: each sh block
 * after a `<!-- walkthrough: NAME -->` marker is extracted and run with bash in a copy of the
 * example lab, started the way the quick start says (`groundwork up examples/homelab`, which is
 * what `npm run lab` runs after building).
 *
 * What the test changes in a block, and why (nothing else):
 * - `groundwork` is the README's shorthand for `node ../../dist/cli/main.js`: a script of that
 *   name on PATH, as `npm link` gives a reader.
 * - The lab's listener port 18080 becomes a free port, in the stack file and the commands, so the
 *   test does not collide with another test or a lab the developer is running.
 * - A command that follows (`-F`) runs for 6 s (a reader stops it with Ctrl-C; the CLI may take
 *   seconds to start on a loaded machine).
 * - `CMD; echo "exit $?"` (a command the walkthrough shows failing) becomes
 *   `CMD && echo "exit 0" || echo "exit $?"`, so that `set -e` fails the block on any other failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/dist.js';
import { httpGet } from '../helpers/http.js';
import { sweepLeftovers, describeLeftovers, settlesWithin } from '../helpers/leftovers.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { connectionNotReady, waitFor } from '../helpers/wait.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/**
 * The machine the quick start promises: no server to install. Docker is pointed at a socket that
 * does not exist, so the walkthroughs prove the process lab needs no engine (CI runs dockerd).
 */
const FRESH_ENV = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  NO_COLOR: '1',
  DOCKER_HOST: 'unix:///nonexistent/docker.sock',
};

/** The sh block after the marker `<!-- walkthrough: NAME ... -->`. */
export function walkthrough(markdown: string, name: string): string {
  const lines = markdown.split('\n');
  const at = lines.findIndex(
    (l) => l.startsWith(`<!-- walkthrough: ${name} `) || l === `<!-- walkthrough: ${name} -->`,
  );
  if (at < 0) throw new Error(`README.md has no walkthrough named ${name}`);
  if (lines[at + 1] !== '```sh')
    throw new Error(`walkthrough ${name}: the marker must be followed by a \`\`\`sh block`);
  const end = lines.indexOf('```', at + 2);
  if (end < 0) throw new Error(`walkthrough ${name}: the sh block is not closed`);
  return lines.slice(at + 2, end).join('\n');
}

/** The block as bash runs it in the test (see the file comment for each rewrite). */
export function runnable(block: string, listenerPort: number): string {
  const body = block
    .split('\n')
    .map((line) => {
      let l = line.replace(/\s+#\s.*$/, '').replace(/^#.*$/, '');
      l = l.replaceAll('18080', String(listenerPort));
      if (/\s-F(\s|$)/.test(l)) l = `timeout 6 ${l} || [ $? -eq 124 ]`;
      l = l.replace(/^(.*); echo "exit \$\?"$/, '$1 && echo "exit 0" || echo "exit $?"');
      return l;
    })
    .join('\n');
  return `set -euo pipefail\n${body}\n`;
}

interface BlockRun {
  code: number | null;
  out: string;
}

describe('README walkthroughs', () => {
  let root: string;
  let lab: string;
  let port: number;
  let up: ChildProcess | undefined;
  let upOut = '';
  let cli: string;
  let bin: string;

  /**
   * Runs a block with bash in `cwd`, `groundwork` on PATH. Asynchronously: the test's worker keeps
   * reading the lab's output meanwhile (a full pipe would stall the daemon).
   */
  const runBlock = (name: string, cwd: string): Promise<BlockRun> => {
    const script = runnable(walkthrough(README, name), port);
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', script], {
        cwd,
        env: { ...FRESH_ENV, PATH: `${bin}:${FRESH_ENV.PATH ?? ''}`, GROUNDWORK_AUTHOR: 'reader' },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
  };

  beforeAll(async () => {
    cli = ensureBuilt();
    port = await freePort();
    // The layout the README assumes: examples/homelab beside dist/.
    root = makeTempDir('readme');
    lab = path.join(root, 'examples', 'homelab');
    mkdirSync(path.dirname(lab), { recursive: true });
    cpSync(path.join(ROOT, 'examples', 'homelab'), lab, { recursive: true, filter: (p) => !p.includes('.groundwork') });
    symlinkSync(path.join(ROOT, 'dist'), path.join(root, 'dist'));
    bin = path.join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'groundwork'), `#!/bin/sh\nexec node ${JSON.stringify(cli)} "$@"\n`, { mode: 0o755 });
    const stack = path.join(lab, 'groundwork.yaml');
    // Every 18080: the listener, and the notify channel that reaches the lab's inbox through it.
    writeFileSync(stack, readFileSync(stack, 'utf8').replaceAll('18080', String(port)));

    // `npm run lab`, after its build.
    up = spawn(process.execPath, ['dist/cli/main.js', 'up', 'examples/homelab'], {
      cwd: root,
      env: FRESH_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    up.stdout?.on('data', (c: Buffer) => (upOut += c.toString()));
    up.stderr?.on('data', (c: Buffer) => (upOut += c.toString()));
    await waitFor(
      async () => {
        if (up?.exitCode !== null) throw new Error(`groundwork up exited ${up?.exitCode}:\n${upOut}`);
        const page = await httpGet(port, '/');
        return page.status === 200 && page.body.includes('<h1>My home lab</h1>');
      },
      { what: `the lab to serve its page on ${port}`, retryOn: connectionNotReady, timeoutMs: 60_000 },
    );
  }, 90_000);

  afterAll(async () => {
    if (up && up.exitCode === null) {
      const gone = new Promise((resolve) => up?.once('exit', resolve));
      up.kill('SIGTERM');
      await settlesWithin(gone, 10_000, 'groundwork up to stop on SIGTERM');
    }
    const left = await sweepLeftovers({ dir: root });
    removeTempDir(root);
    expect(describeLeftovers(left), 'left running after the walkthroughs').toBe('');
  }, 60_000);

  // The cases run in file order (vitest's default within a file): the quick start's `down` ends the lab.
  it('the API walkthrough reads the status with the daemon token', async () => {
    const r = await runBlock('api', lab);
    expect(r.code, r.out).toBe(0);
    const status = JSON.parse(r.out) as { services?: { name: string }[] };
    expect(JSON.stringify(status)).toContain('"web"');
  });

  it('the deploy walkthrough deploys, fails a bad release with an automatic rollback, and rolls back', async () => {
    const r = await runBlock('deploy', lab);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('<h1>My home lab</h1>');
    // The broken release exits non-zero and says it was rolled back, as the comment promises.
    expect(r.out).toContain('exit 1');
    expect(r.out).toMatch(/v3.*rolled back/s);
    expect(r.out).toMatch(/v2\s+active|v2.*active/);
    // The rollback paged the lab's own inbox (examples/homelab's notify channel), through the listener.
    await waitFor(async () => (await httpGet(port, '/inbox/')).body.includes('[FIRING] release-rolled-back'), {
      what: "the rollback's alert in the lab's inbox",
      timeoutMs: 30_000,
    });
    // web.mjs is back as it was (the walkthrough's own undo).
    expect(readFileSync(path.join(lab, 'services', 'web.mjs'), 'utf8')).toBe(
      readFileSync(path.join(ROOT, 'examples', 'homelab', 'services', 'web.mjs'), 'utf8'),
    );
  }, 150_000);

  it('the quick start shows status and logs, and `down` stops the services and the daemon', async () => {
    const r = await runBlock('quick-start', root);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^web\/0\s+healthy/m);
    // `logs web -F` printed what the web instances wrote at start.
    expect(r.out).toMatch(/web listening on 127.0.0.1:/);
    const exited = new Promise<number | null>((resolve) => {
      if (up?.exitCode !== null) resolve(up?.exitCode ?? null);
      else up?.once('exit', (c) => resolve(c));
    });
    expect(await settlesWithin(exited, 30_000, 'groundwork up to exit after down'), upOut).toBe(0);
    expect(existsSync(path.join(lab, '.groundwork', 'dataplane.pid'))).toBe(false);
  }, 60_000);
});
