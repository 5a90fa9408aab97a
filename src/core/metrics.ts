/**
 * The daemon's own metrics: the host (node_*), every supervised instance, the data plane and the
 * daemon itself (groundwork_*), collected on one interval into the metrics store, and rendered
 * on demand for `/metrics`. One function produces the families, so what the store keeps and
 * what a Prometheus scraping `/metrics` sees are the same series under the same names.
 *
 * Costs per collection: one pass over /proc (all instances at once), a handful of small /proc
 * files, one statfs per mount and one metrics snapshot of the data plane; nothing on the proxy's
 * request path (its counters are plain fields, proxy/node/metrics.ts).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { CheckView, InstanceView } from './status.js';
import type { DataPlaneMetrics, TrafficMetrics } from '../proxy/data-plane.js';
import { renderExposition, type ExpositionSample, type MetricFamily } from '../observe/exposition.js';
import { readHostMetrics, readProcessGroups } from '../observe/host-metrics.js';
import { METRIC_NAME } from '../promql/labels.js';
import type { MetricsSink } from '../observe/tsdb/sink.js';
import type { MetricsDbStats } from '../observe/tsdb/metrics-db.js';
import { Scraper, type ScrapeTarget } from '../observe/scrape/scraper.js';
import type { JsonObject, ResourceKindName } from '../model/resource.js';
import type { Timer, Timers } from '../util/clock.js';
import { Duration } from '../util/duration.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';

/** The collection interval when none is configured (Prometheus's default scrape interval). */
export const DEFAULT_METRICS_INTERVAL = Duration.seconds(15);

/** The store's series budget these samples count against (scrape targets have their own). */
export const DAEMON_METRICS_TARGET = 'groundwork';

export interface DaemonMetricsOptions {
  sink: MetricsSink;
  timers: Timers;
  logger: Logger;
  /** Default DEFAULT_METRICS_INTERVAL. */
  interval?: Duration;
  /** The supervised instances now (pid, restarts, readiness). */
  instances: () => readonly InstanceView[];
  /** The data plane's counters, when there is one. */
  traffic?: () => Promise<DataPlaneMetrics | undefined>;
  /** Check states, for `/metrics` only: the check runner writes its samples to the store itself. */
  checks?: () => Promise<readonly CheckView[]>;
  /** The metrics store's own numbers (series, bytes, dropped samples). */
  storeStats?: () => MetricsDbStats;
  /** Default `/proc`; tests point it at a copy. */
  procRoot?: string;
}

type Samples = ExpositionSample[];

function fam(name: string, help: string, type: MetricFamily['type'], samples: Samples): MetricFamily {
  return { name, help, type, samples };
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'error'] as const;

/** A pool is named `service:port` (core/traffic.ts). */
function serviceOfPool(pool: string): string {
  const i = pool.lastIndexOf(':');
  return i < 0 ? pool : pool.slice(0, i);
}

/** Adds `b` into `a` (same bucket bounds: the proxy's histograms share LATENCY_BOUNDS_MS). */
function addTraffic(a: TrafficMetrics, b: TrafficMetrics): void {
  a.requests += b.requests;
  a.inFlight += b.inFlight;
  for (const c of STATUS_CLASSES) a.status[c] += b.status[c];
  a.latency.sum += b.latency.sum;
  a.latency.count += b.latency.count;
  b.latency.counts.forEach((n, i) => {
    a.latency.counts[i] = (a.latency.counts[i] ?? 0) + n;
  });
}

function copyTraffic(t: TrafficMetrics): TrafficMetrics {
  return {
    requests: t.requests,
    inFlight: t.inFlight,
    status: { ...t.status },
    latency: {
      bounds: [...t.latency.bounds],
      counts: [...t.latency.counts],
      sum: t.latency.sum,
      count: t.latency.count,
    },
  };
}

/**
 * Requests by status class, a latency histogram (seconds, cumulative buckets as Prometheus
 * expects; the proxy counts per bucket in milliseconds) and in-flight requests, for one kind of
 * thing (route or service), labelled by `label`.
 */
