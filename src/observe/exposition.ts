/**
 * Renders metric families in the Prometheus text exposition format (0.0.4), for the daemon's
 * `/metrics`: what `promtool check metrics` accepts and any Prometheus scrapes.
 */
import type { MetricType } from './scrape/text-format.js';

export interface ExpositionSample {
  /** Appended to the family name: `_bucket`, `_sum`, `_count` for histograms and summaries. */
  suffix?: string;
  labels?: Readonly<Record<string, string>>;
  value: number;
  /** Unix ms; usually left out so the scraper stamps the scrape time. */
  timestampMs?: number;
}

export interface MetricFamily {
  /** e.g. groundwork_checks_total; counters end in _total. */
  name: string;
  help: string;
  type: MetricType;
  samples: readonly ExpositionSample[];
}

/** The exposition's content type, for the HTTP response. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * Renders the families in order. Throws naming the family or label when a name is not valid in
 * the format (fix the name where the family is defined).
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME_RE.test(f.name)) {
      throw new Error(
        `metric family "${f.name}": not a valid metric name (letters, digits, _ and :, not starting with a digit)`,
      );
    }
    if (seen.has(f.name))
      throw new Error(`metric family "${f.name}" is rendered twice; merge its samples into one family`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const pairs = Object.entries(s.labels ?? {}).map(([k, v]) => {
        if (!LABEL_NAME_RE.test(k) || k.startsWith('__')) {
          throw new Error(
            `metric family "${f.name}": label "${k}" is not a valid label name (letters, digits, _; not starting with __)`,
          );
        }
        return `${k}="${escapeLabelValue(v)}"`;
      });
      const labelText = pairs.length > 0 ? `{${pairs.join(',')}}` : '';
      const ts = s.timestampMs !== undefined ? ` ${Math.round(s.timestampMs)}` : '';
      out.push(`${f.name}${s.suffix ?? ''}${labelText} ${formatSampleValue(s.value)}${ts}`);
    }
  }
  return out.join('\n') + '\n';
}
