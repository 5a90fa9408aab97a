/**
 * The overview: every service with its instances, health and current release, and the request
 * and error rates through the built-in proxy (groundwork_service_requests_total) over a chosen range
 * (15 minutes unless the address names another).
 */
import type { JSX } from 'preact';
import { getJson, startEarly } from '../api.js';
import type { PromMatrix, ServiceView, Status } from '../api-types.js';
import { Chart, fromMatrix, RangePicker, type Series } from '../chart.js';
import { overviewQueries } from '../overview-queries.js';
import { describeRange, rangeFromSearch, rangeKey, type TimeRange } from '../time-range.js';
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

const STATUS = '/v1/status';
const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Asks for the overview's answers before it renders (called by the entry when the address is the
 * overview): the page's own requests then take them in flight (api.ts, startEarly).
 */
export function startOverview(): void {
  startEarly(STATUS);
  const q = overviewQueries(rangeFromSearch(new URLSearchParams(location.search)), nowSeconds());
  startEarly(q.requests);
  startEarly(q.errors);
}

async function loadRates(r: TimeRange, signal: AbortSignal): Promise<Rates> {
  const { window, requests, errors } = overviewQueries(r, nowSeconds());
  const { start, end, step } = window;
  const range = async (path: string) => {
    const m = await getJson<PromMatrix>(path, signal);
    if (m.status !== 'success' || !m.data) throw new Error(`the metrics query failed: ${m.error ?? m.status}`);
    return fromMatrix(m.data.result, start, end, step, (metric) => metric.service ?? '(all)');
  };
  const [req, err] = await Promise.all([range(requests), range(errors)]);
  return { times: req.times, requests: req.series, errors: err.series };
}

export function OverviewPage(): JSX.Element {
  const status = useApi<Status>(STATUS, { every: 5000 });
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
