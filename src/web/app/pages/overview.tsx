/**
 * The overview: every service with its instances, health and current release, and the request
 * and error rates through the built-in proxy (groundwork_service_requests_total) over a chosen range
 * (15 minutes unless the address names another).
 */
import type { JSX } from 'preact';
import { getJson } from '../api.js';
import type { PromMatrix, ServiceView, Status } from '../api-types.js';
import { Chart, fromMatrix, RangePicker, type Series } from '../chart.js';
import { describeRange, queryWindow, rangeKey, type TimeRange } from '../time-range.js';
import { useUrlRange } from '../url-state.js';
import { Link } from '../router.js';
import { usePoll } from '../use-poll.js';

export type Health = 'healthy' | 'degraded' | 'down' | 'stopped';

export function healthOf(s: ServiceView): Health {
  if (s.replicas === 0 && s.instances.length === 0) return 'stopped';
  const ready = s.instances.filter((i) => i.ready).length;
  if (ready === 0) return 'down';
  return ready >= s.replicas ? 'healthy' : 'degraded';
}

export function HealthBadge(p: { health: Health }): JSX.Element {
  return <span class={`badge ${p.health}`}>{p.health}</span>;
}

interface Rates {
  times: number[];
  requests: Series[];
  errors: Series[];
}

async function loadRates(r: TimeRange, signal: AbortSignal): Promise<Rates> {
  // The same window for both queries, so their samples fall on the same times.
  const { start, end, step } = queryWindow(r, Math.floor(Date.now() / 1000));
  // The rate's window spans at least a step, so a long range's points miss no request.
  const over = `${Math.max(60, step)}s`;
  const range = async (query: string) => {
    const q = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
    const m = await getJson<PromMatrix>(`/api/v1/query_range?${q}`, signal);
    if (m.status !== 'success' || !m.data) throw new Error(`the metrics query failed: ${m.error ?? m.status}`);
    return fromMatrix(m.data.result, start, end, step, (metric) => metric.service ?? '(all)');
  };
  const [requests, errors] = await Promise.all([
    range(`sum by (service) (rate(groundwork_service_requests_total[${over}]))`),
    range(`sum by (service) (rate(groundwork_service_requests_total{status_class=~"5xx|error"}[${over}]))`),
  ]);
  return { times: requests.times, requests: requests.series, errors: errors.series };
}

export function OverviewPage(): JSX.Element {
  const status = usePoll((signal) => getJson<Status>('/v1/status', signal), 5000);
  const [range, setRange] = useUrlRange();
  const rates = usePoll(
    (signal) => loadRates(range, signal),
    range.kind === 'custom' ? 2 ** 31 - 1 : 15_000,
    rangeKey(range),
  );
  const services = status.data?.services ?? [];
  return (
    <main id="main">
      <h1>{status.data ? `Stack ${status.data.stack}` : 'Overview'}</h1>
      {status.error ? (
        <p class="error" role="alert">
          {status.error}
        </p>
      ) : null}
      <section aria-labelledby="services-h">
        <h2 id="services-h">Services</h2>
        {status.data && services.length === 0 ? <p class="muted">No services in this stack yet.</p> : null}
        <table class="services">
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Health</th>
              <th scope="col">Instances</th>
              <th scope="col">Release</th>
              <th scope="col" class="wide">
                Runtime
              </th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => (
              <tr key={s.name} data-service={s.name}>
                <td>
                  <Link href={`/ui/services/${encodeURIComponent(s.name)}`}>{s.name}</Link>
                </td>
                <td>
                  <HealthBadge health={healthOf(s)} />
                </td>
                <td>
                  {s.instances.filter((i) => i.ready).length}/{s.replicas} ready
                </td>
                <td>{s.release === null ? '—' : `v${s.release}`}</td>
                <td class="wide">
                  {s.runtime} · {s.strategy}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="traffic-h" class="charts">
        <h2 id="traffic-h">Traffic, {describeRange(range)}</h2>
        <RangePicker value={range} onChange={setRange} />
        {rates.error ? <p class="error">{rates.error}</p> : null}
        {rates.data ? (
          <>
            <Chart title="Requests per second" times={rates.data.times} series={rates.data.requests} unit="/s" />
            <Chart
              title="Errors per second (5xx, no answer)"
              times={rates.data.times}
              series={rates.data.errors}
              unit="/s"
            />
          </>
        ) : (
          <p class="muted">Loading…</p>
        )}
      </section>
    </main>
  );
}
