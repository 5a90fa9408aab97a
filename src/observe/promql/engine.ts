/**
 * Evaluates the PromQL subset of ast.ts over a store of series, with Prometheus 2.x semantics:
 * an instant selector takes each series' latest sample in [t - lookback, t] (lookback 5 min), a
 * range selector the samples in [t - range, t], offsets shift both; a range query is the instant
 * evaluation at every step. Results have the shape of Prometheus's HTTP API
 * (`{status, data: {resultType, result}}`), so Grafana and promtool-style clients read them as is.
 */
import { errorMessage } from '../../util/error-message.js';
import { labelsKey, METRIC_NAME, type LabelMatcher, type Labels } from '../../promql/labels.js';
import type { SeriesSamples } from '../tsdb/metrics-db.js';
import {
  COMPARISON_OPS,
  SET_OPS,
  type AggregateOp,
  type BinaryOp,
  type Expr,
  type VectorMatching,
  type VectorSelectorExpr,
} from '../../promql/ast.js';
import { bucketQuantile, MATH_FUNCTIONS, RANGE_FUNCTIONS, type Window } from '../../promql/functions.js';
import { parsePromql, PromqlSyntaxError, typeOf } from '../../promql/parse.js';

/** What the engine reads: the MetricsDb, or anything shaped like its select(). */
export interface Queryable {
  select(matchers: readonly LabelMatcher[], minT: number, maxT: number): SeriesSamples[];
}

export interface PromqlEngineOptions {
  /** How far back an instant selector looks for a sample. Default 5 min, as Prometheus. */
  lookbackDeltaMs?: number;
  /** Refuse range queries with more steps than this (Prometheus: 11,000). */
  maxSteps?: number;
}

interface Sample {
  labels: Labels;
  value: number;
}
type Value =
  | { type: 'scalar'; value: number }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: SeriesSamples[] }
  | { type: 'string'; value: string };

/** A sample value as Prometheus's API writes it: [unix seconds, "value"]. */
export type ApiPoint = [number, string];
export type ApiResult =
  | { resultType: 'vector'; result: Array<{ metric: Labels; value: ApiPoint }> }
  | { resultType: 'matrix'; result: Array<{ metric: Labels; values: ApiPoint[] }> }
  | { resultType: 'scalar'; result: ApiPoint }
  | { resultType: 'string'; result: [number, string] };
export type ApiResponse =
  { status: 'success'; data: ApiResult } | { status: 'error'; errorType: 'bad_data' | 'execution'; error: string };

/** An error while evaluating a parsed query (HTTP 422, `execution`). */
export class PromqlExecutionError extends Error {}

/** Whether sample i of a series is a staleness marker (the series ended there, as in Prometheus). */
function isStale(s: SeriesSamples, i: number): boolean {
  return s.stale !== undefined && s.stale.has(s.t[i]!);
}

/** Formats a float as Go's strconv.FormatFloat(v, 'f', -1, 64) does (what Prometheus's API sends). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const s = String(v);
  if (!s.includes('e')) return s;
  // Magnitudes of 1e21 and more are integers in float64: print every digit.
  if (Math.abs(v) >= 1) return BigInt(v).toString();
  const m = /^(-?)(\d)(?:\.(\d+))?e-(\d+)$/.exec(s);
  if (!m) return s;
  return `${m[1]}0.${'0'.repeat(Number(m[4]) - 1)}${m[2]}${m[3] ?? ''}`;
}

/** Per-query caches so that label sets are compared and derived once, not once per step. */
class LabelCache {
  private readonly keys = new WeakMap<Labels, string>();
  private readonly withoutName = new WeakMap<Labels, Labels>();
  private readonly interned = new Map<string, Labels>();

  key(l: Labels): string {
    let k = this.keys.get(l);
    if (k === undefined) {
      k = labelsKey(l);
      this.keys.set(l, k);
    }
    return k;
  }

  dropName(l: Labels): Labels {
    if (!(METRIC_NAME in l)) return l;
    let out = this.withoutName.get(l);
    if (!out) {
      const copy: Record<string, string> = { ...l };
      delete copy[METRIC_NAME];
      out = this.intern(copy);
      this.withoutName.set(l, out);
    }
    return out;
  }

