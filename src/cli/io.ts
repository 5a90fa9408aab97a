/** What a command may touch: passed in, so tests run the CLI in-process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Whether stdout is a terminal (colours, live progress). */
  isTty: boolean;
  /** One line typed by the user after `prompt`; absent (or null) when stdin is not a terminal. */
  ask?: (prompt: string) => Promise<string | null>;
  /**
   * A secret value: typed without echo after `prompt` when stdin is a terminal, else all of stdin
   * (one trailing newline dropped). Absent: the CLI cannot read one (a value never comes from argv).
   */
  readSecret?: (prompt: string) => Promise<string>;
}

export const EXIT = { ok: 0, failed: 1, usage: 2, changes: 3, refused: 4 } as const;

export class UsageError extends Error {}
/** A failure whose message is complete and meant for the user (no stack trace). */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}
