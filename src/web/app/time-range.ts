/**
 * The time range of a chart: a preset back from now (15 m … 7 d) or a custom from/to, kept in the
 * address as `range=1h` or `from=…&to=…` (Unix seconds), and the query step that gives a chart
 * about 240 points whatever the range.
 */

export const PRESETS = ['15m', '1h', '6h', '24h', '7d'] as const;
export type Preset = (typeof PRESETS)[number];

const PRESET_SECONDS: Record<Preset, number> = { '15m': 900, '1h': 3600, '6h': 21_600, '24h': 86_400, '7d': 604_800 };

export const PRESET_LABELS: Record<Preset, string> = {
  '15m': '15 minutes',
  '1h': '1 hour',
  '6h': '6 hours',
  '24h': '24 hours',
  '7d': '7 days',
};

export type TimeRange = { kind: 'preset'; preset: Preset } | { kind: 'custom'; from: number; to: number };

export const DEFAULT_RANGE: TimeRange = { kind: 'preset', preset: '15m' };

function isPreset(s: string | null): s is Preset {
  return (PRESETS as readonly (string | null)[]).includes(s);
}

/** The range a page's address names; the default when it names none (or a broken one). */
export function rangeFromSearch(q: URLSearchParams, fallback: TimeRange = DEFAULT_RANGE): TimeRange {
  const preset = q.get('range');
  if (isPreset(preset)) return { kind: 'preset', preset };
  const from = Number(q.get('from'));
  const to = Number(q.get('to'));
  if (q.has('from') && q.has('to') && Number.isInteger(from) && Number.isInteger(to) && from < to)
    return { kind: 'custom', from, to };
  return fallback;
}

/** Writes the range into `q` (removing the other form's parameters). */
export function rangeIntoSearch(r: TimeRange, q: URLSearchParams): URLSearchParams {
  q.delete('range');
  q.delete('from');
  q.delete('to');
  if (r.kind === 'preset') q.set('range', r.preset);
  else {
    q.set('from', String(r.from));
    q.set('to', String(r.to));
  }
  return q;
}

/** A stable text for the range (a key for reloading when it changes). */
export function rangeKey(r: TimeRange): string {
  return r.kind === 'preset' ? r.preset : `${r.from}-${r.to}`;
}

/** Steps a chart's query may use (seconds): whole minutes and hours, so times line up across reloads. */
const STEPS = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400];
const POINTS = 240;

export interface QueryWindow {
  /** Unix seconds, a multiple of `step` (so two queries of one window share their times). */
  start: number;
  end: number;
  step: number;
}

/** Start, end and step for a range query of `r` at `nowS` (Unix seconds). */
export function queryWindow(r: TimeRange, nowS: number): QueryWindow {
  const [from, to] = r.kind === 'preset' ? [nowS - PRESET_SECONDS[r.preset], nowS] : [r.from, r.to];
  const wanted = (to - from) / POINTS;
  const step = STEPS.find((s) => s >= wanted) ?? (STEPS[STEPS.length - 1] as number);
  const end = Math.floor(to / step) * step;
  const start = Math.max(Math.floor(from / step) * step, end - step * 10_000);
  return { start, end, step };
}

/** "last 1 hour", or the custom span in the reader's time zone. */
export function describeRange(r: TimeRange): string {
  if (r.kind === 'preset') return `last ${PRESET_LABELS[r.preset]}`;
  const f = (s: number) => new Date(s * 1000).toLocaleString();
  return `${f(r.from)} to ${f(r.to)}`;
}
