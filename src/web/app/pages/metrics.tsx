/**
 * The metrics explorer: any PromQL expression over a chosen range, drawn one line per series with
 * a legend. The query and the range live in the address (`?query=…&range=1h`), so a view can be
 * shared; an expression the engine refuses shows its message with a caret under the place it
 * names. Relative ranges reload every 30 s; a custom range is fixed, so it loads once.
 *
 * Beside the chart, a table of each series' value at the range's end (an instant query,
 * /api/v1/query, at the window's end): the numbers, sortable by eye, that a chart only suggests.
 * Which of the two is shown is in the address too (`?view=table`; the chart is the default).
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Chart, fromMatrix, RangePicker } from '../chart.js';
import { promGet, PromQueryError, queryRange, seriesLabel } from '../prom.js';
import { Table, type Column } from '../table.js';
import {
  describeRange,
  queryWindow,
  rangeIntoSearch,
  rangeKey,
  type QueryWindow,
  type TimeRange,
} from '../time-range.js';
import { setSearch, useSearch, useUrlRange } from '../url-state.js';
import { useApi } from '../use-api.js';

const EXAMPLES = [
  'sum by (service) (rate(groundwork_service_requests_total[5m]))',
  'groundwork_check_latency_seconds',
  'groundwork_instance_memory_bytes',
];

function QueryError(p: { query: string; message: string; position: number | undefined }): JSX.Element {
  return (
    <div class="query-error" role="alert" data-testid="query-error">
      <p class="error">{p.message}</p>
      {p.position !== undefined && p.position <= p.query.length ? (
        <pre class="caret" aria-label={`at character ${p.position + 1}`}>
          {p.query}
          {'\n'}
          {' '.repeat(p.position)}^
        </pre>
      ) : null}
    </div>
  );
}

const VIEWS = ['chart', 'table'] as const;
type View = (typeof VIEWS)[number];

/** One series' value at an instant, as the table shows it. */
interface InstantRow {
  label: string;
  /** The value as the engine wrote it ("NaN", "+Inf" included). */
  value: string;
}

/** A drawn answer, a table of values at the range's end, or the engine's refusal (kept as data: its position is needed). */
type Outcome =
  | { kind: 'drawn'; times: number[]; series: { label: string; values: (number | null)[] }[] }
  | { kind: 'instant'; at: number; rows: InstantRow[] }
  | { kind: 'refused'; message: string; position: number | undefined };

/** Each series' value at `time` (Unix seconds), sorted by label so the table reads the same on every reload. */
async function queryInstant(query: string, time: number, signal: AbortSignal): Promise<InstantRow[]> {
  const d = await promGet('query', { query, time: String(time) }, signal);
  if (d.resultType === 'vector')
    return d.result
      .map((s) => ({ label: seriesLabel(s.metric), value: s.value[1] }))
      .sort((a, b) => a.label.localeCompare(b.label));
  if (d.resultType === 'matrix')
    throw new PromQueryError(
      'a range vector has no single value per series: drop the [range] for the table',
      undefined,
    );
  return [{ label: '(scalar)', value: d.result[1] }];
}

async function load(query: string, range: TimeRange, view: View, signal: AbortSignal): Promise<Outcome> {
  const w: QueryWindow = queryWindow(range, Math.floor(Date.now() / 1000));
  try {
    if (view === 'table') return { kind: 'instant', at: w.end, rows: await queryInstant(query, w.end, signal) };
    const result = await queryRange(query, w, signal);
    return { kind: 'drawn', ...fromMatrix(result, w.start, w.end, w.step, seriesLabel) };
  } catch (e) {
    if (e instanceof PromQueryError) return { kind: 'refused', message: e.message, position: e.position };
    throw e;
  }
}

/** "1.5", "1,234,567", "0.000123": as many digits as say something, never a long float tail. */
function formatValue(raw: string): string {
  const n = Number(raw);
  if (!Number.isFinite(n)) return raw;
  return Math.abs(n) >= 1e15 || (n !== 0 && Math.abs(n) < 1e-4)
    ? n.toExponential(3)
    : n.toLocaleString(undefined, { maximumFractionDigits: 6 });
}