  /** One object per distinct label set, so derived caches keyed by object keep hitting. */
  intern(l: Labels): Labels {
    const k = labelsKey(l);
    let out = this.interned.get(k);
    if (!out) {
      out = l;
      this.interned.set(k, out);
      this.keys.set(out, k);
    }
    return out;
  }
}

/** Index of the first element of sorted `t` that is >= x. */
function lowerBound(t: readonly number[], x: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Where each series' window starts and ends at the last step. The steps of a range query move
 * forward, so the windows do too: each step advances the bounds by the few samples that entered
 * or left instead of searching the whole series twice. An evaluation at an earlier time (not
 * seen in range queries) falls back to binary search.
 */
interface WindowCursor {
  lastEnd: number;
  from: Int32Array;
  to: Int32Array;
}

type RangeFunction = (typeof RANGE_FUNCTIONS)[string];

/** An aggregation's running value for one group. */
interface GroupAcc {
  labels: Labels;
  value: number;
  mean: number;
  count: number;
}

/** Adds a sample's value to a group, with Prometheus's semantics for each operator. */
function accumulate(op: AggregateOp, g: GroupAcc, value: number): void {
  if (g.count === 0) {
    g.value = value;
    g.mean = value;
    g.count = 1;
    return;
  }
  g.count++;
  switch (op) {
    case 'sum':
      g.value += value;
      break;
    case 'avg':
      // Prometheus's incremental mean, which avoids overflowing on large values.
      if (!Number.isFinite(g.mean) && !Number.isNaN(g.mean)) {
        if (!Number.isFinite(value) && !Number.isNaN(value) && g.mean > 0 === value > 0) break;
        if (Number.isFinite(value)) break;
      }
      g.mean += value / g.count - g.mean / g.count;
      break;
    case 'max':
      if (g.value < value || Number.isNaN(g.value)) g.value = value;
      break;
    case 'min':
      if (g.value > value || Number.isNaN(g.value)) g.value = value;
      break;
    case 'count':
      break;
  }
}

function groupResult(op: AggregateOp, g: GroupAcc): number {
  return op === 'avg' ? g.mean : op === 'count' ? g.count : g.value;
}

/**
 * A fused `op by (...) (fn(selector[range]))`, the shape of most dashboard and alert queries:
 * each series' group is found once per query, and no intermediate sample objects are made.
 */
interface FusedAggregate {
  fn: RangeFunction;
  selector: VectorSelectorExpr;
  rangeMs: number;
  group: Int32Array;
  accs: GroupAcc[];
}

const COMPARISONS: ReadonlySet<string> = new Set(COMPARISON_OPS);
const SETS: ReadonlySet<string> = new Set(SET_OPS);

function arith(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
    case '^':
      return Math.pow(a, b);
    default:
      throw new PromqlExecutionError(`operator ${op} is not arithmetic`);
  }
}

function compare(op: BinaryOp, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '<':
      return a < b;
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
    default:
      throw new PromqlExecutionError(`operator ${op} is not a comparison`);
  }
}

class Evaluation {
  private readonly data = new Map<VectorSelectorExpr, SeriesSamples[]>();
  readonly labels = new LabelCache();
  private readonly groupKeys = new Map<Expr, WeakMap<Labels, { key: string; labels: Labels }>>();
  private readonly cursors = new Map<VectorSelectorExpr, WindowCursor>();
  private readonly fused = new Map<Expr, FusedAggregate | null>();
  /** One window object reused for every series: range functions run series × steps times. */
  private readonly w: Window = { t: [], v: [], from: 0, to: 0, rangeStart: 0, rangeEnd: 0, rangeMs: 0 };

  constructor(
    private readonly store: Queryable,
    private readonly lookbackMs: number,
    expr: Expr,
    startMs: number,
    endMs: number,
  ) {
    this.preload(expr, startMs, endMs);
  }

  /** Reads every selector's series once for the whole query range. */
  private preload(e: Expr, start: number, end: number, rangeMs?: number): void {
    switch (e.kind) {
      case 'vector-selector': {
        const back = rangeMs ?? this.lookbackMs;
        this.data.set(e, this.store.select(e.matchers, start - e.offsetMs - back, end - e.offsetMs));
        return;
      }
      case 'matrix-selector':
        return this.preload(e.selector, start, end, e.rangeMs);
      case 'call':
        return e.args.forEach((a) => this.preload(a, start, end));
      case 'aggregate':
      case 'unary':
        return this.preload(e.expr, start, end);
      case 'binary':
        this.preload(e.lhs, start, end);
        return this.preload(e.rhs, start, end);
      case 'number':
      case 'string':
        return;
    }
  }

