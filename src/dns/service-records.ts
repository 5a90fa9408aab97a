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