function trafficFamilies(what: 'route' | 'service', byName: ReadonlyMap<string, TrafficMetrics>): MetricFamily[] {
  const requests: Samples = [];
  const inFlight: Samples = [];
  const latency: Samples = [];
  for (const [name, t] of byName) {
    for (const c of STATUS_CLASSES) requests.push({ labels: { [what]: name, status_class: c }, value: t.status[c] });
    inFlight.push({ labels: { [what]: name }, value: t.inFlight });
    let cumulative = 0;
    t.latency.counts.forEach((n, i) => {
      cumulative += n;
      const bound = t.latency.bounds[i];
      latency.push({
        suffix: '_bucket',
        labels: { [what]: name, le: bound === undefined ? '+Inf' : String(bound / 1000) },
        value: cumulative,
      });
    });
    latency.push({ suffix: '_sum', labels: { [what]: name }, value: t.latency.sum / 1000 });
    latency.push({ suffix: '_count', labels: { [what]: name }, value: t.latency.count });
  }
  if (byName.size === 0) return [];
  return [
    fam(
      `groundwork_${what}_requests_total`,
      `Requests through the data plane by ${what} and status class (error: no response from a backend).`,
      'counter',
      requests,
    ),
    fam(
      `groundwork_${what}_request_duration_seconds`,
      `Time from request to the end of the response, by ${what}.`,
      'histogram',
      latency,
    ),
    fam(`groundwork_${what}_requests_in_flight`, `Requests under way, by ${what}.`, 'gauge', inFlight),
  ];
}

/** The data plane's counters as families: per route, per service (its backends summed), per backend and listener. */
export function dataPlaneFamilies(m: DataPlaneMetrics): MetricFamily[] {
  const routes = new Map(Object.entries(m.routes));
  const services = new Map<string, TrafficMetrics>();
  const backendRequests: Samples = [];
  const backendEjected: Samples = [];
  for (const [id, b] of Object.entries(m.backends)) {
    const service = serviceOfPool(b.pool);
    const sum = services.get(service);
    if (sum) addTraffic(sum, b);
    else services.set(service, copyTraffic(b));
    for (const c of STATUS_CLASSES)
      backendRequests.push({ labels: { service, backend: id, status_class: c }, value: b.status[c] });
    backendEjected.push({ labels: { service, backend: id }, value: b.ejected ? 1 : 0 });
  }
  const listeners = Object.entries(m.listeners);
  const listenerFamily = (
    name: string,
    help: string,
    type: MetricFamily['type'],
    pick: (l: (typeof listeners)[number][1]) => number,
  ): MetricFamily =>
    fam(
      name,
      help,
      type,
      listeners.map(([listener, l]) => ({ labels: { listener }, value: pick(l) })),
    );
  return [
    ...trafficFamilies('route', routes),
    ...trafficFamilies('service', services),
    ...(backendRequests.length > 0
      ? [
          fam(
            'groundwork_backend_requests_total',
            'Requests sent to each backend (an instance of a release) by status class.',
            'counter',
            backendRequests,
          ),
          fam(
            'groundwork_backend_ejected',
            '1 while a backend is ejected for failed connections.',
            'gauge',
            backendEjected,
          ),
        ]
      : []),
    ...(listeners.length > 0
      ? [
          listenerFamily(
            'groundwork_listener_connections_total',
            'Connections accepted by each listener.',
            'counter',
            (l) => l.connections,
          ),
          listenerFamily(
            'groundwork_listener_active_connections',
            'Connections open now on each listener.',
            'gauge',
            (l) => l.activeConnections,
          ),
          listenerFamily(
            'groundwork_listener_receive_bytes_total',
            'Bytes received from clients on each listener.',
            'counter',
            (l) => l.bytesIn,
          ),
          listenerFamily(
            'groundwork_listener_transmit_bytes_total',
            'Bytes sent to clients on each listener.',
            'counter',
            (l) => l.bytesOut,
          ),
        ]
      : []),
  ];
}

/** Per instance: CPU seconds and resident bytes of its process group, restarts, readiness. */
export function instanceFamilies(views: readonly InstanceView[], procRoot?: string): MetricFamily[] {
  if (views.length === 0) return [];
  const groups = views.some((v) => v.pid !== null) ? readProcessGroups(procRoot) : undefined;
  const cpu: Samples = [];
  const rss: Samples = [];
  const restarts: Samples = [];
  const up: Samples = [];
  for (const v of views) {
    // `replica`, not `instance`: a Prometheus scraping /metrics sets `instance` itself.
    const labels = { service: v.service, replica: String(v.index) };
    restarts.push({ labels, value: v.restarts });
    up.push({ labels, value: v.ready ? 1 : 0 });
    if (v.pid === null || !groups) continue;
    const usage = groups.usage.get(groups.groupOf.get(v.pid) ?? v.pid);
    if (!usage) continue;
    cpu.push({ labels, value: usage.cpuSeconds });
    rss.push({ labels, value: usage.rssBytes });
  }
  return [
    fam(
      'groundwork_instance_cpu_seconds_total',
      'CPU seconds (user and system) of the instance and its children.',
      'counter',
      cpu,
    ),
    fam('groundwork_instance_resident_memory_bytes', 'Resident memory of the instance and its children.', 'gauge', rss),
    fam('groundwork_instance_restarts_total', 'Restarts of the instance by the supervisor.', 'counter', restarts),
    fam('groundwork_instance_ready', '1 while the instance is ready (gets traffic).', 'gauge', up),
  ].filter((f) => f.samples.length > 0);
}

