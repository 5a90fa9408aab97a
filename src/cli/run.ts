/** The CLI entry, callable in-process: `run(argv, io)` returns the exit code. */
import path from 'node:path';
import { Redactor } from '../security/redact.js';
import { OperationError, type OperationErrorCode } from '../core/errors.js';
import { didYouMean } from '../util/did-you-mean.js';
import { errorMessage } from '../util/error-message.js';
import type { Command } from './command.js';
import { COMMAND_TABLE, loadedEntry, type CommandEntry } from './command-table.js';
import { EXIT, UsageError, UserError, type CliIo } from './io.js';

/**
 * The commands by name and summary; each module is imported only when its command runs
 * (command-table.ts says why).
 */
export const COMMANDS: CommandEntry[] = [...COMMAND_TABLE];

/** Adds commands already loaded (an embedder's or a test's); a name the CLI knows keeps its own. */
export function registerCommands(extra: Command[]): void {
  for (const c of extra) if (!COMMANDS.some((x) => x.name === c.name)) COMMANDS.push(loadedEntry(c));
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'groundwork - declare, plan, apply and run your infrastructure',
    '',
    'Usage: groundwork COMMAND [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `groundwork COMMAND --help` for the flags of a command.',
    'Exit codes: 0 ok, 1 failed, 2 usage error, 3 plan has changes (--exit-code), 4 refused (lock held, stale plan).',
    '',
  ].join('\n');
}

/** Exit codes of the operations' refusals and failures (see the README's exit codes). */
const EXIT_OF: Record<OperationErrorCode, number> = {
  'invalid-stack': EXIT.failed,
  'not-found': EXIT.failed,
  refused: EXIT.refused,
  // A request the caller got wrong (a flag's value, an operation the service cannot do): as a usage error.
  'bad-request': EXIT.usage,
  unavailable: EXIT.failed,
  forbidden: EXIT.failed,
};

function redacting(write: (t: string) => void, r: Redactor): (t: string) => void {
  return (t) => write(r.redact(t));
}

/** The redactor for the stack the command names (-f, --state-dir) or the current directory; none when unsure. */
async function cliRedactor(io: CliIo, args: string[]): Promise<Redactor> {
  const flag = (long: string, short?: string): string | undefined => {
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as string;
      if (a === `--${long}` || (short && a === `-${short}`)) return args[i + 1];
      if (a.startsWith(`--${long}=`)) return a.slice(long.length + 3);
    }
    return undefined;
  };
  // Loaded here, not at the top: it brings the age decrypter, which --help and --version never need.
  // Outside the try: a module that fails to load is a broken install, never "no secrets to hide".
  const { redactorForStack } = await import('../security/secret-vault.js');
  try {
    const file = flag('file', 'f');
    const stateDir = flag('state-dir');
    return await redactorForStack({
      target: path.resolve(io.cwd, file ?? '.'),
      ...(stateDir !== undefined ? { stateDir: path.resolve(io.cwd, stateDir) } : {}),
      env: io.env,
    });
  } catch {
    return Redactor.none;
  }
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === 'version') {
    io.stdout('groundwork 0.1.0\n');
    return EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    const guess = didYouMean(
      name,
      COMMANDS.map((c) => c.name),
    );
    io.stderr(
      `unknown command \`${name}\`${guess ? `; did you mean \`${guess}\`?` : ''}\nRun \`groundwork --help\` for the list.\n`,
    );
    return EXIT.usage;
  }
  // Everything the CLI prints is redacted of the secret values it can know (the encrypted file
  // decrypted with this installation's identity, GROUNDWORK_SECRET_*, plaintext secret files),
  // except the one output meant to show a value: `secret get`.
  const shows = name === 'secret' && rest[0] === 'get';
  // The command's module loads while the redactor reads the secrets (both wait on the disk).
  const [command, redactor] = await Promise.all([entry.load(), shows ? Redactor.none : cliRedactor(io, rest)]);
  if (!redactor.empty) io = { ...io, stdout: redacting(io.stdout, redactor), stderr: redacting(io.stderr, redactor) };
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`error: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof UserError) {
      if (e.message) io.stderr(`error: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof OperationError) {
      io.stderr(`error: ${e.message}${e.fix ? `\n  fix: ${e.fix}` : ''}\n`);
      return EXIT_OF[e.code];
    }
    // An unexpected failure: say so plainly; the stack only with GROUNDWORK_DEBUG.
    io.stderr(`error: ${errorMessage(e)}\n`);
    if (io.env.GROUNDWORK_DEBUG && e instanceof Error) io.stderr(`${e.stack ?? ''}\n`);
    return EXIT.failed;
  }
}