  eval(e: Expr, ts: number): Value {
    switch (e.kind) {
      case 'number':
        return { type: 'scalar', value: e.value };
      case 'string':
        return { type: 'string', value: e.value };
      case 'vector-selector':
        return { type: 'vector', samples: this.instantSelect(e, ts) };
      case 'matrix-selector':
        return { type: 'matrix', series: this.rangeSelect(e.selector, e.rangeMs, ts) };
      case 'unary': {
        const v = this.eval(e.expr, ts);
        if (e.op === '+') return v;
        if (v.type === 'scalar') return { type: 'scalar', value: -v.value };
        if (v.type === 'vector') {
          return {
            type: 'vector',
            samples: v.samples.map((s) => ({ labels: this.labels.dropName(s.labels), value: -s.value })),
          };
        }
        throw new PromqlExecutionError(`unary minus needs a scalar or an instant vector, got a ${v.type}`);
      }
      case 'call':
        return this.call(e.fn, e.args, ts);
      case 'aggregate': {
        const fused = this.fusedAggregate(e);
        if (fused) return { type: 'vector', samples: this.evalFused(e.op, fused, ts) };
        return { type: 'vector', samples: this.aggregate(e, this.vector(e.expr, ts)) };
      }
      case 'binary':
        return this.binary(e.op, e.lhs, e.rhs, e.bool, e.matching, ts);
    }
  }

  private vector(e: Expr, ts: number): Sample[] {
    const v = this.eval(e, ts);
    if (v.type !== 'vector') throw new PromqlExecutionError(`expected an instant vector, got a ${v.type}`);
    return v.samples;
  }

  private scalar(e: Expr, ts: number): number {
    const v = this.eval(e, ts);
    if (v.type !== 'scalar') throw new PromqlExecutionError(`expected a scalar, got a ${v.type}`);
    return v.value;
  }

  private instantSelect(sel: VectorSelectorExpr, ts: number): Sample[] {
    const ref = ts - sel.offsetMs;
    const out: Sample[] = [];
    for (const s of this.data.get(sel) ?? []) {
      const i = lowerBound(s.t, ref + 1) - 1;
      if (i < 0) continue;
      const t = s.t[i]!;
      if (t < ref - this.lookbackMs) continue;
      if (isStale(s, i)) continue;
      out.push({ labels: s.labels, value: s.v[i]! });
    }
    return out;
  }

  private rangeWindows(sel: VectorSelectorExpr, rangeMs: number, ts: number) {
    const end = ts - sel.offsetMs;
    const start = end - rangeMs;
    return (this.data.get(sel) ?? []).map((s) => ({
      series: s,
      w: {
        t: s.t,
        v: s.v,
        from: lowerBound(s.t, start),
        to: lowerBound(s.t, end + 1),
        rangeStart: start,
        rangeEnd: end,
        rangeMs,
      },
    }));
  }

  private rangeSelect(sel: VectorSelectorExpr, rangeMs: number, ts: number): SeriesSamples[] {
    const out: SeriesSamples[] = [];
    for (const { series, w } of this.rangeWindows(sel, rangeMs, ts)) {
      const t: number[] = [];
      const v: number[] = [];
      for (let i = w.from; i < w.to; i++) {
        if (isStale(series, i)) continue;
        t.push(w.t[i]!);
        v.push(w.v[i]!);
      }
      if (t.length > 0) out.push({ labels: series.labels, t, v });
    }
    return out;
  }

