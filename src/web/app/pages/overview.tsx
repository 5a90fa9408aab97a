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
import { Table, type Column } from '../table.js';
import { useApi } from '../use-api.js';

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

const SERVICE_COLUMNS: Column<ServiceView>[] = [
  { head: 'Service', cell: (s) => <Link href={`/ui/services/${encodeURIComponent(s.name)}`}>{s.name}</Link> },
  { head: 'Health', cell: (s) => <HealthBadge health={healthOf(s)} /> },
  { head: 'Instances', cell: (s) => `${s.instances.filter((i) => i.ready).length}/${s.replicas} ready` },
  { head: 'Release', cell: (s) => (s.release === null ? '—' : `v${s.release}`) },
  { head: 'Runtime', cell: (s) => `${s.runtime} · ${s.strategy}`, wide: true },
];

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
  const status = useApi<Status>('/v1/status', { every: 5000 });
  const [range, setRange] = useUrlRange();
  const rates = useApi((signal) => loadRates(range, signal), {
    every: range.kind === 'custom' ? undefined : 15_000,
    key: rangeKey(range),
  });
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
        <Table
          class="services"
          rows={status.data?.services}
          columns={SERVICE_COLUMNS}
          rowKey={(s) => s.name}
          rowAttrs={(s) => ({ 'data-service': s.name })}
          empty="No services in this stack yet."
          labelledBy="services-h"
        />
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
