/**
 * Checks: each with its state (up, down, pending since when), its last run, error and latency,
 * the days left on a TLS certificate it watches; and, over a chosen range, a chart of each
 * check's latency and one of its state (1 up, 0 down), from the metrics the daemon records
 * (groundwork_check_latency_seconds, groundwork_check_up).
 */
import type { JSX } from 'preact';
import { Chart, fromMatrix, RangePicker, type Series } from '../chart.js';
import type { CheckView, TrafficStatus } from '../explore-types.js';
import { ago } from '../format.js';
import { queryRange } from '../prom.js';
import { describeRange, queryWindow, rangeKey, type TimeRange } from '../time-range.js';
import { useUrlRange } from '../url-state.js';
import { useApi } from '../use-api.js';

const STATE_BADGE: Record<CheckView['state'], string> = { up: 'healthy', down: 'down', pending: 'stopped' };

interface History {
  times: number[];
  latency: Series[];
  up: Series[];
}

async function loadHistory(range: TimeRange, signal: AbortSignal): Promise<History> {
  const w = queryWindow(range, Math.floor(Date.now() / 1000));
  const byCheck = (m: Record<string, string>) => m.check ?? '?';
  const [latency, up] = await Promise.all([
    queryRange('groundwork_check_latency_seconds * 1000', w, signal),
    queryRange('groundwork_check_up', w, signal),
  ]);
  const l = fromMatrix(latency, w.start, w.end, w.step, byCheck);
  return { times: l.times, latency: l.series, up: fromMatrix(up, w.start, w.end, w.step, byCheck).series };
}

function latencyText(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function ChecksPage(): JSX.Element {
  const status = useApi<TrafficStatus>('/v1/status', { every: 5000 });
  const [range, setRange] = useUrlRange();
  const history = useApi((signal) => loadHistory(range, signal), {
    every: range.kind === 'custom' ? undefined : 15_000,
    key: rangeKey(range),
  });
  const checks = status.data?.checks ?? [];
  return (
    <main id="main">
      <h1>Checks</h1>
      {status.error ? (
        <p class="error" role="alert">
          {status.error}
        </p>
      ) : null}
      {status.data && checks.length === 0 ? (
        <p class="muted">No checks: declare them under `checks:` (http, tcp, dns, tls, push).</p>
      ) : null}
      {checks.length > 0 ? (
        <table class="checks">
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">State</th>
              <th scope="col">Last run</th>
              <th scope="col">Latency</th>
              <th scope="col" class="wide">
                Last error
              </th>
            </tr>
          </thead>
          <tbody>
            {checks.map((c) => (
              <tr key={c.name} data-check={c.name}>
                <td>
                  {c.name}
                  <div class="muted small">
                    {c.type}
                    {c.tlsDaysLeft !== null ? ` · certificate: ${c.tlsDaysLeft} days left` : ''}
                  </div>
                </td>
                <td>
                  <span class={`badge ${STATE_BADGE[c.state]}`}>{c.state}</span>
                  {c.since ? <div class="muted small">since {ago(c.since)}</div> : null}
                </td>
                <td>{c.type === 'push' ? `ping ${ago(c.lastPingAt)}` : ago(c.lastRunAt)}</td>
                <td>{latencyText(c.lastLatencyMs)}</td>
                <td class="wide">{c.lastError ? <span class="error small">{c.lastError}</span> : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <section aria-labelledby="history-h" class="charts">
        <h2 id="history-h">History, {describeRange(range)}</h2>
        <RangePicker value={range} onChange={setRange} />
        {history.error ? <p class="error">{history.error}</p> : null}
        {history.data ? (
          <>
            <Chart title="Latency (ms)" times={history.data.times} series={history.data.latency} unit="ms" />
            <Chart title="Up (1) or down (0)" times={history.data.times} series={history.data.up} unit="" />
          </>
        ) : (
          <p class="muted">Loading…</p>
        )}
      </section>
    </main>
  );
}
