/**
 * The stack file's `scrape:` section: Prometheus targets the daemon scrapes into its metrics store
 * (a service's own `/metrics`, an exporter such as node_exporter), and the interval of its own
 * collection (host, instances, data plane). Each target becomes a resource `scrape.NAME`.
 *
 * ```yaml
 * scrape:
 *   interval: 15s                 # default of every target, and of the daemon's own metrics
 *   targets:
 *     node: { url: http://127.0.0.1:9100/metrics, labels: { env: lab }, series_limit: 5000 }
 * ```
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Diagnostic } from './diagnostic.js';
import { DurationT, Names } from './schema-parts.js';
import { Duration } from '../util/duration.js';

/** Series one target may create before new ones are dropped (and counted), when none is set. */
export const DEFAULT_SERIES_LIMIT = 10_000;
export const DEFAULT_SCRAPE_INTERVAL = '15s';

const LABEL_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';
/** Set by the scraper itself: a target's labels may not override them. */
const RESERVED_LABELS = ['job', 'instance'] as const;

export const ScrapeTargetSchema = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description: 'Where the target serves its metrics in the exposition format, e.g. http://127.0.0.1:9100/metrics',
      'x-fix': 'write an http:// or https:// URL',
      'x-expected': 'an http:// or https:// URL',
    }),
    interval: Type.Optional(DurationT('Time between scrapes (default scrape.interval, 15s)')),
    timeout: Type.Optional(DurationT('How long one scrape may take (default the smaller of 10s and the interval)')),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: LABEL_NAME }), Type.String(), {
        description: 'Labels added to every series of the target (besides job and instance)',
        'x-fix': 'use label names of letters, digits and _, not starting with a digit',
      }),
    ),
    series_limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description: `Series the target may create; samples of further new series are dropped and counted (default ${DEFAULT_SERIES_LIMIT})`,
        'x-fix': 'use a whole number from 1 to 1000000',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ScrapeSchema = Type.Object(
  {
    interval: Type.Optional(
      DurationT("Default interval of the targets, and of the daemon's own metrics collection", DEFAULT_SCRAPE_INTERVAL),
    ),
    targets: Type.Optional(Names(ScrapeTargetSchema, 'Prometheus targets, by name (the job label)')),
  },
  { additionalProperties: false, description: 'Metrics: Prometheus targets the daemon scrapes, and how often' },
);

export type ScrapeConfig = Static<typeof ScrapeSchema>;
export type ScrapeTargetConfig = Static<typeof ScrapeTargetSchema>;

type Locate = (path: (string | number)[], key?: boolean) => { line: number; column: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the schema cannot say: the URL parses, the timeout fits the interval, no reserved label. */
export function scrapeChecks(doc: Record<string, unknown>, file: string, locate: Locate): Diagnostic[] {
  const out: Diagnostic[] = [];
  const scrape = doc.scrape;
  if (!isObj(scrape) || !isObj(scrape.targets)) return out;
  const push = (
    path: (string | number)[],
    d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'>,
    key = false,
  ): void => {
    const pos = locate(path, key);
    out.push({ severity: 'error', file, line: pos.line, column: pos.column, path: path.join('.'), ...d });
  };
  const globalInterval = typeof scrape.interval === 'string' ? Duration.tryParse(scrape.interval) : undefined;
  for (const [name, t] of Object.entries(scrape.targets)) {
    if (!isObj(t)) continue;
    const base = ['scrape', 'targets', name];
    if (typeof t.url === 'string' && /^https?:\/\//.test(t.url)) {
      let ok = true;
      try {
        ok = new URL(t.url).hostname !== '';
      } catch {
        ok = false;
      }
      if (!ok)
        push([...base, 'url'], {
          code: 'invalid-value',
          message: `scrape target \`${name}\`: the url is not a valid URL`,
          expected: 'a URL such as http://127.0.0.1:9100/metrics',
          found: JSON.stringify(t.url),
          fix: 'write scheme, host, port and path, e.g. http://127.0.0.1:9100/metrics',
        });
    }
    const interval = (typeof t.interval === 'string' ? Duration.tryParse(t.interval) : undefined) ?? globalInterval;
    const timeout = typeof t.timeout === 'string' ? Duration.tryParse(t.timeout) : undefined;
    const every = interval ?? Duration.parse(DEFAULT_SCRAPE_INTERVAL);
    if (timeout && timeout.toMilliseconds() > every.toMilliseconds())
      push([...base, 'timeout'], {
        code: 'invalid-value',
        message: `scrape target \`${name}\`: the timeout is longer than the interval, so scrapes would overlap`,
        expected: `at most the interval (${every.toString()})`,
        found: JSON.stringify(t.timeout),
        fix: 'shorten the timeout or lengthen the interval',
      });
    if (isObj(t.labels)) {
      for (const label of Object.keys(t.labels)) {
        if (!(RESERVED_LABELS as readonly string[]).includes(label) && !label.startsWith('__')) continue;
        push(
          [...base, 'labels', label],
          {
            code: 'invalid-value',
            message: `scrape target \`${name}\`: label \`${label}\` is set by the scraper (job is the target's name, instance its host:port; __ names are internal)`,
            expected: 'a label other than job, instance or __*',
            found: JSON.stringify(label),
            fix: 'rename the label (e.g. env, team), or name the target after the job you want',
          },
          true,
        );
      }
    }
  }
  return out;
}
