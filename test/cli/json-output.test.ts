/**
 * "Every command has --json. Colours only on a terminal, never with NO_COLOR." Every command in
 * COMMANDS runs with --json in a prepared stack directory, first without a daemon and then with
 * one (`groundwork up --json` as its own process): stdout is one JSON document or JSON lines,
 * each parsing. The same commands in their human form, told stdout is a terminal but with
 * NO_COLOR=1, print no escape byte; on a terminal without NO_COLOR, plan is coloured.
 *
 * A command added to COMMANDS without a case here fails the last test.
 */
import { ensureBuilt } from '../helpers/dist.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/run.js';
import { runCli, STACK_FRAME, type CliResult } from '../helpers/cli.js';
import { httpService, writeServerScript } from '../helpers/lab.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { spawnUp, teardownSpawned, type SpawnedDaemon } from '../daemon/daemon-harness.js';

const ESC = '\u001b';

interface Run {
  argv: string[];
  daemon: boolean;
  r: CliResult;
}

/** Parses stdout as one JSON document, else as JSON lines; throws naming the line that is not JSON. */
function parseJsonOutput(stdout: string): unknown[] {
  try {
    return [JSON.parse(stdout) as unknown];
  } catch {
    return stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        try {
          return JSON.parse(l) as unknown;
        } catch (e) {
          throw new Error(`line ${i + 1} of stdout is not JSON (${(e as Error).message}): ${l}`);
        }
      });
  }
}

