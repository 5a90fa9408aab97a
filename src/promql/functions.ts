/**
 * The PromQL functions Groundwork evaluates, with Prometheus 2.x semantics (promql/functions.go):
 * argument and result types for the parser, and the range-vector computations for the engine.
 */
import type { ValueType } from './ast.js';

export interface FunctionDef {
  args: ValueType[];
  /** How many trailing arguments may be left out. */
  optional?: number;
  returns: ValueType;
}

const RANGE: FunctionDef = { args: ['matrix'], returns: 'vector' };
const MATH: FunctionDef = { args: ['vector'], returns: 'vector' };

export const FUNCTIONS: Readonly<Record<string, FunctionDef>> = {
  rate: RANGE,
  increase: RANGE,
  delta: RANGE,
  irate: RANGE,
  idelta: RANGE,
  changes: RANGE,
  resets: RANGE,
  avg_over_time: RANGE,
  sum_over_time: RANGE,
  min_over_time: RANGE,
  max_over_time: RANGE,
  count_over_time: RANGE,
  last_over_time: RANGE,
  histogram_quantile: { args: ['scalar', 'vector'], returns: 'vector' },
  abs: MATH,
  ceil: MATH,
  floor: MATH,
  sqrt: MATH,
  exp: MATH,
  ln: MATH,
  clamp_min: { args: ['vector', 'scalar'], returns: 'vector' },
  clamp_max: { args: ['vector', 'scalar'], returns: 'vector' },
  time: { args: [], returns: 'scalar' },
  vector: { args: ['scalar'], returns: 'vector' },
  scalar: { args: ['vector'], returns: 'scalar' },
};

export const MATH_FUNCTIONS: Readonly<Record<string, (v: number) => number>> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  sqrt: Math.sqrt,
  exp: Math.exp,
  ln: Math.log,
};

/** The samples of one series inside a range window: t[from..to) and v[from..to). */
export interface Window {
  t: readonly number[];
  v: readonly number[];
  from: number;
  to: number;
  /** The window's bounds in ms (inclusive), offset applied. */
  rangeStart: number;
  rangeEnd: number;
  rangeMs: number;
}

