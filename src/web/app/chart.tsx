/**
 * A time-series chart (uPlot) of a Prometheus range query's series: one line per series, on a
 * shared time axis. uPlot draws on a canvas and needs its width: the chart follows its container
 * (ResizeObserver), so it fits 360 px screens.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { PRESET_LABELS, PRESETS, type TimeRange } from './time-range.js';

export interface Series {
  label: string;
  /** One value per time of `times`; null where the series has no sample. */
  values: (number | null)[];
}

export interface ChartProps {
  title: string;
  /** Unix seconds. */
  times: number[];
  series: Series[];
  unit: string;
}

/** Distinct hues that read on light and dark backgrounds. */
const PALETTE = ['#3b82f6', '#f97316', '#10b981', '#e11d48', '#a855f7', '#eab308', '#14b8a6', '#f43f5e'];

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function options(p: ChartProps, width: number): uPlot.Options {
  const ink = cssVar('--muted', '#666');
  const grid = cssVar('--grid', '#8884');
  const axis: uPlot.Axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height: 180,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(max, min + 1e-9, 0.1)] } },
    axes: [axis, { ...axis, size: 56, values: (_u, ticks) => ticks.map((t) => `${+t.toPrecision(3)}${p.unit}`) }],
    series: [
      {},
      ...p.series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length] ?? '#3b82f6',
        width: 1.5,
        spanGaps: false,
      })),
    ],
  };
}

export function Chart(p: ChartProps): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = p.series.map((s) => s.label).join('\u0000');

  // A new set of series needs a new chart (keyed by their labels); new values on the same
  // series only new data (the effect below).
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data: uPlot.AlignedData = [p.times, ...p.series.map((s) => s.values)];
    const u = new uPlot(options(p, Math.max(200, el.clientWidth)), data, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([p.times, ...p.series.map((s) => s.values)]);
  }, [p.times, p.series]);

  return (
    <figure class="chart" data-series={p.series.length}>
      <figcaption>{p.title}</figcaption>
      {p.series.length === 0 ? <p class="muted">No samples in this range yet.</p> : null}
      <div ref={box} class="chart-canvas" role="img" aria-label={p.title} />
    </figure>
  );
}

/**
 * A Prometheus matrix as chart data: the times from start to end by step, each series' values
 * placed at their time (a missing sample stays null, drawn as a gap).
 */
export function fromMatrix(
  result: { metric: Record<string, string>; values: [number, string][] }[],
  start: number,
  end: number,
  step: number,
  labelOf: (metric: Record<string, string>) => string,
): { times: number[]; series: Series[] } {
  const times: number[] = [];
  for (let t = start; t <= end; t += step) times.push(t);
  const index = new Map(times.map((t, i) => [t, i]));
  const series = result
    .map((r) => {
      const values: (number | null)[] = times.map(() => null);
      for (const [t, v] of r.values) {
        const i = index.get(t);
        if (i !== undefined) values[i] = Number(v);
      }
      return { label: labelOf(r.metric), values };
    })
    .sort((a, b) => a.label.localeCompare(b.label));
  return { times, series };
}

/** `YYYY-MM-DDTHH:MM` in local time, as a datetime-local input holds it. */
function localInput(unixS: number): string {
  const d = new Date(unixS * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The range of a page's charts: one button per preset (the pressed one is current) and a custom
 * from/to. Buttons, not a select, so one click or key press changes it.
 */
export function RangePicker(p: { value: TimeRange; onChange(r: TimeRange): void }): JSX.Element {
  const [custom, setCustom] = useState(p.value.kind === 'custom');
  const nowS = Math.floor(Date.now() / 1000);
  const initial = p.value.kind === 'custom' ? p.value : { from: nowS - 3600, to: nowS };
  const [from, setFrom] = useState(localInput(initial.from));
  const [to, setTo] = useState(localInput(initial.to));
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const apply = (e: Event) => {
    e.preventDefault();
    const f = Math.floor(Date.parse(from) / 1000);
    const t = Math.floor(Date.parse(to) / 1000);
    if (!Number.isFinite(f) || !Number.isFinite(t)) return setProblem('enter both times');
    if (f >= t) return setProblem('"from" must be before "to"');
    setProblem(undefined);
    p.onChange({ kind: 'custom', from: f, to: t });
  };
  return (
    <div class="range-picker">
      <div role="group" aria-label="Time range" class="range-buttons">
        {PRESETS.map((preset) => (
          <button
            key={preset}
            type="button"
            data-range={preset}
            aria-pressed={p.value.kind === 'preset' && p.value.preset === preset}
            title={`The last ${PRESET_LABELS[preset]}`}
            onClick={() => {
              setCustom(false);
              p.onChange({ kind: 'preset', preset });
            }}
          >
            {preset}
          </button>
        ))}
        <button
          type="button"
          data-range="custom"
          aria-pressed={p.value.kind === 'custom' || custom}
          aria-expanded={custom}
          onClick={() => setCustom(!custom)}
        >
          Custom
        </button>
      </div>
      {custom ? (
        <form class="range-custom" onSubmit={apply}>
          <label>
            From <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <label>
            To <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
          <button type="submit">Apply</button>
          {problem ? (
            <span class="error" role="alert">
              {problem}
            </span>
          ) : null}
        </form>
      ) : null}
    </div>
  );
}