  private call(fn: string, args: Expr[], ts: number): Value {
    const rangeFn = RANGE_FUNCTIONS[fn];
    if (rangeFn) {
      const arg = args[0]!;
      if (arg.kind !== 'matrix-selector')
        throw new PromqlExecutionError(`${fn}() needs a range selector such as x[5m]`);
      const out: Sample[] = [];
      const list = this.data.get(arg.selector) ?? [];
      const cursor = this.cursor(arg.selector, list.length, ts - arg.selector.offsetMs);
      for (let k = 0; k < list.length; k++) {
        const series = list[k]!;
        const value = rangeFn(this.window(series, k, cursor, arg.selector, arg.rangeMs, ts));
        if (value === undefined) continue;
        out.push({ labels: fn === 'last_over_time' ? series.labels : this.labels.dropName(series.labels), value });
      }
      return { type: 'vector', samples: out };
    }
    const math = MATH_FUNCTIONS[fn];
    if (math) {
      return {
        type: 'vector',
        samples: this.vector(args[0]!, ts).map((s) => ({
          labels: this.labels.dropName(s.labels),
          value: math(s.value),
        })),
      };
    }
    switch (fn) {
      case 'time':
        return { type: 'scalar', value: ts / 1000 };
      case 'vector':
        return { type: 'vector', samples: [{ labels: this.labels.intern({}), value: this.scalar(args[0]!, ts) }] };
      case 'scalar': {
        const v = this.vector(args[0]!, ts);
        return { type: 'scalar', value: v.length === 1 ? v[0]!.value : NaN };
      }
      case 'clamp_min':
      case 'clamp_max': {
        const bound = this.scalar(args[1]!, ts);
        const f = fn === 'clamp_min' ? Math.max : Math.min;
        return {
          type: 'vector',
          samples: this.vector(args[0]!, ts).map((s) => ({
            labels: this.labels.dropName(s.labels),
            value: f(s.value, bound),
          })),
        };
      }
      case 'histogram_quantile':
        return {
          type: 'vector',
          samples: this.histogramQuantile(this.scalar(args[0]!, ts), this.vector(args[1]!, ts)),
        };
      default:
        throw new PromqlExecutionError(`function ${fn}() has no implementation`);
    }
  }

  /** The cursor of a selector's series for a window ending at `end`; reset when time went back. */
  private cursor(sel: VectorSelectorExpr, n: number, end: number): WindowCursor {
    let c = this.cursors.get(sel);
    if (!c || c.from.length !== n) {
      c = { lastEnd: -Infinity, from: new Int32Array(n).fill(-1), to: new Int32Array(n) };
      this.cursors.set(sel, c);
    }
    if (end < c.lastEnd) c.from.fill(-1);
    c.lastEnd = end;
    return c;
  }

  /** Series k's samples in (ts - offset - range, ts - offset], as the shared window `this.w`. */
  private window(
    series: SeriesSamples,
    k: number,
    cursor: WindowCursor,
    sel: VectorSelectorExpr,
    rangeMs: number,
    ts: number,
  ): Window {
    const rangeEnd = ts - sel.offsetMs;
    const rangeStart = rangeEnd - rangeMs;
    const t = series.t;
    let from = cursor.from[k]!;
    let to: number;
    if (from < 0) {
      from = lowerBound(t, rangeStart);
      to = lowerBound(t, rangeEnd + 1);
    } else {
      to = cursor.to[k]!;
      while (from < t.length && t[from]! < rangeStart) from++;
      while (to < t.length && t[to]! <= rangeEnd) to++;
    }
    cursor.from[k] = from;
    cursor.to[k] = to;
    const w = this.w;
    w.t = t;
    w.v = series.v;
    w.from = from;
    w.to = to;
    w.rangeStart = rangeStart;
    w.rangeEnd = rangeEnd;
    w.rangeMs = rangeMs;
    if (series.stale) {
      // Staleness markers are not samples: copy the window without them (rare).
      const keep: number[] = [];
      for (let i = from; i < to; i++) if (!isStale(series, i)) keep.push(i);
      if (keep.length !== to - from) {
        w.t = keep.map((i) => t[i]!);
        w.v = keep.map((i) => series.v[i]!);
        w.from = 0;
        w.to = keep.length;
      }
    }
    return w;
  }

  /** The fused plan of an aggregation over a range function of a selector; null for other shapes. */
  private fusedAggregate(e: Extract<Expr, { kind: 'aggregate' }>): FusedAggregate | null {
    let plan = this.fused.get(e);
    if (plan !== undefined) return plan;
    plan = null;
    const inner = e.expr;
    const fn = inner.kind === 'call' ? RANGE_FUNCTIONS[inner.fn] : undefined;
    const arg = inner.kind === 'call' ? inner.args[0] : undefined;
    if (inner.kind === 'call' && fn && arg?.kind === 'matrix-selector') {
      const list = this.data.get(arg.selector) ?? [];
      const group = new Int32Array(list.length);
      const accs: GroupAcc[] = [];
      const byKey = new Map<string, number>();
      list.forEach((series, k) => {
        const labels = inner.fn === 'last_over_time' ? series.labels : this.labels.dropName(series.labels);
        const g = this.groupOf(e, labels, e.grouping, e.without);
        let gi = byKey.get(g.key);
        if (gi === undefined) {
          gi = accs.length;
          byKey.set(g.key, gi);
          accs.push({ labels: g.labels, value: 0, mean: 0, count: 0 });
        }
        group[k] = gi;
      });
      plan = { fn, selector: arg.selector, rangeMs: arg.rangeMs, group, accs };
    }
    this.fused.set(e, plan);
    return plan;
  }