/** A recorded resource, as far as the metrics need it. */
export interface MetricsRow {
  kind: ResourceKindName;
  address: string;
  spec: JsonObject;
}

const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
const ms = (v: unknown, fallback: number): number =>
  (typeof v === 'string' ? Duration.tryParse(v)?.toMilliseconds() : undefined) ?? fallback;

/** The recorded `scrape.NAME` resources (model/scrape-resources.ts) as the scraper takes them. */
export function scrapeTargetsOf(rows: readonly MetricsRow[]): ScrapeTarget[] {
  return rows
    .filter((r) => r.kind === 'scrape')
    .map((r) => {
      const s = r.spec;
      const labels: Record<string, string> = {};
      if (typeof s.labels === 'object' && s.labels !== null && !Array.isArray(s.labels))
        for (const [k, v] of Object.entries(s.labels)) if (typeof v === 'string') labels[k] = v;
      return {
        job: r.address.slice('scrape.'.length),
        url: str(s.url, ''),
        intervalMs: ms(s.interval, 15_000),
        timeoutMs: ms(s.timeout, 10_000),
        labels,
        ...(typeof s.series_limit === 'number' ? { seriesLimit: s.series_limit } : {}),
      };
    })
    .sort((a, b) => a.job.localeCompare(b.job));
}

export class DaemonMetrics {
  private timer: Timer | undefined;
  private scraper: Scraper | undefined;
  /** What the scraper runs now (JSON), so a change elsewhere in the stack does not restart it. */
  private scraping = '[]';
  private configuredInterval: Duration | undefined;
  private running: Promise<void> | undefined;
  private readonly lag: IntervalHistogram;
  private readonly startedAtSeconds: number;

  constructor(private readonly o: DaemonMetricsOptions) {
    this.lag = monitorEventLoopDelay({ resolution: 20 });
    this.startedAtSeconds = o.timers.now().getTime() / 1000;
  }

  /** The stack's `scrape.interval` (metrics.default), else the daemon's option, else 15 s. */
  get interval(): Duration {
    return this.configuredInterval ?? this.o.interval ?? DEFAULT_METRICS_INTERVAL;
  }

  /**
   * Follows recorded state: scrapes the `scrape.NAME` targets (restarting the scraper only when
   * they changed) and collects on `metrics.default`'s interval when one is recorded.
   */
  configure(rows: readonly MetricsRow[]): void {
    const targets = scrapeTargetsOf(rows);
    const key = JSON.stringify(targets);
    if (key !== this.scraping) {
      this.scraping = key;
      const old = this.scraper;
      this.scraper = targets.length > 0 ? new Scraper(this.o.sink, this.o.timers) : undefined;
      void old?.stop();
      this.scraper?.start(targets);
      this.o.logger.log('info', 'scrape targets configured', { targets: targets.map((t) => t.job) });
    }
    const settings = rows.find((r) => r.kind === 'metrics');
    const interval = settings ? Duration.tryParse(str(settings.spec.interval, '')) : undefined;
    if (interval?.toMilliseconds() !== this.configuredInterval?.toMilliseconds()) {
      this.configuredInterval = interval;
      if (this.timer) this.schedule();
    }
  }

  private schedule(): void {
    this.timer?.cancel();
    this.timer = this.o.timers.setInterval(() => this.run(), this.interval.toMilliseconds(), { background: true });
  }

