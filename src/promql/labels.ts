/**
 * Series identity: a set of label name/value pairs, the metric name being the label `__name__`,
 * as in Prometheus. Two label sets name the same series when they hold the same pairs in any order.
 */
import { errorMessage } from '../util/error-message.js';

/** Label name → value. Empty values are the same as absent labels (Prometheus semantics). */
export type Labels = Readonly<Record<string, string>>;

export const METRIC_NAME = '__name__';

/** The label pairs sorted by name, without empty values: the canonical form of a series. */
export function sortedLabelPairs(labels: Labels): Array<[string, string]> {
  return Object.entries(labels)
    .filter(([, v]) => v !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A stable text key for a label set (sorted, JSON): equal keys mean the same series. */
export function labelsKey(labels: Labels): string {
  return JSON.stringify(sortedLabelPairs(labels));
}

/** Rebuilds a label set from its key. */
export function labelsFromKey(key: string): Labels {
  const pairs = JSON.parse(key) as Array<[string, string]>;
  return Object.fromEntries(pairs);
}

export const MATCH_OPS = ['=', '!=', '=~', '!~'] as const;
export type MatchOp = (typeof MATCH_OPS)[number];

/** A label matcher as in a PromQL selector: `name op "value"`. */
export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** A matcher compiled once: regexes are fully anchored, as in Prometheus. */
export interface CompiledMatcher extends LabelMatcher {
  matches(value: string): boolean;
}

export function compileMatcher(m: LabelMatcher): CompiledMatcher {
  switch (m.op) {
    case '=':
      return { ...m, matches: (v) => v === m.value };
    case '!=':
      return { ...m, matches: (v) => v !== m.value };
    case '=~':
    case '!~': {
      let re: RegExp;
      try {
        // `s` so that `.` matches newlines, as Go's RE2 does with Prometheus's (?s) prefix.
        re = new RegExp(`^(?:${m.value})$`, 's');
      } catch (e) {
        throw new Error(
          `label matcher ${m.name}${m.op}"${m.value}": invalid regular expression (${errorMessage(e)}); ` +
            'fix the pattern (it is anchored at both ends, as in Prometheus)',
        );
      }
      return m.op === '=~' ? { ...m, matches: (v) => re.test(v) } : { ...m, matches: (v) => !re.test(v) };
    }
  }
}

/** Whether a label set satisfies every matcher (an absent label has the value ""). */
export function matchesAll(labels: Labels, matchers: readonly CompiledMatcher[]): boolean {
  for (const m of matchers) if (!m.matches(labels[m.name] ?? '')) return false;
  return true;
}