/** Prometheus's extrapolatedRate: rate, increase and delta. */
function extrapolatedRate(w: Window, isCounter: boolean, isRate: boolean): number | undefined {
  const n = w.to - w.from;
  if (n < 2) return undefined;
  const firstT = w.t[w.from]!;
  const lastT = w.t[w.to - 1]!;
  const firstV = w.v[w.from]!;
  let result = w.v[w.to - 1]! - firstV;
  if (isCounter) {
    let prev = firstV;
    for (let i = w.from + 1; i < w.to; i++) {
      const cur = w.v[i]!;
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  let durationToStart = (firstT - w.rangeStart) / 1000;
  const durationToEnd = (w.rangeEnd - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const averageBetween = sampledInterval / (n - 1);
  if (isCounter && result > 0 && firstV >= 0) {
    // A counter cannot go below zero: do not extrapolate past the point where it would be zero.
    const durationToZero = sampledInterval * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = averageBetween * 1.1;
  let extrapolateTo = sampledInterval;
  extrapolateTo += durationToStart < threshold ? durationToStart : averageBetween / 2;
  extrapolateTo += durationToEnd < threshold ? durationToEnd : averageBetween / 2;
  let factor = extrapolateTo / sampledInterval;
  if (isRate) factor /= w.rangeMs / 1000;
  return result * factor;
}

function instantValue(w: Window, isRate: boolean): number | undefined {
  if (w.to - w.from < 2) return undefined;
  const last = w.v[w.to - 1]!;
  const prev = w.v[w.to - 2]!;
  const interval = w.t[w.to - 1]! - w.t[w.to - 2]!;
  if (interval === 0) return undefined;
  const result = isRate && last < prev ? last : last - prev;
  return isRate ? result / (interval / 1000) : result;
}

/** Neumaier-compensated sum, as Prometheus's kahanSumInc. */
function kahanSum(w: Window): number {
  let sum = 0;
  let c = 0;
  for (let i = w.from; i < w.to; i++) {
    const x = w.v[i]!;
    const t = sum + x;
    if (Math.abs(sum) >= Math.abs(x)) c += sum - t + x;
    else c += x - t + sum;
    sum = t;
  }
  return Number.isFinite(sum) ? sum + c : sum;
}

function avgOverTime(w: Window): number {
  let mean = 0;
  let c = 0;
  let count = 0;
  for (let i = w.from; i < w.to; i++) {
    const x = w.v[i]!;
    count++;
    if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
      if (!Number.isFinite(x) && !Number.isNaN(x) && mean > 0 === x > 0) continue;
      if (Number.isFinite(x)) continue;
    }
    const inc = x / count - mean / count;
    const t = mean + inc;
    if (Math.abs(mean) >= Math.abs(inc)) c += mean - t + inc;
    else c += inc - t + mean;
    mean = t;
  }
  return Number.isFinite(mean) ? mean + c : mean;
}

export const RANGE_FUNCTIONS: Readonly<Record<string, (w: Window) => number | undefined>> = {
  rate: (w) => extrapolatedRate(w, true, true),
  increase: (w) => extrapolatedRate(w, true, false),
  delta: (w) => extrapolatedRate(w, false, false),
  irate: (w) => instantValue(w, true),
  idelta: (w) => instantValue(w, false),
  changes: (w) => {
    if (w.to === w.from) return undefined;
    let n = 0;
    for (let i = w.from + 1; i < w.to; i++) {
      const a = w.v[i - 1]!;
      const b = w.v[i]!;
      if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) n++;
    }
    return n;
  },
  resets: (w) => {
    if (w.to === w.from) return undefined;
    let n = 0;
    for (let i = w.from + 1; i < w.to; i++) if (w.v[i]! < w.v[i - 1]!) n++;
    return n;
  },
  avg_over_time: (w) => (w.to > w.from ? avgOverTime(w) : undefined),
  sum_over_time: (w) => (w.to > w.from ? kahanSum(w) : undefined),
  count_over_time: (w) => (w.to > w.from ? w.to - w.from : undefined),
  last_over_time: (w) => (w.to > w.from ? w.v[w.to - 1] : undefined),
  min_over_time: (w) => {
    if (w.to === w.from) return undefined;
    let m = w.v[w.from]!;
    for (let i = w.from + 1; i < w.to; i++) if (w.v[i]! < m || Number.isNaN(m)) m = w.v[i]!;
    return m;
  },
  max_over_time: (w) => {
    if (w.to === w.from) return undefined;
    let m = w.v[w.from]!;
    for (let i = w.from + 1; i < w.to; i++) if (w.v[i]! > m || Number.isNaN(m)) m = w.v[i]!;
    return m;
  },
};

/** Prometheus's bucketQuantile over classic histogram buckets (upper bound, cumulative count). */
export function bucketQuantile(q: number, input: Array<{ upperBound: number; count: number }>): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const buckets = [...input].sort((a, b) => a.upperBound - b.upperBound);
  if (buckets.length < 2 || buckets[buckets.length - 1]!.upperBound !== Infinity) return NaN;
  // Coalesce buckets with the same upper bound, then force the counts to be monotonic.
  const merged: Array<{ upperBound: number; count: number }> = [];
  for (const b of buckets) {
    const last = merged[merged.length - 1];
    if (last && last.upperBound === b.upperBound) last.count += b.count;
    else merged.push({ ...b });
  }
  let max = -Infinity;
  for (const b of merged) {
    if (b.count > max) max = b.count;
    else b.count = max;
  }
  if (merged.length < 2) return NaN;
  const observations = merged[merged.length - 1]!.count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let b = merged.findIndex((x) => x.count >= rank);
  if (b === -1) b = merged.length - 1;
  if (b === merged.length - 1) return merged[merged.length - 2]!.upperBound;
  if (b === 0 && merged[0]!.upperBound <= 0) return merged[0]!.upperBound;
  let bucketStart = 0;
  const bucketEnd = merged[b]!.upperBound;
  let count = merged[b]!.count;
  if (b > 0) {
    bucketStart = merged[b - 1]!.upperBound;
    count -= merged[b - 1]!.count;
    rank -= merged[b - 1]!.count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}
