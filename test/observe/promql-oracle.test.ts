/**
 * Oracle test: a real Prometheus 2.42 and Groundwork's scraper + TSDB + PromQL engine scrape the
 * same target for the same seconds; the same queries must give the same answers.
 *
 * Why the comparison is exact and meaningful: the two scrapers run at different instants, so the
 * target exposes every sample with an explicit timestamp on a 2-second grid (value a deterministic
 * function of the grid index), and both scrape every second. Both stores therefore hold the very
 * same (timestamp, value) pairs, which the test checks first. Any difference in the query results
 * is then a difference in query semantics: lookback, inclusive range bounds, extrapolation in
 * rate/increase/delta, counter resets, aggregation grouping, vector matching, and so on. Query
 * times fall on sample timestamps and between them, and before the first sample, on purpose.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromqlEngine, type ApiResponse } from '../../src/observe/promql/engine.js';
import { Scraper } from '../../src/observe/scrape/scraper.js';
import { labelsKey } from '../../src/promql/labels.js';
import { MetricsDb } from '../../src/observe/tsdb/metrics-db.js';
import { systemClock } from '../../src/util/clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startPrometheus, type PrometheusServer } from './prometheus-process.js';

const GRID_MS = 2000;
const POINTS = 12;

/** The target's metrics at grid index k (0..POINTS-1): counters with a reset, gauges, histograms. */
function exposition(k: number, ts: number): string {
  const lines: string[] = [];
  const counterB = k < 6 ? 100 + 4 * k : 3 * (k - 6);
  lines.push('# HELP oracle_requests_total Requests.', '# TYPE oracle_requests_total counter');
  lines.push(`oracle_requests_total{path="/a",code="200"} ${10 * k + (k % 3)} ${ts}`);
  lines.push(`oracle_requests_total{path="/a",code="500"} ${2 * k} ${ts}`);
  lines.push(`oracle_requests_total{path="/b",code="500"} ${counterB} ${ts}`);
  lines.push('# TYPE oracle_temperature_celsius gauge');
  lines.push(`oracle_temperature_celsius{room="a"} ${20 + 5 * Math.sin(k)} ${ts}`);
  lines.push(`oracle_temperature_celsius{room="b"} ${18 - k * 0.25 + (k % 4) * 1.5} ${ts}`);
  lines.push('# TYPE oracle_latency_seconds histogram');
  for (const [route, f] of [
    ['/a', 1],
    ['/b', 3],
  ] as const) {
    const b1 = 3 * k * f;
    const b2 = b1 + 2 * k + (k % 2);
    const b3 = b2 + k * f;
    const inf = b3 + 1 + (k > 3 ? k - 3 : 0);
    for (const [le, c] of [
      ['0.1', b1],
      ['0.5', b2],
      ['1', b3],
      ['+Inf', inf],
    ] as const) {
      lines.push(`oracle_latency_seconds_bucket{route="${route}",le="${le}"} ${c} ${ts}`);
    }
    lines.push(
      `oracle_latency_seconds_sum{route="${route}"} ${0.05 * b1 + 0.3 * (b2 - b1) + 0.7 * (b3 - b2) + 2 * (inf - b3)} ${ts}`,
    );
    lines.push(`oracle_latency_seconds_count{route="${route}"} ${inf} ${ts}`);
  }
  return lines.join('\n') + '\n';
}

