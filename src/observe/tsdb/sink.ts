/**
 * Where producers of samples (the scraper, checks, host and data-plane collectors) write. The
 * MetricsDb implements it; producers depend on this interface only.
 */
import type { Labels } from '../../promql/labels.js';

/** Why a sample was not stored. */
export type AppendOutcome =
  | 'stored'
  /** Not after the series' last sample: Prometheus's out-of-order rule. */
  | 'out-of-order'
  /** A new series beyond the target's series limit (the cardinality guard). */
  | 'series-limit';

export interface AppendOptions {
  /**
   * Who produced the series (e.g. `job/instance` of a scrape target, `check`): the series limit
   * applies per target. Default `""`, one shared budget.
   */
  target?: string;
  /** The target's own series limit (a scrape target's `series_limit`); default the store's. */
  seriesLimit?: number;
}

export interface MetricsSink {
  /**
   * Records one sample. `labels` must include `__name__`; `timestampMs` is Unix epoch
   * milliseconds and must increase per series. The store remembers label objects it has seen:
   * do not mutate one after passing it. Never throws for a rejected sample: the outcome
   * says why, and the sink counts it.
   */
  append(labels: Labels, timestampMs: number, value: number, options?: AppendOptions): AppendOutcome;
}
