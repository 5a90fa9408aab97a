/**
 * Scrapes Prometheus targets: fetches each target's exposition every interval and appends its
 * samples to a MetricsSink, with `job` and `instance` labels, plus the series Prometheus adds per
 * scrape (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`). Series that vanish from a
 * target, or all of them when it goes down, get Prometheus's staleness marker.
 */
import type { Timer, Timers } from '../../util/clock.js';
import { errorMessage } from '../../util/error-message.js';
import { labelsKey, METRIC_NAME, type Labels } from '../../promql/labels.js';
import type { MetricsSink } from '../tsdb/sink.js';
import { parseExposition } from './text-format.js';

export interface ScrapeTarget {
  job: string;
  /** e.g. http://127.0.0.1:9100/metrics */
  url: string;
  /** Default 15 s. */
  intervalMs?: number;
  /** Default min(10 s, interval). */
  timeoutMs?: number;
  /** Extra labels for every series of the target. */
  labels?: Labels;
  /** New series beyond this many are dropped (the store counts them); default the store's limit. */
  seriesLimit?: number;
}

export interface ScrapeReport {
  job: string;
  instance: string;
  up: boolean;
  samples: number;
  durationMs: number;
  /** Why the scrape failed, when it did. */
  error?: string;
}

/** Prometheus's staleness marker NaN (bit pattern 0x7ff0000000000002). */
export const STALE_NAN = new Float64Array(new Uint32Array([0x00000002, 0x7ff00000]).buffer)[0]!;

const TARGET_LABELS = ['job', 'instance'] as const;

export class Scraper {
  private readonly timers: Timer[] = [];
  private readonly lastSeries = new Map<string, Map<string, Labels>>();
  private readonly inFlight = new Set<Promise<ScrapeReport>>();

  constructor(
    private readonly sink: MetricsSink,
    private readonly clock: Timers,
  ) {}

  /** The `instance` label of a target: host:port of its URL. */
  static instanceOf(url: string): string {
    return new URL(url).host;
  }

  /** Scrapes every target now and then every interval until stop(). */
  start(targets: readonly ScrapeTarget[]): void {
    for (const target of targets) {
      const run = (): void => {
        const p = this.scrape(target).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      };
      run();
      this.timers.push(this.clock.setInterval(run, target.intervalMs ?? 15_000));
    }
  }

  /** Stops the intervals and waits for scrapes under way. */
  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers.length = 0;
    await Promise.allSettled([...this.inFlight]);
  }

  /** One scrape of one target; never throws (a failure is `up` 0 and the report's error). */
  async scrape(target: ScrapeTarget): Promise<ScrapeReport> {
    const instance = Scraper.instanceOf(target.url);
    const base: Record<string, string> = { ...target.labels, job: target.job, instance };
    const targetKey = `${target.job}/${instance}`;
    const appendOptions = {
      target: targetKey,
      ...(target.seriesLimit !== undefined ? { seriesLimit: target.seriesLimit } : {}),
    };
    const startedAt = this.clock.now().getTime();
    const t0 = this.clock.ms();
    const timeoutMs = target.timeoutMs ?? Math.min(10_000, target.intervalMs ?? 15_000);
    let up = false;
    let error: string | undefined;
    let scraped = 0;
    const seen = new Map<string, Labels>();
    try {
      const res = await fetch(target.url, {
        headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      const exposition = parseExposition(await res.text());
      for (const s of exposition.samples) {
        const labels: Record<string, string> = {};
        for (const [k, v] of Object.entries(s.labels)) {
          // Target labels win; the target's own are kept under exported_ (honor_labels: false).
          labels[(TARGET_LABELS as readonly string[]).includes(k) || k in (target.labels ?? {}) ? `exported_${k}` : k] =
            v;
        }
        Object.assign(labels, base, { [METRIC_NAME]: s.name });
        this.sink.append(labels, s.timestampMs ?? startedAt, s.value, appendOptions);
        if (s.timestampMs === undefined) seen.set(labelsKey(labels), labels);
      }
      up = true;
      scraped = exposition.samples.length;
    } catch (e) {
      error = `scrape of ${target.url} (job ${target.job}) failed: ${errorMessage(e)}`;
    }
    // Series gone since the last scrape end here, as in Prometheus, so queries stop seeing them.
    const previous = this.lastSeries.get(targetKey);
    if (previous) {
      for (const [key, labels] of previous) {
        if (!seen.has(key)) this.sink.append(labels, startedAt, STALE_NAN, appendOptions);
      }
    }
    this.lastSeries.set(targetKey, seen);
    const durationMs = this.clock.ms() - t0;
    const meta = (name: string, value: number): void => {
      // Outside the target's series limit: a target over it still reports whether it is up.
      this.sink.append({ ...base, [METRIC_NAME]: name }, startedAt, value, { target: targetKey });
    };
    meta('up', up ? 1 : 0);
    meta('scrape_duration_seconds', durationMs / 1000);
    meta('scrape_samples_scraped', scraped);
    return { job: target.job, instance, up, samples: scraped, durationMs, ...(error ? { error } : {}) };
  }
}
