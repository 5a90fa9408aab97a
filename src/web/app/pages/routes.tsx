/**
 * Routes and DNS: the stack's listeners (bound, or failed with the reason and the next retry;
 * the certificate's expiry when it serves TLS), its routes with what they match and how many
 * ready backends take them, and the records of the lab's DNS zone (declared, and those of
 * service addresses). From GET /v1/status and GET /v1/network.
 */
import type { JSX } from 'preact';
import type { CertificateView, ListenerView, Network, RouteView, TrafficStatus } from '../explore-types.js';
import { Link } from '../router.js';
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

export function RoutesPage(): JSX.Element {
  const status = useApi<TrafficStatus>('/v1/status', { every: 5000 });
  const network = useApi<Network>('/v1/network', { every: 15_000 });
  const listeners = status.data?.listeners ?? [];
  const routes = status.data?.routes ?? [];
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
        {status.data && listeners.length === 0 ? (
          <p class="muted">No listeners: declare one under `listeners:` to take traffic.</p>
        ) : null}
        {listeners.length > 0 ? (
          <table class="listeners">
            <thead>
              <tr>
                <th scope="col">Listener</th>
                <th scope="col">Address</th>
                <th scope="col">State</th>
                <th scope="col" class="wide">
                  TLS
                </th>
              </tr>
            </thead>
            <tbody>
              {listeners.map((l) => (
                <tr key={l.name} data-listener={l.name}>
                  <td>
                    {l.name}
                    <div class="muted small">
                      {l.protocol}
                      {l.service ? ` → ${l.service}` : ''}
                    </div>
                  </td>
                  <td>{l.address}</td>
                  <td>
                    <ListenerState l={l} />
                  </td>
                  <td class="wide">
                    {l.tls ? <CertExpiry certs={certs.filter((c) => c.listener === l.name)} /> : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
      <section aria-labelledby="routes-h">
        <h2 id="routes-h">Routes</h2>
        {status.data && routes.length === 0 ? <p class="muted">No routes in this stack.</p> : null}
        {routes.length > 0 ? (
          <table class="routes">
            <thead>
              <tr>
                <th scope="col">Match</th>
                <th scope="col">Service</th>
                <th scope="col">Backends</th>
                <th scope="col" class="wide">
                  Listener
                </th>
              </tr>
            </thead>
            <tbody>
              {routes.map((r) => {
                const health = r.readyBackends === 0 ? 'down' : r.readyBackends < r.instances ? 'degraded' : 'healthy';
                return (
                  <tr key={r.id} data-route={r.id}>
                    <td>
                      <code>{matchOf(r)}</code>
                    </td>
                    <td>
                      <Link href={`/ui/services/${encodeURIComponent(r.service)}`}>{r.service}</Link>
                      <span class="muted small"> :{r.port}</span>
                    </td>
                    <td>
                      <span class={`badge ${health}`} data-testid="backends">
                        {r.readyBackends}/{r.instances} ready
                      </span>
                    </td>
                    <td class="wide">{r.listener ?? 'every http listener'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : null}
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
            <table class="dns">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Value</th>
                  <th scope="col" class="wide">
                    TTL
                  </th>
                  <th scope="col" class="wide">
                    From
                  </th>
                </tr>
              </thead>
              <tbody>
                {dns.records.map((r) => (
                  <tr key={`${r.name} ${r.type} ${r.value}`} data-record={r.name}>
                    <td class="name">{r.name}</td>
                    <td>{r.type}</td>
                    <td class="name">{r.value}</td>
                    <td class="wide">{r.ttl}s</td>
                    <td class="wide">{r.origin === 'service' ? 'service address' : 'stack file'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
      </section>
    </main>
  );
}