  private evalFused(op: AggregateOp, plan: FusedAggregate, ts: number): Sample[] {
    const list = this.data.get(plan.selector) ?? [];
    const cursor = this.cursor(plan.selector, list.length, ts - plan.selector.offsetMs);
    for (const g of plan.accs) g.count = 0;
    // Groups in the order their first sample arrives, as the unfused path's Map keeps them.
    const order: GroupAcc[] = [];
    for (let k = 0; k < list.length; k++) {
      const value = plan.fn(this.window(list[k]!, k, cursor, plan.selector, plan.rangeMs, ts));
      if (value === undefined) continue;
      const g = plan.accs[plan.group[k]!]!;
      if (g.count === 0) order.push(g);
      accumulate(op, g, value);
    }
    return order.map((g) => ({ labels: g.labels, value: groupResult(op, g) }));
  }

  private histogramQuantile(q: number, samples: Sample[]): Sample[] {
    const groups = new Map<string, { labels: Labels; buckets: Array<{ upperBound: number; count: number }> }>();
    for (const s of samples) {
      const le = s.labels.le;
      if (le === undefined) continue;
      const upperBound = le === '+Inf' || le === 'Inf' || le === '+inf' ? Infinity : Number(le);
      if (Number.isNaN(upperBound)) continue;
      const rest: Record<string, string> = { ...s.labels };
      delete rest.le;
      delete rest[METRIC_NAME];
      const key = labelsKey(rest);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels: this.labels.intern(rest), buckets: [] }));
      g.buckets.push({ upperBound, count: s.value });
    }
    return [...groups.values()].map((g) => ({ labels: g.labels, value: bucketQuantile(q, g.buckets) }));
  }

  private groupOf(node: Expr, l: Labels, grouping: string[], without: boolean): { key: string; labels: Labels } {
    let cache = this.groupKeys.get(node);
    if (!cache) this.groupKeys.set(node, (cache = new WeakMap()));
    let g = cache.get(l);
    if (!g) {
      const out: Record<string, string> = {};
      if (without) {
        for (const [k, v] of Object.entries(l)) if (k !== METRIC_NAME && !grouping.includes(k)) out[k] = v;
      } else {
        for (const k of grouping) if (l[k] !== undefined && l[k] !== '') out[k] = l[k];
      }
      const labels = this.labels.intern(out);
      g = { key: this.labels.key(labels), labels };
      cache.set(l, g);
    }
    return g;
  }

  private aggregate(e: Extract<Expr, { kind: 'aggregate' }>, samples: Sample[]): Sample[] {
    const groups = new Map<string, GroupAcc>();
    for (const s of samples) {
      const g0 = this.groupOf(e, s.labels, e.grouping, e.without);
      let g = groups.get(g0.key);
      if (!g) groups.set(g0.key, (g = { labels: g0.labels, value: 0, mean: 0, count: 0 }));
      accumulate(e.op, g, s.value);
    }
    return [...groups.values()].map((g) => ({ labels: g.labels, value: groupResult(e.op, g) }));
  }

  private binary(op: BinaryOp, lhsE: Expr, rhsE: Expr, bool: boolean, matching: VectorMatching, ts: number): Value {
    const lhs = this.eval(lhsE, ts);
    const rhs = this.eval(rhsE, ts);
    const isCmp = COMPARISONS.has(op);
    if (lhs.type === 'scalar' && rhs.type === 'scalar') {
      return {
        type: 'scalar',
        value: isCmp ? (compare(op, lhs.value, rhs.value) ? 1 : 0) : arith(op, lhs.value, rhs.value),
      };
    }
    if (lhs.type === 'vector' && rhs.type === 'scalar')
      return { type: 'vector', samples: this.vectorScalar(op, lhs.samples, rhs.value, false, bool) };
    if (lhs.type === 'scalar' && rhs.type === 'vector')
      return { type: 'vector', samples: this.vectorScalar(op, rhs.samples, lhs.value, true, bool) };
    if (lhs.type === 'vector' && rhs.type === 'vector') {
      if (SETS.has(op)) return { type: 'vector', samples: this.setOp(op, lhs.samples, rhs.samples, matching) };
      return { type: 'vector', samples: this.vectorVector(op, lhs.samples, rhs.samples, matching, bool) };
    }
    throw new PromqlExecutionError(`operator ${op} needs scalars or instant vectors, got ${lhs.type} and ${rhs.type}`);
  }

  private vectorScalar(op: BinaryOp, samples: Sample[], scalar: number, scalarLeft: boolean, bool: boolean): Sample[] {
    const out: Sample[] = [];
    const isCmp = COMPARISONS.has(op);
    for (const s of samples) {
      const [a, b] = scalarLeft ? [scalar, s.value] : [s.value, scalar];
      if (isCmp) {
        const keep = compare(op, a, b);
        if (bool) out.push({ labels: this.labels.dropName(s.labels), value: keep ? 1 : 0 });
        else if (keep) out.push(s);
      } else {
        out.push({ labels: this.labels.dropName(s.labels), value: arith(op, a, b) });
      }
    }
    return out;
  }

  private signature(l: Labels, matching: VectorMatching): string {
    const pairs: Array<[string, string]> = [];
    if (matching.on) {
      for (const k of [...matching.labels].sort()) pairs.push([k, l[k] ?? '']);
    } else {
      for (const k of Object.keys(l).sort())
        if (k !== METRIC_NAME && !matching.labels.includes(k)) pairs.push([k, l[k]!]);
    }
    return JSON.stringify(pairs);
  }

  private setOp(op: BinaryOp, lhs: Sample[], rhs: Sample[], matching: VectorMatching): Sample[] {
    const rightSigs = new Set(rhs.map((s) => this.signature(s.labels, matching)));
    if (op === 'and') return lhs.filter((s) => rightSigs.has(this.signature(s.labels, matching)));
    if (op === 'unless') return lhs.filter((s) => !rightSigs.has(this.signature(s.labels, matching)));
    const leftSigs = new Set(lhs.map((s) => this.signature(s.labels, matching)));
    return [...lhs, ...rhs.filter((s) => !leftSigs.has(this.signature(s.labels, matching)))];
  }

  private vectorVector(
    op: BinaryOp,
    lhsIn: Sample[],
    rhsIn: Sample[],
    matching: VectorMatching,
    bool: boolean,
  ): Sample[] {
    const swap = matching.card === 'one-to-many';
    const [many, one] = swap ? [rhsIn, lhsIn] : [lhsIn, rhsIn];
    const oneBySig = new Map<string, Sample>();
    for (const s of one) {
      const sig = this.signature(s.labels, matching);
      if (oneBySig.has(sig)) {
        throw new PromqlExecutionError(
          `found duplicate series for the match group ${sig} on the ${swap ? 'left' : 'right'} hand-side of the operation; ` +
            'many-to-many matching not allowed: matching labels must be unique on one side',
        );
      }
      oneBySig.set(sig, s);
    }
    const isCmp = COMPARISONS.has(op);
    const matched = new Set<string>();
    const out: Sample[] = [];
    for (const s of many) {
      const sig = this.signature(s.labels, matching);
      const o = oneBySig.get(sig);
      if (!o) continue;
      if (matching.card === 'one-to-one') {
        if (matched.has(sig)) {
          throw new PromqlExecutionError(
            `multiple matches for labels ${sig}: many-to-one matching must be explicit (group_left/group_right)`,
          );
        }
        matched.add(sig);
      }
      const [a, b] = swap ? [o.value, s.value] : [s.value, o.value];
      let value: number;
      if (isCmp) {
        const keep = compare(op, a, b);
        if (!bool && !keep) continue;
        value = bool ? (keep ? 1 : 0) : a;
      } else {
        value = arith(op, a, b);
      }
      out.push({ labels: this.resultLabels(s.labels, o.labels, op, matching, bool), value });
    }
    return out;
  }

  private resultLabels(l: Labels, r: Labels, op: BinaryOp, matching: VectorMatching, bool: boolean): Labels {
    const out: Record<string, string> = { ...l };
    if (!COMPARISONS.has(op) || bool) delete out[METRIC_NAME];
    if (matching.card === 'one-to-one') {
      if (matching.on) {
        for (const k of Object.keys(out)) if (!matching.labels.includes(k)) delete out[k];
      } else {
        for (const k of matching.labels) delete out[k];
      }
    } else {
      for (const k of matching.include) {
        if (r[k] !== undefined && r[k] !== '') out[k] = r[k];
        else delete out[k];
      }
    }
    return this.labels.intern(out);
  }
}

