/**
 * The contract between bench/run.ts and each `bench/*.bench.ts` file: a bench default-exports
 * `defineBench({ name, run })` and returns one BenchResult per measured number.
 */

/**
 * When a result passes. `max`/`min` bound the value itself; `max-ratio`/`min-ratio` bound
 * value ÷ reference (e.g. "our proxy's p99 latency at most 1.2× HAProxy's").
 */
export type Target =
  | { kind: 'max'; value: number }
  | { kind: 'min'; value: number }
  | { kind: 'max-ratio'; value: number }
  | { kind: 'min-ratio'; value: number };

export interface BenchResult {
  /** What was measured, e.g. "no-op plan, 5,000 recorded". */
  name: string;
  /** Which number of it, e.g. "wall time (median of 3)". */
  metric: string;
  value: number;
  /** ms, MiB, req/s, ... */
  unit: string;
  /** The same metric of a reference system measured in the same run (HAProxy, nginx, ...). */
  reference?: { name: string; value: number };
  /** Absent: the number is reported, not judged. */
  target?: Target;
  /** Every sample the value summarises, in run order. */
  samples?: number[];
  /** Anything that helps to read the number (phase times, sizes); written to latest.json only. */
  details?: Record<string, number | string>;
}

export interface BenchContext {
  /** Root of the repository (where package.json is). */
  root: string;
  /** A fresh scratch directory for this bench; removed after it unless --keep. */
  workDir: string;
  /** How many times each measurement runs; the bench reports the median. */
  repeat: number;
  /** When set, child processes write V8 CPU profiles (.cpuprofile) into it. */
  cpuProfileDir: string | undefined;
  /** Progress line for the user (stderr). */
  log(line: string): void;
}

export interface Bench {
  /** Kebab-case, as matched by `--only`. */
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

export function defineBench(b: Bench): Bench {
  return b;
}

/** A result as judged by the runner: ratio against the reference and pass/fail against the target. */
export interface JudgedResult extends BenchResult {
  bench: string;
  ratio: number | undefined;
  status: 'pass' | 'fail' | 'info' | 'error';
  error?: string;
}

export function judge(bench: string, r: BenchResult): JudgedResult {
  const ratio = r.reference && r.reference.value !== 0 ? r.value / r.reference.value : undefined;
  return { ...r, bench, ratio, status: r.target ? (meetsTarget(r.target, r.value, ratio) ? 'pass' : 'fail') : 'info' };
}

function meetsTarget(t: Target, value: number, ratio: number | undefined): boolean {
  switch (t.kind) {
    case 'max':
      return value <= t.value;
    case 'min':
      return value >= t.value;
    // A ratio target without a reference measured in this run cannot pass.
    case 'max-ratio':
      return ratio !== undefined && ratio <= t.value;
    case 'min-ratio':
      return ratio !== undefined && ratio >= t.value;
  }
}

export function describeTarget(t: Target, unit: string): string {
  switch (t.kind) {
    case 'max':
      return `<= ${formatNumber(t.value)} ${unit}`;
    case 'min':
      return `>= ${formatNumber(t.value)} ${unit}`;
    case 'max-ratio':
      return `<= ${t.value}x ref`;
    case 'min-ratio':
      return `>= ${t.value}x ref`;
  }
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  const abs = Math.abs(n);
  return n.toLocaleString('en-US', {
    maximumFractionDigits: abs >= 100 ? 0 : abs >= 10 ? 1 : 2,
    minimumFractionDigits: 0,
  });
}