const INSTANT_COLUMNS: Column<InstantRow>[] = [
  { head: 'Series', cell: (r) => <code>{r.label}</code> },
  { head: 'Value', cell: (r) => <span title={r.value}>{formatValue(r.value)}</span> },
];

function viewOf(search: URLSearchParams): View {
  return search.get('view') === 'table' ? 'table' : 'chart';
}

export function MetricsPage(): JSX.Element {
  const search = useSearch();
  const query = search.get('query') ?? '';
  const [range, setRange] = useUrlRange();
  const view = viewOf(search);
  const setView = (v: View) => {
    const q = new URLSearchParams(location.search);
    if (v === 'chart') q.delete('view');
    else q.set('view', v);
    setSearch(q);
  };
  const [draft, setDraft] = useState(query);
  // Another address (back/forward, a shared link) brings its own query into the box.
  useEffect(() => setDraft(query), [query]);
  // A fixed (custom) range need not reload.
  const result = useApi((signal) => (query ? load(query, range, view, signal) : Promise.resolve(undefined)), {
    every: range.kind === 'custom' ? undefined : 30_000,
    key: `${query}\u0000${rangeKey(range)}\u0000${view}`,
  });
  const run = (e: Event) => {
    e.preventDefault();
    const q = rangeIntoSearch(range, new URLSearchParams());
    if (draft.trim()) q.set('query', draft.trim());
    if (view !== 'chart') q.set('view', view);
    setSearch(q);
  };

  return (
    <main id="main">
      <h1>Metrics</h1>
      <form class="query-form" onSubmit={run}>
        <label for="promql">PromQL query</label>
        <div class="query-row">
          <textarea
            id="promql"
            rows={2}
            spellcheck={false}
            placeholder={EXAMPLES[0]}
            value={draft}
            onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => {
              // Enter runs the query (as in Prometheus's expression browser); Shift+Enter breaks the line.
              if (e.key === 'Enter' && !e.shiftKey) run(e);
            }}
          />
          <button type="submit">Run</button>
        </div>
      </form>
      <div class="actions">
        <RangePicker value={range} onChange={setRange} />
        <div class="actions" role="group" aria-label="Show as">
          {VIEWS.map((v) => (
            <button key={v} type="button" data-view={v} aria-pressed={view === v} onClick={() => setView(v)}>
              {v === 'chart' ? 'Chart' : 'Table'}
            </button>
          ))}
        </div>
      </div>
      {!query ? (
        <div class="muted">
          <p>Type an expression and press Enter. For example:</p>
          <ul>
            {EXAMPLES.map((x) => (
              <li key={x}>
                <button type="button" class="link" onClick={() => setDraft(x)}>
                  <code>{x}</code>
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {query && result.error ? (
        <p class="error" role="alert">
          {result.error}
        </p>
      ) : null}
      {query && result.data?.kind === 'refused' ? (
        <QueryError query={query} message={result.data.message} position={result.data.position} />
      ) : null}
      {query && result.data?.kind === 'drawn' ? (
        <section class="charts" aria-live="polite">
          <Chart
            title={`${query}, ${describeRange(range)}`}
            times={result.data.times}
            series={result.data.series}
            unit=""
          />
          <p class="muted small" data-testid="series-count">
            {result.data.series.length} series
          </p>
        </section>
      ) : null}
      {query && result.data?.kind === 'instant' ? (
        <section aria-labelledby="instant-h" aria-live="polite">
          <h2 id="instant-h" class="small">
            {query}: each series at {new Date(result.data.at * 1000).toLocaleString()} (the end of the{' '}
            {describeRange(range)})
          </h2>
          <Table
            class="instant"
            rows={result.data.rows}
            columns={INSTANT_COLUMNS}
            rowKey={(r) => r.label}
            rowAttrs={(r) => ({ 'data-series': r.label, 'data-value': r.value })}
            empty="No series has a value at the end of the range."
            labelledBy="instant-h"
          />
          <p class="muted small" data-testid="series-count">
            {result.data.rows.length} series
          </p>
        </section>
      ) : null}
      {query && !result.data && !result.error ? <p class="muted">Loading…</p> : null}
    </main>
  );
}