const INSTANT = [
  'oracle_requests_total',
  'oracle_requests_total{code!="200"}',
  'oracle_requests_total{path=~"/[ab]", code!~"5.."}',
  'oracle_temperature_celsius offset 4s',
  'rate(oracle_requests_total[10s])',
  'increase(oracle_requests_total[9s])',
  'irate(oracle_requests_total[5s])',
  'delta(oracle_temperature_celsius[8s])',
  'idelta(oracle_temperature_celsius[6s])',
  'changes(oracle_temperature_celsius[20s])',
  'resets(oracle_requests_total[30s])',
  'avg_over_time(oracle_temperature_celsius[7s])',
  'sum_over_time(oracle_temperature_celsius[7s])',
  'min_over_time(oracle_temperature_celsius[11s])',
  'max_over_time(oracle_temperature_celsius[11s])',
  'count_over_time(oracle_requests_total[1m] offset 6s)',
  'last_over_time(oracle_temperature_celsius[3s])',
  'histogram_quantile(0.9, rate(oracle_latency_seconds_bucket[10s]))',
  'histogram_quantile(0.5, sum by (le) (rate(oracle_latency_seconds_bucket[12s])))',
  'sum by (path) (rate(oracle_requests_total[10s]))',
  'avg without (code) (oracle_requests_total)',
  'max by (code) (oracle_requests_total)',
  'min(oracle_temperature_celsius)',
  'count by (path) (oracle_requests_total)',
  'sum(oracle_requests_total)',
  'oracle_requests_total - oracle_requests_total offset 4s',
  '-oracle_temperature_celsius offset 2s',
  'oracle_latency_seconds_sum / oracle_latency_seconds_count',
  'oracle_requests_total * 2 + 1',
  '-oracle_temperature_celsius % 7 ^ 2',
  'oracle_temperature_celsius > 18',
  '17 < oracle_temperature_celsius',
  'oracle_requests_total > bool 40',
  'rate(oracle_requests_total[10s]) >= on(path, code) rate(oracle_requests_total[10s] offset 2s)',
  'oracle_requests_total{code="200"} / ignoring(code) oracle_requests_total{code="500", path="/a"}',
  'oracle_requests_total and oracle_requests_total > 30',
  'oracle_requests_total{code="500"} or oracle_temperature_celsius',
  'oracle_requests_total unless on(path) oracle_requests_total{code="200"}',
  'abs(delta(oracle_temperature_celsius[8s]))',
  'clamp_max(oracle_temperature_celsius, 21)',
  'clamp_min(oracle_temperature_celsius, 19)',
  'ceil(oracle_temperature_celsius) + floor(oracle_temperature_celsius)',
  'sqrt(oracle_requests_total) - ln(oracle_requests_total + 1)',
  'exp(oracle_temperature_celsius / 10)',
  'scalar(sum(oracle_requests_total{code="500"}))',
  'vector(2) * 3',
  'time() - 5',
  '1 + 2 * 3 > bool 6',
];

const RANGE = [
  'rate(oracle_requests_total[10s])',
  'increase(oracle_requests_total[5s])',
  'sum by (code) (irate(oracle_requests_total[4s]))',
  'histogram_quantile(0.75, sum by (le, route) (increase(oracle_latency_seconds_bucket[8s])))',
  'avg_over_time(oracle_temperature_celsius[5s]) - oracle_temperature_celsius offset 2s',
  'oracle_temperature_celsius',
  'max(oracle_temperature_celsius) > bool 20',
  'count(oracle_requests_total > 20)',
  'time()',
];

interface Compared {
  resultType: string;
  series: Array<{ key: string; points: Array<[number, number]> }>;
}

function normalize(r: ApiResponse, query: string): Compared {
  if (r.status !== 'success') throw new Error(`${query}: ${r.error}`);
  const d = r.data;
  switch (d.resultType) {
    case 'scalar':
      return { resultType: 'scalar', series: [{ key: '', points: [[d.result[0], Number(d.result[1])]] }] };
    case 'string':
      return { resultType: 'string', series: [] };
    case 'vector':
      return {
        resultType: 'vector',
        series: d.result
          .map((s) => ({ key: labelsKey(s.metric), points: [[s.value[0], Number(s.value[1])] as [number, number]] }))
          .sort((a, b) => (a.key < b.key ? -1 : 1)),
      };
    case 'matrix':
      return {
        resultType: 'matrix',
        series: d.result
          .map((s) => ({
            key: labelsKey(s.metric),
            points: s.values.map(([t, v]) => [t, Number(v)] as [number, number]),
          }))
          .sort((a, b) => (a.key < b.key ? -1 : 1)),
      };
  }
}

/** Both answers hold the same series and timestamps; values equal up to float rounding (1e-9 relative). */
function expectSame(query: string, ours: Compared, theirs: Compared): void {
  const where = `query ${query}`;
  expect(ours.resultType, where).toBe(theirs.resultType);
  expect(
    ours.series.map((s) => s.key),
    where,
  ).toEqual(theirs.series.map((s) => s.key));
  ours.series.forEach((s, i) => {
    const t = theirs.series[i]!;
    expect(
      s.points.map((p) => p[0]),
      `${where} ${s.key} timestamps`,
    ).toEqual(t.points.map((p) => p[0]));
    s.points.forEach(([, v], j) => {
      const w = t.points[j]![1];
      if (Number.isNaN(w)) expect(v, `${where} ${s.key} @${s.points[j]![0]}`).toBeNaN();
      else if (!Number.isFinite(w)) expect(v, `${where} ${s.key} @${s.points[j]![0]}`).toBe(w);
      else
        expect(
          Math.abs(v - w),
          `${where} ${s.key} @${s.points[j]![0]}: ours ${v}, Prometheus ${w}`,
        ).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w)));
    });
  });
}

async function promQuery(
  prom: PrometheusServer,
  pathAndQuery: string,
  params: Record<string, string>,
): Promise<ApiResponse> {
  const res = await fetch(`${prom.url}${pathAndQuery}?${new URLSearchParams(params).toString()}`);
  return (await res.json()) as ApiResponse;
}