function toApiPoint(ts: number, v: number): ApiPoint {
  return [ts / 1000, formatValue(v)];
}

function errorResponse(e: unknown): ApiResponse {
  const badData = e instanceof PromqlSyntaxError;
  return { status: 'error', errorType: badData ? 'bad_data' : 'execution', error: errorMessage(e) };
}

/** Parses and evaluates PromQL over a store. Stateless between queries. */
export class PromqlEngine {
  private readonly lookbackMs: number;
  private readonly maxSteps: number;

  constructor(
    private readonly store: Queryable,
    options: PromqlEngineOptions = {},
  ) {
    this.lookbackMs = options.lookbackDeltaMs ?? 300_000;
    this.maxSteps = options.maxSteps ?? 11_000;
  }

  /** `/api/v1/query`: the expression at one instant (Unix ms). */
  instantQuery(query: string, timeMs: number): ApiResponse {
    try {
      const expr = parsePromql(query);
      const ev = new Evaluation(this.store, this.lookbackMs, expr, timeMs, timeMs);
      const v = ev.eval(expr, timeMs);
      switch (v.type) {
        case 'scalar':
          return { status: 'success', data: { resultType: 'scalar', result: toApiPoint(timeMs, v.value) } };
        case 'string':
          return { status: 'success', data: { resultType: 'string', result: [timeMs / 1000, v.value] } };
        case 'vector':
          return {
            status: 'success',
            data: {
              resultType: 'vector',
              result: v.samples.map((s) => ({ metric: s.labels, value: toApiPoint(timeMs, s.value) })),
            },
          };
        case 'matrix':
          return {
            status: 'success',
            data: {
              resultType: 'matrix',
              result: v.series.map((s) => ({ metric: s.labels, values: s.t.map((t, i) => toApiPoint(t, s.v[i]!)) })),
            },
          };
      }
    } catch (e) {
      return errorResponse(e);
    }
  }

