/**
 * Log-pattern rules (`alerts.NAME.logs`): an alert fires while at least `threshold` lines of a
 * service's log matching `pattern` were written within the last `window`. This file is the pure
 * part: reading the pattern, and counting matches in a sliding window against a clock. Where the
 * lines come from (the instances' log files, followed from a cursor) is core/alerting.ts's job.
 */

/** How a pattern is matched: a substring as written, or a regular expression written /like this/flags. */
export type LogPattern = { kind: 'text'; text: string } | { kind: 'regex'; regex: RegExp };

export class LogPatternError extends Error {}

const REGEX_LITERAL = /^\/(.*)\/([a-z]*)$/s;
/** Flags that make sense for matching one line at a time (g and y would make test() stateful). */
const LINE_FLAGS = /^[imsu]*$/;

/** `ERROR` matches lines containing ERROR; `/timeout|refused/i` is a regular expression. */
export function parseLogPattern(source: string): LogPattern {
  const m = REGEX_LITERAL.exec(source);
  if (!m) {
    if (source === '') throw new LogPatternError('the pattern is empty: it would match every line');
    return { kind: 'text', text: source };
  }
  const [, body = '', flags = ''] = m;
  if (!LINE_FLAGS.test(flags))
    throw new LogPatternError(`the flags '${flags}' of /${body}/ are not allowed here: use i, m, s or u`);
  if (body === '') throw new LogPatternError('the regular expression // is empty: it would match every line');
  try {
    return { kind: 'regex', regex: new RegExp(body, flags) };
  } catch (e) {
    throw new LogPatternError(
      `/${body}/ is not a valid regular expression: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

export function lineMatches(p: LogPattern, line: string): boolean {
  return p.kind === 'text' ? line.includes(p.text) : p.regex.test(line);
}

/**
 * Counts matching lines over a sliding window. Lines carry no timestamps (the log writer writes
 * them as the service prints them), so a line counts from when it was read: the daemon follows
 * the files every evaluation (1 s), which is the precision of the window.
 */
export class MatchWindow {
  /** When matching lines were seen (ms) and how many then, oldest first: a flood is one entry per read. */
  private readonly seen: { at: number; n: number }[] = [];

  constructor(private readonly windowMs: number) {}

  add(count: number, nowMs: number): void {
    if (count <= 0) return;
    const last = this.seen[this.seen.length - 1];
    if (last && last.at === nowMs) last.n += count;
    else this.seen.push({ at: nowMs, n: count });
  }

  /** Matching lines seen within the window ending now. */
  count(nowMs: number): number {
    let drop = 0;
    while (drop < this.seen.length && (this.seen[drop]?.at ?? 0) <= nowMs - this.windowMs) drop++;
    if (drop > 0) this.seen.splice(0, drop);
    return this.seen.reduce((sum, s) => sum + s.n, 0);
  }
}

/**
 * The lines of `text` appended to a carried partial line; the new partial (what follows the last
 * newline) is returned to be carried to the next read, so a line split between two reads is
 * matched once, whole.
 */
export function splitLines(carry: string, text: string): { lines: string[]; carry: string } {
  const all = (carry + text).split('\n');
  const rest = all.pop() ?? '';
  // A service that never ends its line must not grow the carry without bound: match it as is.
  if (rest.length > MAX_PARTIAL_LINE) return { lines: [...all, rest], carry: '' };
  return { lines: all, carry: rest };
}

const MAX_PARTIAL_LINE = 64 * 1024;
