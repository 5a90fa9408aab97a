/** The CLI entry, callable in-process: `run(argv, io)` returns the exit code. */
import path from 'node:path';
import { Redactor } from '../security/redact.js';
import { redactorForStack } from '../security/secret-vault.js';
import { OperationError, type OperationErrorCode } from '../core/errors.js';
import { didYouMean } from '../util/did-you-mean.js';
import { errorMessage } from '../util/error-message.js';
import type { Command } from './command.js';
import { EXIT, UsageError, UserError, type CliIo } from './io.js';
import { applyCommand } from './commands/apply.js';
import { historyCommand, showCommand } from './commands/history.js';
import { initCommand } from './commands/init.js';
import { planCommand } from './commands/plan.js';
import { refreshCommand } from './commands/refresh.js';
import { unlockCommand } from './commands/unlock.js';
import { validateCommand } from './commands/validate.js';
import { schemaCommand } from './commands/schema.js';
import { upCommand } from './commands/up.js';
import { statusCommand } from './commands/status.js';
import { checksCommand } from './commands/checks.js';
import { logsCommand } from './commands/logs.js';
import { execCommand } from './commands/exec.js';
import { serviceCommand } from './commands/service.js';
import { downCommand, restartCommand } from './commands/restart.js';
import { scaleCommand } from './commands/scale.js';
import { deployCommand, releasesCommand, rollbackCommand } from './commands/deploy.js';
import { nodesCommand } from './commands/nodes.js';
import { stateCommand } from './commands/state.js';
import { destroyCommand } from './commands/destroy.js';
import { importCommand } from './commands/import.js';
import { secretCommand } from './commands/secret.js';
import { caCommand } from './commands/ca.js';
import { alertsCommand, silenceCommand } from './commands/alerts.js';
import { incidentCommand, oncallCommand } from './commands/incident.js';
import { queryCommand } from './commands/query.js';
import { tokenCommand } from './commands/token.js';
import { auditCommand } from './commands/audit.js';
import { changeCommand } from './commands/change.js';
import { decisionCommand } from './commands/decision.js';

export const COMMANDS: Command[] = [
  initCommand,
  validateCommand,
  planCommand,
  applyCommand,
  refreshCommand,
  upCommand,
  serviceCommand,
  statusCommand,
  checksCommand,
  logsCommand,
  execCommand,
  restartCommand,
  scaleCommand,
  downCommand,
  destroyCommand,
  deployCommand,
  rollbackCommand,
  releasesCommand,
  nodesCommand,
  historyCommand,
  showCommand,
  unlockCommand,
  stateCommand,
  caCommand,
  alertsCommand,
  silenceCommand,
  incidentCommand,
  oncallCommand,
  queryCommand,
  tokenCommand,
  auditCommand,
  changeCommand,
  decisionCommand,
  schemaCommand,
  importCommand,
  secretCommand,
];

export function registerCommands(extra: Command[]): void {
  for (const c of extra) if (!COMMANDS.some((x) => x.name === c.name)) COMMANDS.push(c);
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
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
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
  const redactor = shows ? Redactor.none : await cliRedactor(io, rest);
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
