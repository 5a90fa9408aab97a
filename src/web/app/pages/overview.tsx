/**
 * The overview: every service with its instances, health and current release, and the request
 * and error rates through the built-in proxy (groundwork_service_requests_total) over 15 minutes.
 */
import type { JSX } from 'preact';
import { getJson } from '../api.js';
import type { PromMatrix, ServiceView, Status } from '../api-types.js';
import { Chart, fromMatrix, type Series } from '../chart.js';
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

const RANGE_S = 15 * 60;
const STEP_S = 15;

interface Rates {
  times: number[];
  requests: Series[];
  errors: Series[];
}

async function loadRates(signal: AbortSignal): Promise<Rates> {
  // Whole seconds, the same for both queries, so their samples fall on the same times.
  const end = Math.floor(Date.now() / 1000);
  const start = end - RANGE_S;
  const range = async (query: string) => {
    const q = new URLSearchParams({ query, start: String(start), end: String(end), step: String(STEP_S) });
    const m = await getJson<PromMatrix>(`/api/v1/query_range?${q}`, signal);
    if (m.status !== 'success' || !m.data) throw new Error(`the metrics query failed: ${m.error ?? m.status}`);
    return fromMatrix(m.data.result, start, end, STEP_S, (metric) => metric.service ?? '(all)');
  };
  const [requests, errors] = await Promise.all([
    range('sum by (service) (rate(groundwork_service_requests_total[1m]))'),
    range('sum by (service) (rate(groundwork_service_requests_total{status_class=~"5xx|error"}[1m]))'),
  ]);
  return { times: requests.times, requests: requests.series, errors: errors.series };
}

export function OverviewPage(): JSX.Element {
  const status = useApi<Status>('/v1/status', { every: 5000 });
  const rates = useApi(loadRates, { every: 15_000 });
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
        <h2 id="traffic-h">Traffic, last 15 minutes</h2>
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