describe('PromQL against a real Prometheus 2.42 (oracle)', () => {
  let dir: string;
  let server: http.Server;
  let prom: PrometheusServer;
  let db: MetricsDb;
  let scraper: Scraper;
  let t0: number;
  const tEnd = (): number => t0 + (POINTS - 1) * GRID_MS;

  beforeAll(async () => {
    dir = makeTempDir('oracle');
    // The grid starts a few seconds from now, so both scrapers are running before its first point.
    t0 = Math.ceil((Date.now() + 6000) / GRID_MS) * GRID_MS;
    server = http.createServer((_req, res) => {
      const now = Date.now();
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      if (now < t0) return res.end('');
      const k = Math.min(Math.floor((now - t0) / GRID_MS), POINTS - 1);
      res.end(exposition(k, t0 + k * GRID_MS));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    prom = await startPrometheus(dir, [{ job: 'oracle', target }]);
    db = MetricsDb.open({ path: path.join(dir, 'metrics.db') });
    scraper = new Scraper(db, systemClock);
    scraper.start([{ job: 'oracle', url: `http://${target}/metrics`, intervalMs: 1000 }]);
    // Wait until both have scraped the last grid point (served from then on, ignored as a duplicate).
    await new Promise((r) => setTimeout(r, tEnd() + 2500 - Date.now()));
    await scraper.stop();
  }, 45_000);

  afterAll(async () => {
    await scraper?.stop();
    db?.close();
    await prom?.stop();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    removeTempDir(dir);
  });

  it('both stores hold the same samples', async () => {
    const at = tEnd() + 1000;
    for (const q of ['{__name__=~"oracle_.*"}[1m]']) {
      const theirs = normalize(await promQuery(prom, '/api/v1/query', { query: q, time: String(at / 1000) }), q);
      const ours = normalize(new PromqlEngine(db).instantQuery(q, at), q);
      // 3 counters + 2 gauges + 2 × (4 buckets + sum + count) histograms, each with every grid point.
      expect(theirs.series).toHaveLength(17);
      for (const s of theirs.series) expect(s.points, `${s.key} in Prometheus`).toHaveLength(POINTS);
      expectSame(q, ours, theirs);
    }
    // Our scraper also wrote the per-scrape series, with the target's labels.
    const up = new PromqlEngine(db).instantQuery('up', tEnd());
    expect(up).toMatchObject({
      status: 'success',
      data: { result: [{ metric: { job: 'oracle', __name__: 'up' }, value: [tEnd() / 1000, '1'] }] },
    });
  });

  it(`gives Prometheus's answers to ${INSTANT.length} instant queries at several times`, async () => {
    const engine = new PromqlEngine(db);
    // On a sample, between samples, near the start of the data, and past the end (lookback).
    const times = [t0 + 10 * GRID_MS, t0 + 7 * GRID_MS + 700, t0 + 1000, tEnd() + 45_000];
    const empty: string[] = [];
    for (const q of INSTANT) {
      for (const at of times) {
        const theirs = normalize(
          await promQuery(prom, '/api/v1/query', { query: q, time: String(at / 1000) }),
          `${q} @${at}`,
        );
        const ours = normalize(engine.instantQuery(q, at), q);
        expectSame(`${q} @${at - t0}ms`, ours, theirs);
        if (at === times[0] && theirs.series.length === 0) empty.push(q);
      }
    }
    // Every query has an answer at the main instant: the comparison is never of two empty results.
    expect(empty).toEqual([]);
  });

  it(`gives Prometheus's answers to ${RANGE.length} range queries`, async () => {
    const engine = new PromqlEngine(db);
    for (const q of RANGE) {
      for (const [start, end, step] of [
        [t0 - 4000, tEnd() + 6000, 1000],
        [t0 + 500, tEnd(), 3000],
      ] as const) {
        const theirs = normalize(
          await promQuery(prom, '/api/v1/query_range', {
            query: q,
            start: String(start / 1000),
            end: String(end / 1000),
            step: String(step / 1000),
          }),
          q,
        );
        expect(theirs.series.length, `${q} has a result`).toBeGreaterThan(0);
        expectSame(
          `${q} [${start - t0}..${end - t0} step ${step}]`,
          normalize(engine.rangeQuery(q, start, end, step), q),
          theirs,
        );
      }
    }
  });

  it('refuses an unsupported function by name, listing what is supported', () => {
    const r = new PromqlEngine(db).instantQuery('predict_linear(oracle_temperature_celsius[10s], 60)', tEnd());
    expect(r).toMatchObject({ status: 'error', errorType: 'bad_data' });
    expect(r.status === 'error' && r.error).toMatch(/predict_linear\(\) is not supported; supported functions: .*rate/);
  });
});
