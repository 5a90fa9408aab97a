/**
 * The CLI's manners: unknown commands and flags get a did-you-mean and exit 2, every command has
 * --help, `init` writes a stack that validates and plans, `validate --json` reports diagnostics as
 * JSON, and no output ever carries a stack trace.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/run.js';
import type { Diagnostic } from '../../src/config/diagnostic.js';
import type { Plan } from '../../src/engine/plan.js';
import { jsonOf, runCli, STACK_FRAME, type CliResult } from '../helpers/cli.js';
import { killProcessesUnder } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('CLI usage', () => {
  let dir: string;
  const seen: { argv: string[]; r: CliResult }[] = [];
  const cli = async (argv: string[]) => {
    const r = await runCli(argv, { cwd: dir });
    seen.push({ argv, r });
    return r;
  };

  beforeEach(() => {
    dir = makeTempDir('usage');
    seen.length = 0;
  });

  afterEach(async () => {
    // No output of any command in the test has a stack frame in it.
    for (const { argv, r } of seen) {
      expect(r.stdout + r.stderr, `output of groundwork ${argv.join(' ')}`).not.toMatch(STACK_FRAME);
    }
    // Nothing here applies, so nothing may be running.
    expect(await killProcessesUnder(dir)).toBe(0);
    removeTempDir(dir);
  });

  it.each([
    ['aply', 'apply'],
    ['plam', 'plan'],
    ['valdate', 'validate'],
    ['histroy', 'history'],
  ])('unknown command %s suggests %s (exit 2)', async (typo, meant) => {
    const r = await cli([typo]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`unknown command \`${typo}\``);
    expect(r.stderr).toContain(`did you mean \`${meant}\`?`);
    expect(r.stdout).toBe('');
  });

  it.each([
    [['restart', 'frontend', 'backend'], '`backend`', 'restart takes SERVICE'],
    [['status', 'extra'], '`extra`', 'status takes no arguments'],
    [['history', 'foo'], '`foo`', 'history takes no arguments'],
    [['apply', 'now'], '`now`', 'apply takes REQUEST|PLANFILE'],
    [['deploy', 'web', 'api'], '`api`', 'deploy takes SERVICE'],
    [['validate', 'a.yaml', 'b.yaml'], '`b.yaml`', 'validate takes FILE'],
  ])('a stray argument is a usage error, never ignored: %j', async (argv, stray, says) => {
    const r = await cli(argv);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(stray);
    expect(r.stderr).toContain(says);
    expect(r.stderr).toContain('usage: groundwork');
  });

  it('validate FILE and plan DIR take the path they are given; a missing one is an error, not the current folder', async () => {
    writeFileSync(path.join(dir, 'groundwork.yaml'), 'stack: here\n');
    mkdirSync(path.join(dir, 'other'));
    writeFileSync(path.join(dir, 'other', 'groundwork.yaml'), 'stack: other\nvolumes: { v: { path: ./v } }\n');
    const missing = await cli(['validate', '/nonexistent']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('/nonexistent');
    const other = await cli(['validate', 'other']);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toContain(path.join('other', 'groundwork.yaml'));
    const plan = await cli(['plan', 'other', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(jsonOf<Plan>(plan).summary.create).toBe(1);
    const both = await cli(['validate', 'other', '-f', 'groundwork.yaml']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give the stack file once');
  });

  it('an unknown command unlike any other still exits 2 and points at --help', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('groundwork --help');
  });

  it.each([
    [['plan', '--exit-cod'], '--exit-code'],
    [['apply', '--paralelism', '2'], '--parallelism'],
    [['validate', '--jsn'], '--json'],
    [['unlock', '--forse'], '--force'],
  ])('unknown flag in %j suggests %s (exit 2)', async (argv, meant) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`did you mean ${meant}?`);
  });

  it('no arguments prints usage and exits 2; --help exits 0', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('Usage: groundwork COMMAND');
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toContain(c.name);
  });

  it('every command has --help (exit 0) naming itself and its flags', async () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(9);
    for (const c of COMMANDS) {
      for (const flag of ['--help', '-h']) {
        const r = await cli([c.name, flag]);
        expect(r.code, `groundwork ${c.name} ${flag}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`groundwork ${c.name}`);
        expect(r.stdout).toContain('Usage:');
        expect(r.stdout).toContain('--help');
      }
    }
    // Help never touches state.
    expect(existsSync(path.join(dir, '.groundwork'))).toBe(false);
  });

  it('init writes a groundwork.yaml that validates and plans', async () => {
    const r = await cli(['init', '--name', 'starter']);
    expect(r.code).toBe(0);
    const file = path.join(dir, 'groundwork.yaml');
    expect(readFileSync(file, 'utf8')).toContain('stack: starter');
    const v = await cli(['validate']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('is valid');
    const p = await cli(['plan', '--json']);
    expect(p.code, p.stderr).toBe(0);
    const plan = jsonOf<Plan>(p);
    expect(plan.stack).toBe('starter');
    expect(plan.steps.length).toBeGreaterThan(0);
    expect(plan.steps.every((s) => s.action === 'create')).toBe(true);
    expect((await cli(['plan'])).code).toBe(0);

    // A second init refuses to overwrite, and says how.
    const again = await cli(['init']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
  });

  it('init DIR creates the folder; its commented listener and route validate once uncommented', async () => {
    const r = await cli(['init', 'new/lab']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Created ${path.join(dir, 'new', 'lab')}.`);
    const file = path.join(dir, 'new', 'lab', 'groundwork.yaml');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('stack: lab');
    // Uncomment the listener and route block: still valid, and the route is served on the listener.
    const lines = text.split('\n');
    const from = lines.findIndex((l) => l === '# listeners:');
    expect(from).toBeGreaterThan(0);
    for (let i = from; i < lines.length; i++) lines[i] = (lines[i] as string).replace(/^# ?/, '');
    writeFileSync(file, lines.join('\n'));
    const v = await cli(['validate', '-f', file, '--json']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const p = jsonOf<Plan>(await cli(['plan', '-f', file, '--json']));
    expect(p.steps.map((s) => s.address)).toEqual(expect.arrayContaining(['listener.web', 'route.0']));
  });

  it('validate --json on a bad file gives JSON diagnostics and exit 1', async () => {
    writeFileSync(
      path.join(dir, 'groundwork.yaml'),
      'stack: bad\nservices:\n  web:\n    command: x\n    replica: 2\n  db: {}\n',
    );
    const r = await cli(['validate', '--json']);
    expect(r.code).toBe(1);
    const out = jsonOf<{ valid: boolean; diagnostics: Diagnostic[] }>(r);
    expect(out.valid).toBe(false);
    expect(out.diagnostics.length).toBeGreaterThanOrEqual(2);
    const replica = out.diagnostics.find((d) => d.message.includes('replica'));
    expect(replica).toMatchObject({ severity: 'error', line: 5 });
    expect(replica?.fix).toContain('replicas');
    for (const d of out.diagnostics) {
      expect(d.file).toBe(path.join(dir, 'groundwork.yaml'));
      expect(d.line).toBeGreaterThan(0);
      expect(d.column).toBeGreaterThan(0);
      expect(d.fix?.length).toBeGreaterThan(0);
    }
    // The human form says the same on stderr.
    const human = await cli(['validate']);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/groundwork\.yaml:5:\d+/);
    // Commands that need a model refuse the same file with exit 1, also as JSON when asked.
    const plan = await cli(['plan', '--json']);
    expect(plan.code).toBe(1);
    expect(jsonOf<{ valid: boolean }>(plan).valid).toBe(false);
  });

  it('bad input anywhere gets a message, not a stack trace', async () => {
    const cases: [string[], number][] = [
      [['validate'], 1], // no stack file
      [['plan'], 1],
      [['apply', '-f', 'nope.yaml'], 1],
      [['show'], 2],
      [['show', 'abc'], 2],
      [['history', '--limit'], 2],
      [['plan', '--json=maybe'], 2],
    ];
    for (const [argv, code] of cases) {
      const r = await cli(argv);
      expect(r.code, `groundwork ${argv.join(' ')}: ${r.stdout}${r.stderr}`).toBe(code);
      expect(r.stderr.length, `groundwork ${argv.join(' ')} says why`).toBeGreaterThan(0);
    }
    writeFileSync(path.join(dir, 'groundwork.yaml'), 'stack: fine\n');
    const noValue = await cli(['plan', '--var', 'novalue']);
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toContain('--var needs NAME=VALUE');
    expect((await cli(['show', '7'])).stderr).toContain('there is no change #7');
    const unknownVar = await cli(['plan', '--var', 'nope=1']);
    expect(unknownVar.code).toBe(1);
    expect(unknownVar.stderr).toContain('--var nope');

    // A state directory that is not a database.
    mkdirSync(path.join(dir, 'broken'));
    writeFileSync(
      path.join(dir, 'broken', 'state.db'),
      'this is not sqlite, just text that is long enough to look like a header '.repeat(20),
    );
    const broken = await cli(['history', '--state-dir', 'broken']);
    expect(broken.code).toBe(1);
    // The message names the file and what is wrong with it.
    expect(broken.stderr).toContain(`the state store ${path.join(dir, 'broken', 'state.db')} is damaged`);
  });
});
