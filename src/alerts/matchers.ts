/**
 * Label matchers with Alertmanager's syntax and semantics: `name="v"`, `!=`, `=~` and `!~`, with
 * regular expressions anchored at both ends (`=~"web|api"` does not match `webhook`).
 */
import type { LabelMatcher } from '../store/store.js';

export type { LabelMatcher };

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s,]*))\s*$/;

export class MatcherSyntaxError extends Error {}

/** Parses `service="web"` (quotes optional for simple values). */
export function parseMatcher(text: string): LabelMatcher {
  const m = MATCHER.exec(text);
  if (!m) {
    throw new MatcherSyntaxError(
      `cannot read the matcher '${text}': expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX, e.g. service="web"`,
    );
  }
  const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? '');
  const matcher: LabelMatcher = { name: m[1] as string, op: m[2] as LabelMatcher['op'], value };
  if (matcher.op === '=~' || matcher.op === '!~') {
    try {
      new RegExp(`^(?:${value})$`);
    } catch (e) {
      throw new MatcherSyntaxError(`the matcher '${text}' has an invalid regular expression: ${(e as Error).message}`);
    }
  }
  return matcher;
}

export function formatMatcher(m: LabelMatcher): string {
  return `${m.name}${m.op}"${m.value.replace(/["\\]/g, '\\$&')}"`;
}

const compiled = new Map<string, RegExp>();
function regex(source: string): RegExp {
  let r = compiled.get(source);
  if (!r) {
    r = new RegExp(`^(?:${source})$`);
    compiled.set(source, r);
  }
  return r;
}

/** A missing label is the empty string, as in Prometheus and Alertmanager. */
export function matches(labels: Record<string, string>, matchers: readonly LabelMatcher[]): boolean {
  return matchers.every((m) => {
    const v = labels[m.name] ?? '';
    switch (m.op) {
      case '=':
        return v === m.value;
      case '!=':
        return v !== m.value;
      case '=~':
        return regex(m.value).test(v);
      case '!~':
        return !regex(m.value).test(v);
    }
  });
}
