/**
 * The CLI loads only the command it runs (src/cli/command-table.ts). Two things can go wrong: the
 * table's names and summaries drift from the commands', or a top-level import brings the whole
 * tree back. The first is checked by loading every entry and every command module; the second by
 * running the built CLI as a real process with a module hook that records each ES module it loads.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/cli/command.js';
import { COMMAND_TABLE } from '../../src/cli/command-table.js';
import { COMMANDS, registerCommands } from '../../src/cli/run.js';
import { runCli } from '../helpers/cli.js';
import { ensureBuilt, ROOT } from '../helpers/dist.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const COMMANDS_DIR = path.join(ROOT, 'src', 'cli', 'commands');

function isCommand(v: unknown): v is Command {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Partial<Record<keyof Command, unknown>>;
  return typeof c.name === 'string' && typeof c.summary === 'string' && typeof c.run === 'function';
}

describe('the command table', () => {
  it("names and summarises each command as the command's own module does", async () => {
    for (const entry of COMMAND_TABLE) {
      const command = await entry.load();
      expect({ name: command.name, summary: command.summary }, `table entry ${entry.name}`).toEqual({
        name: entry.name,
        summary: entry.summary,
      });
    }
  });

  it('lists every command that a module under src/cli/commands/ exports, once', async () => {
    const names = COMMAND_TABLE.map((e) => e.name);
    expect(new Set(names).size, 'a name twice in the table').toBe(names.length);
    const exported: string[] = [];
    for (const file of readdirSync(COMMANDS_DIR).filter((f) => f.endsWith('.ts'))) {
      const mod = (await import(path.join(COMMANDS_DIR, file))) as Record<string, unknown>;
      for (const value of Object.values(mod)) if (isCommand(value)) exported.push(value.name);
    }
    expect(exported.sort()).toEqual([...names].sort());
  });

  it('--help lists every command with its summary, in the order of the table', async () => {
    const dir = makeTempDir('lazy-help');
    try {
      const help = await runCli(['--help'], { cwd: dir });
      expect(help.code).toBe(0);
      const width = Math.max(...COMMAND_TABLE.map((e) => e.name.length)) + 2;
      const lines = help.stdout.split('\n').filter((l) => l.startsWith('  '));
      expect(lines).toEqual(COMMAND_TABLE.map((e) => `  ${e.name.padEnd(width)}${e.summary}`));
    } finally {
      removeTempDir(dir);
    }
  });

  it('registerCommands adds a loaded command that run() finds, lists and suggests', async () => {
    const before = COMMANDS.length;
    const extra: Command = {
      name: 'zz-lazy-test',
      summary: 'A command registered by this test',
      run: (argv, io) => {
        io.stdout(`ran with ${argv.join(' ')}\n`);
        return Promise.resolve(0);
      },
    };
    registerCommands([extra, { ...extra, name: 'plan', summary: 'must not replace plan' }]);
    try {
      expect(COMMANDS.length).toBe(before + 1);
      expect(COMMANDS.find((c) => c.name === 'plan')?.summary).toBe(
        COMMAND_TABLE.find((e) => e.name === 'plan')?.summary,
      );
      const dir = makeTempDir('lazy-register');
      try {
        const ran = await runCli(['zz-lazy-test', 'a', 'b'], { cwd: dir });
        expect(ran).toEqual({ code: 0, stdout: 'ran with a b\n', stderr: '' });
        const help = await runCli(['--help'], { cwd: dir });
        expect(help.stdout).toContain('zz-lazy-test  A command registered by this test');
        const typo = await runCli(['zz-lazy-tst'], { cwd: dir });
        expect(typo.code).toBe(2);
        expect(typo.stderr).toContain('did you mean `zz-lazy-test`?');
      } finally {
        removeTempDir(dir);
      }
    } finally {
      COMMANDS.splice(before);
    }
  });
});

const execFileP = promisify(execFile);

describe('the built CLI, as a process, loads only what the command needs', () => {
  let main: string;
  let dir: string;
  let register: string;

  beforeAll(() => {
    main = ensureBuilt();
    dir = makeTempDir('lazy-proc');
    // A module hook (node:module register) that appends the URL of every ES module loaded to a file.
    writeFileSync(
      path.join(dir, 'hooks.mjs'),
      [
        "import { appendFileSync } from 'node:fs';",
        'export async function load(url, context, next) {',
        "  if (url.startsWith('file:')) appendFileSync(process.env.GW_IMPORT_LOG, url + '\\n');",
        '  return next(url, context);',
        '}',
      ].join('\n'),
    );
    register = path.join(dir, 'register.mjs');
    writeFileSync(register, "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  });

  afterAll(() => removeTempDir(dir));

  /** Runs the CLI; returns its stdout and the loaded files, relative to the repository. */
  async function loadedBy(name: string, argv: string[]): Promise<{ stdout: string; files: string[] }> {
    const log = path.join(dir, `${name}.log`);
    writeFileSync(log, '');
    const { stdout } = await execFileP(process.execPath, ['--import', register, main, ...argv], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', GW_IMPORT_LOG: log },
    });
    const files = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((url) => path.relative(ROOT, fileURLToPath(url)))
      .filter((f) => !f.startsWith('..')); // the hook files themselves
    return { stdout, files };
  }

  const commandModules = (files: string[]): string[] =>
    files.filter((f) => f.startsWith(path.join('dist', 'cli', 'commands') + path.sep)).sort();
  const packages = (files: string[]): string[] => files.filter((f) => f.startsWith('node_modules' + path.sep));

  it('--version and --help load no command module and no package', async () => {
    for (const argv of [['--version'], ['--help']]) {
      const { stdout, files } = await loadedBy(argv.join(''), argv);
      expect(stdout).toMatch(argv[0] === '--version' ? /^groundwork \d/ : /Usage: groundwork COMMAND/);
      expect(files, 'the hook recorded nothing: is it still registered?').toContain(
        path.join('dist', 'cli', 'main.js'),
      );
      expect(commandModules(files), argv.join(' ')).toEqual([]);
      expect(packages(files), argv.join(' ')).toEqual([]);
      expect(files, argv.join(' ')).not.toContain(path.join('dist', 'security', 'secret-vault.js'));
    }
  });

  it("`validate --help` loads validate's module and no other command's", async () => {
    const { stdout, files } = await loadedBy('validate', ['validate', '--help']);
    expect(stdout).toContain('groundwork validate');
    // import.js comes through workspace.ts, which reads `-f compose.yaml` with it.
    expect(commandModules(files)).toEqual(
      ['import.js', 'validate.js'].map((f) => path.join('dist', 'cli', 'commands', f)),
    );
  });

  it('a command on a stack without an age identity does not load age-encryption (its output is still redacted)', async () => {
    writeFileSync(path.join(dir, 'groundwork.yaml'), 'stack: lazy\n');
    const { stdout, files } = await loadedBy('validate-stack', ['validate']);
    expect(stdout).toContain('is valid');
    // The redactor was made (it reads the secrets beside the stack) without the age decrypter.
    expect(files).toContain(path.join('dist', 'security', 'secret-vault.js'));
    expect(packages(files).filter((f) => f.includes(`${path.sep}age-encryption${path.sep}`))).toEqual([]);
  });
});
