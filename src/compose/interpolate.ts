/**
 * Compose variable interpolation and `.env` files, as the Compose Specification defines them
 * (https://github.com/compose-spec/compose-spec/blob/master/spec.md#interpolation):
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+replacement}`, `${VAR+replacement}`, and `$$` for a literal `$`. Defaults may nest
 * (`${A:-${B}}`).
 */

export type Lookup = (name: string) => string | undefined;

export class InterpolationError extends Error {}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * The value with every variable replaced. A required variable that is missing (`:?`) throws
 * InterpolationError with the message the file gives; a missing plain variable is '' and reported
 * through `onMissing` (compose warns and uses the empty string).
 */
export function interpolate(text: string, lookup: Lookup, onMissing: (name: string) => void = () => {}): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end === -1) throw new InterpolationError(`\`${text.slice(i)}\` has no closing }`);
      out += expand(text.slice(i + 2, end), lookup, onMissing);
      i = end + 1;
      continue;
    }
    if (next !== undefined && NAME_START.test(next)) {
      let j = i + 1;
      while (j < text.length && NAME_CHAR.test(text[j] as string)) j++;
      const name = text.slice(i + 1, j);
      const v = lookup(name);
      if (v === undefined) onMissing(name);
      out += v ?? '';
      i = j;
      continue;
    }
    // A lone `$` (before a space, a digit, the end) stays as written.
    out += c;
    i++;
  }
  return out;
}

/** Index of the `}` that closes the `${` whose body starts at `from`, counting nested `${`. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (text[i] === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function expand(body: string, lookup: Lookup, onMissing: (name: string) => void): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw new InterpolationError(`\`\${${body}}\` is not a valid variable; write \${NAME} or \${NAME:-default}`);
  const [, name = '', op, arg = ''] = m;
  const v = lookup(name);
  const unsetOrEmpty = v === undefined || v === '';
  switch (op) {
    case undefined:
      if (v === undefined) onMissing(name);
      return v ?? '';
    case ':-':
      return unsetOrEmpty ? interpolate(arg, lookup, onMissing) : (v as string);
    case '-':
      return v === undefined ? interpolate(arg, lookup, onMissing) : v;
    case ':?':
    case '?':
      if (op === ':?' ? unsetOrEmpty : v === undefined)
        throw new InterpolationError(
          `required variable ${name} is ${v === undefined ? 'not set' : 'empty'}${arg ? `: ${interpolate(arg, lookup, onMissing)}` : ''}`,
        );
      return v as string;
    case ':+':
      return unsetOrEmpty ? '' : interpolate(arg, lookup, onMissing);
    case '+':
      return v === undefined ? '' : interpolate(arg, lookup, onMissing);
    default:
      return v ?? '';
  }
}

/**
 * A `.env` / `env_file` text as compose reads it: `NAME=value` lines, `export ` allowed, `#`
 * comments, single quotes literal, double quotes with \n escapes, unquoted values trimmed and cut
 * at ` #`. Unquoted and double-quoted values are interpolated against the lines above and `lookup`.
 */
export function parseDotEnv(text: string, lookup: Lookup = () => undefined): Map<string, string> {
  const vars = new Map<string, string>();
  const scoped: Lookup = (n) => vars.get(n) ?? lookup(n);
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*([\s\S]*))?$/.exec(line);
    if (!m) continue;
    const [, name = '', rest] = m;
    if (rest === undefined) {
      // `NAME` alone: take it from the environment, if there.
      const v = lookup(name);
      if (v !== undefined) vars.set(name, v);
      continue;
    }
    let value: string;
    if (rest.startsWith("'")) value = rest.slice(1, rest.lastIndexOf("'") > 0 ? rest.lastIndexOf("'") : undefined);
    else if (rest.startsWith('"')) {
      const end = rest.lastIndexOf('"') > 0 ? rest.lastIndexOf('"') : rest.length;
      value = interpolate(rest.slice(1, end).replace(/\\n/g, '\n').replace(/\\"/g, '"'), scoped);
    } else value = interpolate(rest.replace(/\s+#.*$/, '').trim(), scoped);
    vars.set(name, value);
  }
  return vars;
}
