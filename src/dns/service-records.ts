/**
 * Records for the stable service addresses: for every service, `A NAME.<zone>` → its address,
 * and for every named port `SRV _PORT._tcp.NAME.<zone>` → priority 0, weight 0, that port,
 * target `NAME.<zone>`. Pure: the caller reads the services (their `address` outputs) from state.
 */
import { DEFAULT_RECORD_TTL, normaliseName, type DnsRecord } from './dns-record.js';

/** What the service kind records as a service's stable address (its outputs' `address`). */
export interface ServiceAddress {
  /** An IPv4 loopback address such as 127.77.0.2 (IPv6 becomes an AAAA record). */
  host: string;
  /** Named port → port number at that address. */
  ports: Record<string, number>;
}

export interface ServiceWithAddress {
  name: string;
  address: ServiceAddress;
}

/** Service records live only as long as the service; a short TTL keeps caches honest after a rename. */
export const SERVICE_RECORD_TTL = 30;

export function serviceRecords(zone: string, services: readonly ServiceWithAddress[]): DnsRecord[] {
  const origin = normaliseName(zone);
  const out: DnsRecord[] = [];
  const ttl = Math.min(SERVICE_RECORD_TTL, DEFAULT_RECORD_TTL);
  for (const svc of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
    const name = `${svc.name.toLowerCase()}.${origin}`;
    const host = svc.address.host;
    out.push(host.includes(':') ? { type: 'AAAA', name, ttl, address: host } : { type: 'A', name, ttl, address: host });
    for (const [portName, port] of Object.entries(svc.address.ports).sort(([a], [b]) => a.localeCompare(b))) {
      out.push({
        type: 'SRV',
        name: `_${portName.toLowerCase()}._tcp.${name}`,
        ttl,
        priority: 0,
        weight: 0,
        port,
        target: name,
      });
    }
  }
  return out;
}

/** The part of a state row `serviceAddressesFromState` reads. */
export interface ServiceStateRow {
  address: string;
  kind: string;
  outputs: Record<string, unknown>;
}

/**
 * Services of recorded state that have a stable address (`outputs.address: { host, ports }`),
 * checked rather than cast: a row without one, or with another shape, is left out.
 */
export function serviceAddressesFromState(rows: readonly ServiceStateRow[]): ServiceWithAddress[] {
  const out: ServiceWithAddress[] = [];
  for (const row of rows) {
    if (row.kind !== 'service' || !row.address.startsWith('service.')) continue;
    const a = row.outputs.address;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) continue;
    const { host, ports } = a as Record<string, unknown>;
    if (typeof host !== 'string' || host === '' || typeof ports !== 'object' || ports === null) continue;
    const valid = Object.entries(ports).filter(
      (e): e is [string, number] => typeof e[1] === 'number' && Number.isInteger(e[1]) && e[1] > 0 && e[1] < 65536,
    );
    out.push({ name: row.address.slice('service.'.length), address: { host, ports: Object.fromEntries(valid) } });
  }
  return out;
}
