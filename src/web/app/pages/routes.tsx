/**
 * Routes and DNS: the stack's listeners (bound, or failed with the reason and the next retry;
 * the certificate's expiry when it serves TLS), its routes with what they match and how many
 * ready backends take them, and the records of the lab's DNS zone (declared, and those of
 * service addresses). From GET /v1/status and GET /v1/network.
 */
import type { JSX } from 'preact';
import type { CertificateView, ListenerView, Network, RouteView, TrafficStatus } from '../explore-types.js';
import { Link } from '../router.js';
import { Table, type Column } from '../table.js';
import { useApi } from '../use-api.js';

const DAY_MS = 86_400_000;

/** "expires in 41 days (2027-01-12)", warning under 14 days (the internal CA renews at 30). */
function CertExpiry(p: { certs: CertificateView[] }): JSX.Element {
  if (p.certs.length === 0) return <span class="muted">no certificate reported yet</span>;
  return (
    <>
      {p.certs.map((c) => {
        const hosts = c.hosts.join(', ');
        if (c.error)
          return (
            <div key={hosts} class="error">
              {hosts}: {c.error}
            </div>
          );
        if (!c.notAfter) return <div key={hosts}>{hosts}: not obtained yet</div>;
        const days = Math.floor((Date.parse(c.notAfter) - Date.now()) / DAY_MS);
        const cls = days < 0 ? 'error' : days < 14 ? 'warn' : undefined;
        return (
          <div key={hosts} class={cls} data-testid="cert-expiry">
            {hosts}: {days < 0 ? `expired ${-days} days ago` : `expires in ${days} days`} ({c.notAfter.slice(0, 10)},{' '}
            {c.source})
          </div>
        );
      })}
    </>
  );
}

function ListenerState(p: { l: ListenerView }): JSX.Element {
  const cls = p.l.state === 'bound' ? 'healthy' : p.l.state === 'failed' ? 'down' : 'stopped';
  return (
    <>
      <span class={`badge ${cls}`}>{p.l.state}</span>
      {p.l.error ? (
        <div class="error small">
          {p.l.error}
          {p.l.retryAt
            ? ` (next try in ${Math.max(0, Math.round((Date.parse(p.l.retryAt) - Date.now()) / 1000))}s)`
            : ''}
        </div>
      ) : null}
    </>
  );
}

function matchOf(r: RouteView): string {
  return `${r.host ?? '*'}${r.path}`;
}

function listenerColumns(certs: CertificateView[]): Column<ListenerView>[] {
  return [
    {
      head: 'Listener',
      cell: (l) => (
        <>
          {l.name}
          <div class="muted small">
            {l.protocol}
            {l.service ? ` → ${l.service}` : ''}
          </div>
        </>
      ),
    },
    { head: 'Address', cell: (l) => l.address },
    { head: 'State', cell: (l) => <ListenerState l={l} /> },
    {
      head: 'TLS',
      wide: true,
      cell: (l) => (l.tls ? <CertExpiry certs={certs.filter((c) => c.listener === l.name)} /> : '—'),
    },
  ];
}

const ROUTE_COLUMNS: Column<RouteView>[] = [
  { head: 'Match', cell: (r) => <code>{matchOf(r)}</code> },
  {
    head: 'Service',
    cell: (r) => (
      <>
        <Link href={`/ui/services/${encodeURIComponent(r.service)}`}>{r.service}</Link>
        <span class="muted small"> :{r.port}</span>
      </>
    ),
  },
  {
    head: 'Backends',
    cell: (r) => {
      const health = r.readyBackends === 0 ? 'down' : r.readyBackends < r.instances ? 'degraded' : 'healthy';
      return (
        <span class={`badge ${health}`} data-testid="backends">
          {r.readyBackends}/{r.instances} ready
        </span>
      );
    },
  },
  { head: 'Listener', wide: true, cell: (r) => r.listener ?? 'every http listener' },
];

type DnsRecord = NonNullable<Network['dns']>['records'][number];

const DNS_COLUMNS: Column<DnsRecord>[] = [
  { head: 'Name', class: 'name', cell: (r) => r.name },
  { head: 'Type', cell: (r) => r.type },
  { head: 'Value', class: 'name', cell: (r) => r.value },
  { head: 'TTL', wide: true, cell: (r) => `${r.ttl}s` },
  { head: 'From', wide: true, cell: (r) => (r.origin === 'service' ? 'service address' : 'stack file') },
];

export function RoutesPage(): JSX.Element {
  const status = useApi<TrafficStatus>('/v1/status', { every: 5000 });
  const network = useApi<Network>('/v1/network', { every: 15_000 });
  const dns = network.data?.dns ?? null;
  const certs = network.data?.certificates ?? [];
  return (
    <main id="main">
      <h1>Routes and DNS</h1>
      {status.error ? (
        <p class="error" role="alert">
          {status.error}
        </p>
      ) : null}
      <section aria-labelledby="listeners-h">
        <h2 id="listeners-h">Listeners</h2>
        <Table
          class="listeners"
          rows={status.data?.listeners}
          columns={listenerColumns(certs)}
          rowKey={(l) => l.name}
          rowAttrs={(l) => ({ 'data-listener': l.name })}
          empty="No listeners: declare one under `listeners:` to take traffic."
          labelledBy="listeners-h"
        />
      </section>
      <section aria-labelledby="routes-h">
        <h2 id="routes-h">Routes</h2>
        <Table
          class="routes"
          rows={status.data?.routes}
          columns={ROUTE_COLUMNS}
          rowKey={(r) => r.id}
          rowAttrs={(r) => ({ 'data-route': r.id })}
          empty="No routes in this stack."
          labelledBy="routes-h"
        />
      </section>
      <section aria-labelledby="dns-h">
        <h2 id="dns-h">DNS{dns ? ` zone ${dns.zone}` : ''}</h2>
        {network.error ? <p class="error">{network.error}</p> : null}
        {network.data && !dns ? <p class="muted">No DNS zone: add a `dns:` section to serve the lab's names.</p> : null}
        {dns ? (
          <>
            <p class="muted small">
              Served on {dns.listen}; service names get A and SRV records from their stable addresses.
            </p>
            {dns.problems.map((p) => (
              <p key={p} class="error small">
                {p}
              </p>
            ))}
            <Table
              class="dns"
              rows={dns.records}
              columns={DNS_COLUMNS}
              rowKey={(r) => `${r.name} ${r.type} ${r.value}`}
              rowAttrs={(r) => ({ 'data-record': r.name })}
              labelledBy="dns-h"
            />
          </>
        ) : null}
      </section>
    </main>
  );
}