  /** `/api/v1/query_range`: the expression at start, start+step, ... <= end (Unix ms). */
  rangeQuery(query: string, startMs: number, endMs: number, stepMs: number): ApiResponse {
    try {
      if (!(stepMs > 0)) throw new PromqlSyntaxError(`step ${stepMs} ms must be positive; e.g. step=15s`);
      if (endMs < startMs) throw new PromqlSyntaxError('end timestamp must not be before start time');
      const steps = Math.floor((endMs - startMs) / stepMs) + 1;
      if (steps > this.maxSteps) {
        throw new PromqlSyntaxError(
          `exceeded maximum resolution of ${this.maxSteps} points per timeseries; try decreasing the query resolution (?step=XX)`,
        );
      }
      const expr = parsePromql(query);
      const type = typeOf(expr);
      if (type !== 'scalar' && type !== 'vector') {
        throw new PromqlSyntaxError(
          `invalid expression type "${type === 'matrix' ? 'range vector' : type}" for range query, must be Scalar or instant Vector`,
        );
      }
      const ev = new Evaluation(this.store, this.lookbackMs, expr, startMs, endMs);
      const series = new Map<string, { metric: Labels; values: ApiPoint[] }>();
      for (let ts = startMs; ts <= endMs; ts += stepMs) {
        const v = ev.eval(expr, ts);
        const samples =
          v.type === 'scalar'
            ? [{ labels: ev.labels.intern({}), value: v.value }]
            : v.type === 'vector'
              ? v.samples
              : [];
        for (const s of samples) {
          const key = ev.labels.key(s.labels);
          let out = series.get(key);
          if (!out) series.set(key, (out = { metric: s.labels, values: [] }));
          out.values.push(toApiPoint(ts, s.value));
        }
      }
      return { status: 'success', data: { resultType: 'matrix', result: [...series.values()] } };
    } catch (e) {
      return errorResponse(e);
    }
  }
}
