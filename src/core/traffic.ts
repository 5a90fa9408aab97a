/**
 * Connects the data plane to the stack: its listeners and routes, each service's stable address,
 * and one pool per service port (`web:http`) whose backends are the service's ready instances.
 * Between rollouts the supervisor's readiness decides membership (without a daemon: the live
 * instances in state, see local-traffic.ts); during a rollout the rollout owns the pools
 * (claim/release).
 */
import { serviceOutputsOf, serviceSpecOf, type InstanceOutput } from '../kinds/service/service-spec.js';
import { addressProtocolOf, type AddressProtocol, type ServiceAddress } from '../kinds/service/service-address.js';
import type { DataPlane, DnsService, HttpRoute, Listener } from '../proxy/data-plane.js';
import { listenerTlsFromSpec } from '../tls/listener-tls-spec.js';
import type { ListenerTls } from '../tls/tls-settings.js';
import { dnsSettingsFromState } from '../dns/dns-settings.js';
import { serviceAddressesFromState, serviceRecords } from '../dns/service-records.js';
import type { Logger } from '../util/logger.js';
import type { InstanceTraffic, TrafficDirector } from '../kinds/service/traffic-director.js';
import { sumTraffic } from '../kinds/service/traffic-director.js';
import type { ResourceRow } from '../store/store.js';
import { Duration } from '../util/duration.js';
import { ByteSize } from '../util/byte-size.js';

export function poolName(service: string, port: string): string {
  return `${service}:${port}`;
}

export function backendId(service: string, inst: InstanceOutput, port: string): string {
  return `${service}/${inst.index}#${inst.id}:${port}`;
}

const EMPTY: InstanceTraffic = { requests: 0, errors: 0, latency: { bounds: [], counts: [], sum: 0, count: 0 } };

