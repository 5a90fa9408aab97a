/**
 * The metrics explorer: any PromQL expression over a chosen range, drawn one line per series with
 * a legend. The query and the range live in the address (`?query=…&range=1h`), so a view can be
 * shared; an expression the engine refuses shows its message with a caret under the place it
 * names. Relative ranges reload every 30 s; a custom range is fixed, so it loads once.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Chart, fromMatrix, RangePicker } from '../chart.js';
import { PromQueryError, queryRange, seriesLabel } from '../prom.js';
import { describeRange, queryWindow, rangeIntoSearch, rangeKey, type TimeRange } from '../time-range.js';
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

/** A drawn answer, or the engine's refusal (kept as data: its position is needed, not only its text). */
type Outcome =
  | { kind: 'drawn'; times: number[]; series: { label: string; values: (number | null)[] }[] }
  | { kind: 'refused'; message: string; position: number | undefined };

async function load(query: string, range: TimeRange, signal: AbortSignal): Promise<Outcome> {
  const w = queryWindow(range, Math.floor(Date.now() / 1000));
  try {
    const result = await queryRange(query, w, signal);
    return { kind: 'drawn', ...fromMatrix(result, w.start, w.end, w.step, seriesLabel) };
  } catch (e) {
    if (e instanceof PromQueryError) return { kind: 'refused', message: e.message, position: e.position };
    throw e;
  }
}

export function MetricsPage(): JSX.Element {
  const search = useSearch();
  const query = search.get('query') ?? '';
  const [range, setRange] = useUrlRange();
  const [draft, setDraft] = useState(query);
  // Another address (back/forward, a shared link) brings its own query into the box.
  useEffect(() => setDraft(query), [query]);
  // A fixed (custom) range need not reload.
  const result = useApi((signal) => (query ? load(query, range, signal) : Promise.resolve(undefined)), {
    every: range.kind === 'custom' ? undefined : 30_000,
    key: `${query}\u0000${rangeKey(range)}`,
  });
  const run = (e: Event) => {
    e.preventDefault();
    const q = rangeIntoSearch(range, new URLSearchParams());
    if (draft.trim()) q.set('query', draft.trim());
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
      <RangePicker value={range} onChange={setRange} />
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
      {query && !result.data && !result.error ? <p class="muted">Loading…</p> : null}
    </main>
  );
}
