/**
 * Which log lines `groundwork logs` keeps: `--grep TEXT` (a substring) or `--grep /regex/flags`,
 * and `--where FIELD=VALUE` on lines that are JSON objects (structured logs), with `!=` and `=~`
 * (regex), FIELD a dotted path into the object (`req.status=500`). Every condition must hold. A
 * line that is not JSON never matches a `--where`.
 */

export type FieldOp = '=' | '!=' | '=~';

export interface FieldCondition {
  path: string[];
  op: FieldOp;
  value: string;
  regex?: RegExp;
}

export interface LogFilter {
  grep?: RegExp | string;
  where: FieldCondition[];
}

/** A `/regex/flags` argument, or undefined when `text` is not written that way. */
function regexLiteral(text: string): { source: string; flags: string } | undefined {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(text);
  return m ? { source: m[1] as string, flags: m[2] as string } : undefined;
}

/**
 * Parses the flags into a filter, or the problems (each naming the flag, what was found, and how
 * to write it), all of them at once.
 */
export function parseLogFilter(grep: string | undefined, where: readonly string[]): LogFilter | { problems: string[] } {
  const problems: string[] = [];
  const filter: LogFilter = { where: [] };
  if (grep !== undefined) {
    const lit = regexLiteral(grep);
    if (grep === '') problems.push('--grep needs text to look for, e.g. --grep timeout or --grep "/err(or)?/i"');
    else if (lit) {
      try {
        filter.grep = new RegExp(lit.source, lit.flags.replace(/[gy]/g, ''));
      } catch (e) {
        problems.push(
          `--grep ${grep}: not a valid regular expression (${e instanceof Error ? e.message : String(e)}); write /PATTERN/ with JavaScript syntax, or plain text without the slashes`,
        );
      }
    } else filter.grep = grep;
  }
  for (const w of where) {
    const m = /^([A-Za-z_@$][\w.@$-]*?)(!=|=~|=)(.*)$/s.exec(w);
    if (!m) {
      problems.push(
        `--where ${JSON.stringify(w)}: expected FIELD=VALUE, FIELD!=VALUE or FIELD=~REGEX (FIELD a JSON key, dotted for nested ones), e.g. --where level=error`,
      );
      continue;
    }
    const cond: FieldCondition = { path: (m[1] as string).split('.'), op: m[2] as FieldOp, value: m[3] as string };
    if (cond.op === '=~') {
      try {
        cond.regex = new RegExp(cond.value);
      } catch (e) {
        problems.push(
          `--where ${w}: ${JSON.stringify(cond.value)} is not a valid regular expression (${e instanceof Error ? e.message : String(e)})`,
        );
        continue;
      }
    }
    filter.where.push(cond);
  }
  return problems.length > 0 ? { problems } : filter;
}

/** The field's value as text (numbers and booleans as written in JSON), or undefined when absent. */
function fieldText(obj: unknown, path: readonly string[]): string | undefined {
  let cur: unknown = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  if (cur === undefined) return undefined;
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}

/** Whether `line` (without its newline) passes every condition of the filter. */
export function matchesLogFilter(filter: LogFilter, line: string): boolean {
  if (filter.grep !== undefined) {
    if (typeof filter.grep === 'string' ? !line.includes(filter.grep) : !filter.grep.test(line)) return false;
  }
  if (filter.where.length === 0) return true;
  // Structured lines are JSON objects; a prefix such as `[web/0] ` is the CLI's, not the service's.
  const start = line.indexOf('{');
  if (start < 0) return false;
  let obj: unknown;
  try {
    obj = JSON.parse(line.slice(start));
  } catch {
    return false;
  }
  return filter.where.every((c) => {
    const v = fieldText(obj, c.path);
    if (c.op === '!=') return v !== c.value;
    if (v === undefined) return false;
    return c.op === '=' ? v === c.value : (c.regex as RegExp).test(v);
  });
}