describe('--json on every command, and NO_COLOR', () => {
  let dir: string;
  let up: SpawnedDaemon | undefined;
  const runs: Run[] = [];
  const seen = new Set<string>();

  /**
   * `argv --json` (with a terminal and NO_COLOR=1), then `argv` in its human form the same way;
   * `before` runs ahead of each (e.g. a deploy, so that each rollback has a release to go back to).
   */
  async function both(
    argv: string[],
    daemon: boolean,
    expected: number | 'any' = 0,
    before?: () => Promise<void>,
  ): Promise<void> {
    seen.add(argv[0] as string);
    for (const a of [[...argv, '--json'], argv]) {
      await before?.();
      const r = await runCli(a, { cwd: dir, isTty: true, env: { NO_COLOR: '1' } });
      runs.push({ argv: a, daemon, r });
      if (expected !== 'any')
        expect(r.code, `groundwork ${a.join(' ')}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(
          expected,
        );
    }
  }

  const deployOnce = async () => {
    const r = await runCli(['deploy', 'web', '-m', 'to roll back from'], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  };

  beforeAll(async () => {
    dir = makeTempDir('json');
    writeServerScript(dir);
    writeStack(dir, { stack: 'jsonlab', services: { web: httpService() }, secrets: { 'api-key': {} } });
  });

  afterAll(async () => {
    try {
      await teardownSpawned(dir, up);
    } finally {
      removeTempDir(dir);
    }
  });

  it('without a daemon: every command that can run without one', async () => {
    // init writes into a new directory each time (it refuses to overwrite a stack file).
    seen.add('init');
    for (const [sub, flags] of [
      ['fresh-json', ['--json']],
      ['fresh-text', []],
    ] as const) {
      mkdirSync(path.join(dir, sub));
      const argv = ['init', sub, ...flags];
      const r = await runCli(argv, { cwd: dir, isTty: true, env: { NO_COLOR: '1' } });
      runs.push({ argv, daemon: false, r });
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    await both(['validate'], false);
    mkdirSync(path.join(dir, 'compose-src'));
    writeFileSync(path.join(dir, 'compose-src', 'compose.yaml'), 'services:\n  web:\n    image: nginx:1.25\n');
    await both(['import', 'compose', 'compose-src/compose.yaml', '--out', 'compose-out'], false);
    await both(['ca', 'export'], false);
    // schema prints JSON Schema, so it has no --json flag (README says every command has one:
    // a correction listed for the lead). Its output must parse all the same.
    seen.add('schema');
    const schema = await runCli(['schema'], { cwd: dir, isTty: true, env: { NO_COLOR: '1' } });
    expect(schema.code, schema.stderr).toBe(0);
    runs.push({ argv: ['schema', '(JSON without --json)'], daemon: false, r: schema });
    await both(['plan'], false);
    await both(['apply', '-m', 'first'], false);
    await both(['refresh'], false);
    await both(['history'], false);
    await both(['show', '1'], false);
    await both(['unlock'], false);
    await both(['state', 'check'], false);
    await both(['state', 'backup'], false);
    await both(['state', 'backups'], false);
    ensureBuilt(); // the unit names the compiled CLI
    await both(['service', 'print'], false);
    // exec prints what the command prints: like schema, no --json (asking for it is a usage error).
    seen.add('exec');
    expect((await runCli(['exec', 'web', '--json', '--', 'true'], { cwd: dir })).code).toBe(2);
    await both(['secret', 'init'], false);
    await both(['secret', 'list'], false);
    await both(['token', 'create', '--role', 'viewer'], false);
    await both(['token', 'list'], false);
    await both(['audit'], false);
    await both(['audit', 'verify'], false);
    await both(['releases', 'web'], false);
    await both(['deploy', 'web', '-m', 'second'], false);
    await both(['rollback', 'web'], false, 0, deployOnce);
    await both(['decision', 'new', 'Keep state in SQLite'], false);
    await both(['decision', 'list'], false);
    await both(['change', 'request', 'deploy', 'web', '-m', 'json test', '--decision', '1'], false);
    await both(['change', 'list'], false);
    await both(['change', 'show', '1'], false);
    // Its author approving it is refused (exit 1, the reason on stderr); stdout stays JSON or empty.
    await both(['change', 'approve', '1'], false, 'any');
    // A rotation's request is made beside the secrets file (versions only), daemon or not.
    await both(['change', 'request', 'rotate', 'api-key', '-m', 'json test'], false);
    // No Swarm here: a clear failure, whose stdout must still be JSON or empty.
    await both(['nodes'], false, 'any');
    // Without a daemon, status answers from recorded state (or says no daemon runs): JSON either way.
    await both(['status'], false, 'any');
    await both(['checks'], false);
    await both(['alerts'], false);
    await both(['alerts', 'export', '--prometheus'], false);
    // No daemon has run: no metrics file yet, a clear failure whose stdout is still JSON.
    await both(['query', 'groundwork_check_up'], false, 'any');
    await both(['silence', 'add', 'service=web', '--for', '10m', '-m', 'json test'], false);
    await both(['silence', 'list'], false);
    await both(['incident', 'list'], false);
    // No incident has happened: a clear failure whose stdout is still JSON or empty.
    await both(['incident', 'show', '1'], false, 'any');
    await both(['oncall', 'who'], false);
    await both(['incident', 'stats'], false);
    // The first run ends silence 1; its twin finds none in force (exit 1, an error on stderr).
    await both(['silence', 'expire', '1'], false, 'any');
    // Every operation runs without a daemon too (one code path in core).
    await both(['logs', 'web'], false);
    await both(['logs', '--service', 'web', '--grep', '/./'], false);
    await both(['restart', 'web'], false);
    // The first run scales to 2, its human-form twin finds nothing to do.
    await both(['scale', 'web', '2'], false);
    // Back to the stack file's count, so `up` below finds nothing to apply.
    const back = await runCli(['scale', 'web', '1'], { cwd: dir });
    expect(back.code, back.stdout + back.stderr).toBe(0);
  });

  it('with a daemon: up --json prints JSON lines; the commands that need it answer in JSON', async () => {
    seen.add('up');
    up = await spawnUp(dir);
    await up.api.waitAllHealthy(['web']);
    await both(['status'], true);
    await both(['checks'], true);
    await both(['alerts'], true);
    await both(['incident', 'list'], true);
    await both(['oncall', 'who'], true);
    await both(['query', 'groundwork_check_up'], true);
    await both(['query', 'groundwork_check_up', '--range', '5m'], true);
    await both(['logs', 'web'], true);
    await both(['logs', '--service', 'web', '--since', '10m', '--grep', 'listen'], true);
    await both(['plan'], true);
    await both(['apply', '-m', 'through the daemon'], true);
    await both(['restart', 'web'], true);
    await both(['releases', 'web'], true);
    await both(['deploy', 'web', '-m', 'through the daemon'], true);
    await both(['rollback', 'web'], true, 0, deployOnce);
    await both(['scale', 'web', '2'], true);
    await both(['history'], true);
    await both(['change', 'list'], true);
    await both(['change', 'show', '1'], true);
    // destroy removes the service (the twin finds nothing to destroy); down then stops the daemon.
    await both(['destroy', '--auto-approve'], true);
    // down stops the daemon; its human-form twin then finds none (exit 1).
    seen.add('down');
    const down = await runCli(['down', '--json'], { cwd: dir, isTty: true, env: { NO_COLOR: '1' } });
    runs.push({ argv: ['down', '--json'], daemon: true, r: down });
    expect(down.code, down.stderr).toBe(0);
    expect(await up.exited).toBe(0);
    const upLines = parseJsonOutput(up.stdout());
    expect(upLines[0]).toMatchObject({ type: 'ready' });
    up = undefined;
  });

  it('every --json stdout parses as JSON (one document or JSON lines), and is not empty when the command succeeded', () => {
    const bad: string[] = [];
    const json = runs.filter((x) => x.argv.includes('--json') || x.argv.includes('(JSON without --json)'));
    for (const { argv, daemon, r } of json) {
      const what = `groundwork ${argv.join(' ')}${daemon ? ' (daemon)' : ''} exit ${r.code}`;
      if (r.code === 0 && r.stdout.trim() === '') bad.push(`${what}: empty stdout`);
      try {
        parseJsonOutput(r.stdout);
      } catch (e) {
        bad.push(`${what}: ${(e as Error).message}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('with NO_COLOR=1 on a terminal no output has an escape byte, and none has a stack trace', () => {
    const coloured = runs.filter(({ r }) => (r.stdout + r.stderr).includes(ESC)).map(({ argv }) => argv.join(' '));
    expect(coloured).toEqual([]);
    for (const { argv, r } of runs) expect(r.stdout + r.stderr, argv.join(' ')).not.toMatch(STACK_FRAME);
  });

  it('on a terminal without NO_COLOR, plan is coloured; not on a pipe', async () => {
    writeStack(dir, { stack: 'jsonlab', services: { web: httpService(), other: httpService() } });
    const tty = await runCli(['plan'], { cwd: dir, isTty: true, env: { NO_COLOR: undefined } });
    expect(tty.code, tty.stderr).toBe(0);
    expect(tty.stdout).toContain(ESC);
    const pipe = await runCli(['plan'], { cwd: dir, isTty: false, env: { NO_COLOR: undefined } });
    expect(pipe.stdout).not.toContain(ESC);
  });

  it('covers every command in COMMANDS', () => {
    expect(
      COMMANDS.map((c) => c.name).filter((n) => !seen.has(n)),
      'commands without a --json case here',
    ).toEqual([]);
  });
});