  private run(): void {
    if (this.running) return; // the previous collection is still under way: skip, never pile up
    this.running = this.tick()
      .then(() => undefined)
      .catch((e: unknown) => this.o.logger.log('warn', 'metrics collection failed', { error: errorMessage(e) }))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Collects now and then every interval, until stop(). */
  start(): void {
    this.lag.enable();
    this.run();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    await this.scraper?.stop();
    this.scraper = undefined;
    await this.running;
    this.lag.disable();
  }

  /** The daemon process: memory, heap, CPU, event loop lag since the last collection. */
  private selfFamilies(): MetricFamily[] {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    // monitorEventLoopDelay reports nanoseconds; NaN until it has a sample.
    const p99 = this.lag.count > 0 ? this.lag.percentile(99) / 1e9 : 0;
    const max = this.lag.count > 0 ? this.lag.max / 1e9 : 0;
    const one = (name: string, help: string, type: MetricFamily['type'], value: number): MetricFamily =>
      fam(name, help, type, [{ value }]);
    return [
      one('groundwork_daemon_resident_memory_bytes', 'Resident memory of the daemon process.', 'gauge', mem.rss),
      one('groundwork_daemon_heap_used_bytes', 'V8 heap in use by the daemon.', 'gauge', mem.heapUsed),
      one('groundwork_daemon_heap_total_bytes', 'V8 heap reserved by the daemon.', 'gauge', mem.heapTotal),
      one(
        'groundwork_daemon_cpu_seconds_total',
        'CPU seconds (user and system) of the daemon.',
        'counter',
        (cpu.user + cpu.system) / 1e6,
      ),
      one(
        'groundwork_daemon_event_loop_lag_p99_seconds',
        "99th percentile of the event loop's delay since the last collection.",
        'gauge',
        p99,
      ),
      one(
        'groundwork_daemon_event_loop_lag_max_seconds',
        'Longest event loop delay since the last collection.',
        'gauge',
        max,
      ),
      one(
        'groundwork_daemon_start_time_seconds',
        'When the daemon started, in Unix seconds.',
        'gauge',
        this.startedAtSeconds,
      ),
    ];
  }

  private storeFamilies(): MetricFamily[] {
    const s = this.o.storeStats?.();
    if (!s) return [];
    const limited = Object.entries(s.droppedBySeriesLimit);
    return [
      fam('groundwork_tsdb_series', 'Series in the metrics store.', 'gauge', [{ value: s.series }]),
      fam('groundwork_tsdb_disk_bytes', 'Bytes of the metrics store and its WAL on disk.', 'gauge', [
        { value: s.bytesOnDisk },
      ]),
      fam(
        'groundwork_tsdb_out_of_order_samples_total',
        "Samples refused for not being after their series' last one.",
        'counter',
        [{ value: s.droppedOutOfOrder }],
      ),
      ...(limited.length > 0
        ? [
            fam(
              'groundwork_tsdb_series_limit_samples_total',
              "Samples of new series refused by a target's series limit.",
              'counter',
              limited.map(([target, n]) => ({ labels: { target }, value: n })),
            ),
          ]
        : []),
    ];
  }

  private async checkFamilies(): Promise<MetricFamily[]> {
    const checks = (await this.o.checks?.()) ?? [];
    if (checks.length === 0) return [];
    const up: Samples = [];
    const latency: Samples = [];
    for (const c of checks) {
      const labels = { check: c.name, type: c.type };
      if (c.state !== 'pending') up.push({ labels, value: c.state === 'up' ? 1 : 0 });
      if (c.lastLatencyMs !== null) latency.push({ labels, value: c.lastLatencyMs / 1000 });
    }
    return [
      fam('groundwork_check_up', '1 while the check is up, 0 while it is down (after its thresholds).', 'gauge', up),
      fam('groundwork_check_latency_seconds', 'Duration of the last run of the check.', 'gauge', latency),
    ].filter((f) => f.samples.length > 0);
  }

  /** Every family as of now (the data plane's numbers are fetched fresh). */
  async collect(opts: { checks: boolean } = { checks: false }): Promise<MetricFamily[]> {
    let traffic: DataPlaneMetrics | undefined;
    try {
      traffic = await this.o.traffic?.();
    } catch (e) {
      this.o.logger.log('warn', 'data plane metrics not read', { error: errorMessage(e) });
    }
    return [
      ...readHostMetrics(this.o.procRoot),
      ...instanceFamilies(this.o.instances(), this.o.procRoot),
      ...(traffic ? dataPlaneFamilies(traffic) : []),
      ...this.selfFamilies(),
      ...this.storeFamilies(),
      ...(opts.checks ? await this.checkFamilies() : []),
    ];
  }

  /** One collection into the store; returns how many samples were offered. */
  async tick(): Promise<number> {
    const families = await this.collect();
    const t = this.o.timers.now().getTime();
    let n = 0;
    for (const f of families) {
      for (const s of f.samples) {
        this.o.sink.append({ ...s.labels, [METRIC_NAME]: f.name + (s.suffix ?? '') }, t, s.value, {
          target: DAEMON_METRICS_TARGET,
        });
        n++;
      }
    }
    // Lag is reported per collection window.
    this.lag.reset();
    return n;
  }

  /** `/metrics`: every family now, check states included, in the text exposition format. */
  async exposition(): Promise<string> {
    return renderExposition(await this.collect({ checks: true }));
  }
}