export class StackTraffic implements TrafficDirector {
  private readonly claimed = new Set<string>();
  /** Port names per service, from recorded specs. */
  private readonly ports = new Map<string, string[]>();
  private stackListeners: Listener[] = [];
  private stackRoutes: HttpRoute[] = [];
  /** Stable service addresses the data plane serves. */
  private addresses = new Map<string, ExposedAddress>();
  private pushing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly plane: DataPlane,
    private readonly logger?: Logger,
  ) {}

  setServicePorts(service: string, ports: string[]): void {
    this.ports.set(service, [...ports].sort());
  }

  isClaimed(service: string): boolean {
    return this.claimed.has(service);
  }
  claim(service: string): void {
    this.claimed.add(service);
  }
  release(service: string): void {
    this.claimed.delete(service);
  }

  route(service: string, backends: { instance: InstanceOutput; weight: number }[]): void {
    for (const port of this.ports.get(service) ?? Object.keys(backends[0]?.instance.ports ?? {})) {
      this.plane.setPool(
        poolName(service, port),
        backends
          .filter((b) => b.instance.ports[port] !== undefined)
          .map((b) => ({
            id: backendId(service, b.instance, port),
            host: '127.0.0.1',
            port: b.instance.ports[port] as number,
            weight: b.weight,
          })),
      );
    }
  }

  /** Outside rollouts: the ready instances get equal traffic. */
  sync(service: string, ready: InstanceOutput[]): void {
    if (this.claimed.has(service)) return;
    this.route(
      service,
      ready.map((instance) => ({ instance, weight: 100 })),
    );
  }

  async drain(service: string, instance: InstanceOutput, timeout: Duration): Promise<void> {
    await Promise.all(
      Object.keys(instance.ports).map((port) => this.plane.drain(backendId(service, instance, port), timeout)),
    );
  }

  /** A data plane in another process keeps a metrics snapshot: canary analysis refreshes it first. */
  async refresh(): Promise<void> {
    await this.plane.refreshMetrics?.();
  }

  traffic(service: string, instance: InstanceOutput): InstanceTraffic {
    const m = this.plane.metrics();
    const parts: InstanceTraffic[] = [];
    for (const port of Object.keys(instance.ports)) {
      const b = m.backends[backendId(service, instance, port)];
      if (!b) continue;
      parts.push({ requests: b.requests, errors: b.status['5xx'] + b.status.error, latency: b.latency });
    }
    return parts.length ? sumTraffic(parts) : EMPTY;
  }

  async expose(
    service: string,
    address: ServiceAddress,
    protocols: Record<string, AddressProtocol>,
    instances: InstanceOutput[],
  ): Promise<void> {
    this.addresses.set(service, { address, protocols });
    if (!this.ports.has(service)) this.setServicePorts(service, Object.keys(address.ports));
    this.sync(service, instances);
    await this.push();
  }

  /** Listeners and routes from recorded state: the stack's own, plus each service's stable address. */
  async configure(rows: ResourceRow[]): Promise<void> {
    const listeners: Listener[] = [];
    const listenerRows = rows.filter((x) => x.kind === 'listener');
    for (const r of listenerRows) {
      const s = r.spec as {
        port: number;
        address: string;
        protocol: 'http' | 'tcp';
        service: string | null;
        target_port: string | null;
      };
      const name = r.address.slice('listener.'.length);
      if (s.protocol === 'tcp' && s.service && s.target_port) {
        listeners.push({
          name,
          protocol: 'tcp',
          host: s.address,
          port: s.port,
          pool: poolName(s.service, s.target_port),
          connectTimeout: Duration.seconds(2),
          idleTimeout: Duration.minutes(10),
        });
      } else listeners.push({ name, protocol: 'http', host: s.address, port: s.port, ...httpsOf(r, listenerRows) });
    }
    const routes: HttpRoute[] = rows
      .filter((x) => x.kind === 'route')
      .map((r) => {
        const s = r.spec as {
          host: string | null;
          path: string;
          service: string;
          port: string;
          listener: string | null;
          balance: 'round-robin' | 'least-connections';
          max_body: string;
          timeouts: { connect: string; idle: string; total: string };
          redirect_https?: boolean;
        };
        return {
          id: r.address,
          host: s.host,
          pathPrefix: s.path,
          ...routeHttpsRedirect(s, listenerRows),
          pool: poolName(s.service, s.port),
          balance: s.balance ?? 'round-robin',
          connectTimeout: Duration.parse(s.timeouts?.connect ?? '2s'),
          idleTimeout: Duration.parse(s.timeouts?.idle ?? '60s'),
          totalTimeout: Duration.parse(s.timeouts?.total ?? '5m'),
          maxBodyBytes: ByteSize.parse(s.max_body ?? '10MiB').toBytes(),
        };
      });
    const addresses = new Map<string, ExposedAddress>();
    for (const r of rows.filter((x) => x.kind === 'service')) {
      const a = serviceOutputsOf(r).address;
      if (!a) continue;
      const spec = serviceSpecOf(r);
      addresses.set(r.address.slice('service.'.length), {
        address: a,
        protocols: Object.fromEntries(Object.keys(a.ports).map((p) => [p, addressProtocolOf(spec, p)])),
      });
    }
    this.stackListeners = listeners;
    this.stackRoutes = routes;
    this.addresses = addresses;
    await this.push();
    await this.plane.setDns?.(dnsOf(rows, this.logger));
  }

  /** Sends the whole configuration; serialised, each push from the latest fields. */
  private push(): Promise<void> {
    const next = this.pushing.then(async () => {
      const own = this.stackListeners.filter((l) => l.protocol === 'http').map((l) => l.name);
      // A stack route without listeners means "every listener of the stack", never a service address.
      const routes: HttpRoute[] = this.stackRoutes.map((r) => (r.listeners.length ? r : { ...r, listeners: own }));
      const listeners: Listener[] = [...this.stackListeners];
      for (const [service, { address, protocols }] of [...this.addresses].sort(([a], [b]) => a.localeCompare(b))) {
        for (const [port, number] of Object.entries(address.ports)) {
          const name = addressListenerName(service, port);
          const pool = poolName(service, port);
          if (protocols[port] === 'http') {
            listeners.push({ name, protocol: 'http', host: address.host, port: number });
            routes.push({
              id: name,
              host: null,
              pathPrefix: '/',
              listeners: [name],
              pool,
              balance: 'round-robin',
              connectTimeout: Duration.seconds(2),
              idleTimeout: Duration.seconds(60),
              totalTimeout: Duration.minutes(5),
              maxBodyBytes: Number.MAX_SAFE_INTEGER, // calls between services are not limited here
            });
          } else
            listeners.push({
              name,
              protocol: 'tcp',
              host: address.host,
              port: number,
              pool,
              connectTimeout: Duration.seconds(2),
              idleTimeout: Duration.minutes(10),
            });
        }
      }
      this.plane.setRoutes(routes);
      await this.plane.setListeners(listeners);
    });
    this.pushing = next.catch(() => undefined);
    return next;
  }
}

