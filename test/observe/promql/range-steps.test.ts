import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PromqlEngine, type ApiResponse } from '../../../src/observe/promql/engine.js';
import { MetricsDb } from '../../../src/observe/tsdb/metrics-db.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
let dir: string;
let db: MetricsDb;

/** A small deterministic generator so the data is the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

beforeEach(() => {
  dir = makeTempDir('promql-steps');
  db = MetricsDb.open({ path: path.join(dir, 'm.db') });
  const rnd = lcg(3);
  const stale = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer);
  for (let s = 0; s < 12; s++) {
    const labels = { __name__: 'req_total', job: `job${s % 3}`, instance: `i${s}` };
    let v = 0;
    // Irregular intervals, gaps, a counter reset, and series that end with a staleness marker.
    for (let t = T0 + s * 1_000; t < T0 + 3_600_000; t += 10_000 + Math.floor(rnd() * 20_000)) {
      if (t > T0 + 1_200_000 && t < T0 + 1_500_000 && s % 4 === 0) continue;
      v = s === 5 && t > T0 + 2_000_000 && v > 1000 ? 0 : v + Math.floor(rnd() * 40);
      db.append(labels, t, v);
      if (s % 5 === 1 && t > T0 + 3_000_000) {
        db.append(labels, t + 1, stale[0]!);
        break;
      }
    }
  }
});
afterEach(() => {
  db.close();
  removeTempDir(dir);
});

/** The range query's points, and the instant query's answer at every step, as comparable maps. */
function byStep(r: ApiResponse): Map<string, string> {
  const out = new Map<string, string>();
  if (r.status !== 'success') throw new Error(r.error);
  const d = r.data;
  if (d.resultType === 'matrix')
    for (const s of d.result) for (const [t, v] of s.values) out.set(`${JSON.stringify(s.metric)}@${t}`, v);
  if (d.resultType === 'vector')
    for (const s of d.result) out.set(`${JSON.stringify(s.metric)}@${s.value[0]}`, s.value[1]);
  return out;
}

describe('range queries', () => {
  // Range queries move each series' window forward step by step and fuse aggregations over
  // range functions; instant queries search from scratch. Both must give the same numbers.
  it.each([
    'sum by (job) (rate(req_total[5m]))',
    'max(increase(req_total[2m]))',
    'count by (job) (changes(req_total[90s]))',
    'avg without (instance) (delta(req_total[1m] offset 30s))',
    'rate(req_total[3m])',
    'min by (job) (last_over_time(req_total[4m]))',
  ])('%s: each step equals the instant query at that time', (q) => {
    const engine = new PromqlEngine(db);
    const [start, end, step] = [T0 + 60_000, T0 + 3_600_000, 45_000];
    const range = byStep(engine.rangeQuery(q, start, end, step));
    const instant = new Map<string, string>();
    for (let ts = start; ts <= end; ts += step)
      for (const [k, v] of byStep(engine.instantQuery(q, ts))) instant.set(k, v);
    expect(range.size).toBeGreaterThan(60);
    expect(range).toEqual(instant);
  });
});
