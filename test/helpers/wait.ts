/**
 * Polling with a deadline instead of sleeps: tests wait for a condition, never for a time.
 *
 * A probe that throws fails the wait at once: a fatal condition (the process under test exited,
 * a route answered 500, a file is corrupt) must not turn into a 30 s timeout. A probe that is
 * expected to throw for a while (a connection refused while a server starts) says so with
 * `retryOn`, naming exactly which errors are transient.
 */

/** Which thrown errors mean "not yet" rather than "failed"; see the predicates below. */
export type TransientError = (e: unknown) => boolean;

export interface WaitOptions {
  /** What is awaited, for the error message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Errors the probe may throw while the condition is not yet reachable; any other throw fails at once. */
  retryOn?: TransientError;
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A TCP connection that was refused, reset or timed out: a server that is starting or restarting. */
export const connectionNotReady: TransientError = (e) =>
  ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(codeOf(e) ?? '') ||
  /socket hang up|no answer from|no answer within/.test(messageOf(e));

/** A SQLite file another process has not created yet, or holds a write lock on. */
export const sqliteNotReady: TransientError = (e) =>
  ['SQLITE_CANTOPEN', 'SQLITE_BUSY'].includes(codeOf(e) ?? '') ||
  /unable to open database file|Cannot open database because the (directory|file) does not exist|database is locked|no such table/.test(
    messageOf(e),
  );

/** Either of the given kinds. */
export function anyOf(...kinds: TransientError[]): TransientError {
  return (e) => kinds.some((k) => k(e));
}

/** Calls `probe` until it returns something other than undefined/false; throws at the deadline or on a non-transient error. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (!opts.retryOn?.(e)) {
        const err = new Error(`while waiting for ${opts.what}: ${messageOf(e)}`);
        err.cause = e;
        throw err;
      }
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
  const why = lastError === undefined ? '' : ` (last transient error: ${messageOf(lastError)})`;
  throw new Error(`timed out after ${opts.timeoutMs ?? 20_000} ms waiting for ${opts.what}${why}`);
}