/** The lab's DNS from state: the `dns:` section's zone and records, plus A/SRV of every service address. */
export function dnsOf(rows: ResourceRow[], logger?: Logger): DnsService | null {
  const settings = dnsSettingsFromState(rows);
  if (!settings) return null;
  for (const p of settings.problems) logger?.log('warn', 'dns: a record was skipped', { problem: p });
  return {
    zone: settings.zone,
    listen: settings.listen,
    upstreams: settings.upstreams,
    records: [...settings.records, ...serviceRecords(settings.zone, serviceAddressesFromState(rows))],
  };
}

/** TLS settings and the redirect to HTTPS of an http listener's recorded spec (src/model/listener-tls-spec.ts). */
function httpsOf(
  row: ResourceRow,
  listenerRows: ResourceRow[],
): { tls?: ListenerTls; redirectHttps?: { port: number } } {
  const name = row.address.slice('listener.'.length);
  const tls = listenerTlsFromSpec(name, row.spec);
  const target = (row.spec as { redirect_https?: string }).redirect_https;
  const to = target === undefined ? undefined : listenerRows.find((x) => x.address === `listener.${target}`);
  return {
    ...(tls === undefined ? {} : { tls }),
    ...(to === undefined ? {} : { redirectHttps: { port: (to.spec as { port: number }).port } }),
  };
}

/**
 * A route's listeners and its redirect to HTTPS (`redirect_https` in the stack file; checked by
 * src/config/tls-checks.ts). `true` sends plain requests to the route's own tls listener, or the
 * stack's only one; a route bound to a tls listener is then also matched on the plain listeners,
 * where it is only ever answered with the redirect. `false` opts out of a listener's redirect.
 */
function routeHttpsRedirect(
  s: { listener: string | null; redirect_https?: boolean },
  listenerRows: ResourceRow[],
): Pick<HttpRoute, 'listeners' | 'httpsRedirect'> {
  const own = s.listener ? [s.listener] : [];
  if (s.redirect_https === false) return { listeners: own, httpsRedirect: 'off' };
  if (s.redirect_https !== true) return { listeners: own };
  const hasTls = (r: ResourceRow) => (r.spec as { tls?: unknown }).tls != null;
  const tlsRows = listenerRows.filter(hasTls);
  const to = s.listener ? tlsRows.find((r) => r.address === `listener.${s.listener}`) : tlsRows[0];
  if (to === undefined || (!s.listener && tlsRows.length !== 1)) return { listeners: own };
  const plain = listenerRows
    .filter((r) => !hasTls(r) && (r.spec as { protocol?: string }).protocol !== 'tcp')
    .map((r) => r.address.slice('listener.'.length));
  return {
    listeners: s.listener ? [s.listener, ...plain] : [],
    httpsRedirect: { port: (to.spec as { port: number }).port },
  };
}

/** The data plane's name for the listener of a service's stable address, e.g. `service.api:http`. */
export function addressListenerName(service: string, port: string): string {
  return `service.${service}:${port}`;
}

interface ExposedAddress {
  address: ServiceAddress;
  protocols: Record<string, AddressProtocol>;
}
