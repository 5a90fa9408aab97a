/** The CLI in-process: `run(argv, io)` with an io that captures everything it writes. */
import { run } from '../../src/cli/run.js';
import type { CliIo } from '../../src/cli/io.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** Added to a small fixed environment (PATH, HOME, NO_COLOR, GROUNDWORK_AUTHOR); undefined removes one. */
  env?: Record<string, string | undefined>;
  /** Whether the CLI is told stdout is a terminal (default false). */
  isTty?: boolean;
  /** Answers to the CLI's questions, in order (a terminal user typing); absent: no terminal to ask on. */
  answers?: string[];
}

export function testEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', GROUNDWORK_AUTHOR: 'tester', ...extra };
}

export async function runCli(argv: string[], opts: CliOptions): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: testEnv(opts.env),
    cwd: opts.cwd,
    isTty: opts.isTty ?? false,
  };
  if (opts.answers) {
    const answers = [...opts.answers];
    io.ask = (prompt) => {
      stdout += prompt;
      return Promise.resolve(answers.shift() ?? null);
    };
  }
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** Like runCli, but fails with both streams in the message when the exit code is not the expected one. */
export async function runCliOk(argv: string[], opts: CliOptions, expectedCode = 0): Promise<CliResult> {
  const r = await runCli(argv, opts);
  if (r.code !== expectedCode) {
    throw new Error(
      `groundwork ${argv.join(' ')} exited ${r.code}, expected ${expectedCode}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
    );
  }
  return r;
}

/** Parses stdout as JSON (the --json form of a command). */
export function jsonOf<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new Error(`stdout is not JSON (${(e as Error).message}):\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
}

/** `apply --json` prints one event per line; the last is change-end with the result. */
export function jsonLinesOf<T>(r: CliResult): T[] {
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** A Node or V8 stack frame line, which a user must never see. */
export const STACK_FRAME = /^\s{4}at /m;
