/**
 * Stable service addresses. Every locally run service with ports gets its own loopback address
 * (127.0.0.0/8 is all loopback on Linux) and one stable port per named port there. The data plane
 * listens on it and balances over the service's ready instances, so callers keep one address across
 * deploys, rollbacks, restarts and scaling (what a Kubernetes ClusterIP or a Swarm VIP gives).
 *
 * The address is assigned when the service is created and recorded in its outputs; later changes
 * keep it (a port added later gets a new stable port, a removed one is let go).
 */
import { createHash } from 'node:crypto';

/** What assignAddress needs of the run's port pool (resource-kind.ts's PortPool; structural, no import cycle). */
interface StablePortPool {
  reserve(port: number): void;
  allocate(purpose: 'address'): Promise<number>;
}

/** The parts of a service spec an address depends on (structural: service-spec.ts imports this file). */
interface AddressedSpec {
  ports: Record<string, 'auto' | number>;
  health?: { http?: { port?: string } } | null;
  liveness?: { http?: { port?: string } } | null;
}

export interface ServiceAddress {
  /** The service's own loopback address, e.g. 127.77.12.34. */
  host: string;
  /** Stable port per named port, at `host`. */
  ports: Record<string, number>;
}

/** How the data plane serves a port at the stable address. */
export type AddressProtocol = 'http' | 'tcp';

/**
 * A host in 127.77.0.0/16 derived from the stack and service names, so it is the same on every
 * machine that runs the stack (two services may share one; their stable ports still differ).
 */
export function loopbackHostFor(stack: string, service: string): string {
  const d = createHash('sha256').update(`${stack}\0${service}`).digest();
  const third = d[0] as number;
  const fourth = 1 + ((d[1] as number) % 254); // never .0 or .255
  return `127.77.${third}.${fourth}`;
}

/**
 * HTTP ports are proxied request by request (so a draining instance finishes its requests and
 * gets no new ones, even on a kept-alive connection); others connection by connection. A port is
 * HTTP when its name is `http` or starts with `http-`, or when the health or liveness probe is an
 * HTTP probe on it.
 */
export function addressProtocolOf(spec: AddressedSpec, port: string): AddressProtocol {
  if (port === 'http' || port.startsWith('http-')) return 'http';
  const first = Object.keys(spec.ports).sort()[0];
  for (const probe of [spec.health, spec.liveness]) {
    if (probe?.http && (probe.http.port ?? first) === port) return 'http';
  }
  return 'tcp';
}

/**
 * The address a service keeps: the prior one's host and ports for ports still declared, a fresh
 * stable port (from the run's pool) for each new one. Null for a service without ports.
 */
export async function assignAddress(
  stack: string,
  service: string,
  spec: Pick<AddressedSpec, 'ports'>,
  prior: ServiceAddress | null,
  pool: StablePortPool,
): Promise<ServiceAddress | null> {
  const names = Object.keys(spec.ports).sort();
  if (names.length === 0) return null;
  const ports: Record<string, number> = {};
  for (const n of names) {
    const kept = prior?.ports[n];
    if (kept !== undefined) {
      pool.reserve(kept);
      ports[n] = kept;
    } else ports[n] = await pool.allocate('address');
  }
  return { host: prior?.host ?? loopbackHostFor(stack, service), ports };
}

/** The recorded address, if `raw` (outputs.address) has its shape. */
export function parseServiceAddress(raw: unknown): ServiceAddress | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  if (typeof o.host !== 'string' || o.ports === null || typeof o.ports !== 'object' || Array.isArray(o.ports))
    return null;
  const ports: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.ports as Record<string, unknown>)) if (typeof v === 'number') ports[k] = v;
  return { host: o.host, ports };
}

export function addressToJson(a: ServiceAddress): ServiceAddress {
  return { host: a.host, ports: { ...a.ports } };
}

/** `host:port` and `http://host:port` of one port. */
export function formatAddress(a: ServiceAddress, port: string, form: 'address' | 'url'): string | undefined {
  const p = a.ports[port];
  if (p === undefined) return undefined;
  return form === 'url' ? `http://${a.host}:${p}` : `${a.host}:${p}`;
}
