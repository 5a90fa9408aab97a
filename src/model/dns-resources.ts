/**
 * The `dns:` section as resources: one `dns-zone.<zone>` (where the server listens, whom it
 * asks) and one `dns-record.<name>.<TYPE>` per record set (all records of one name and type),
 * so the plan shows a changed value, TTL or upstream like any other change. Names in specs are
 * absolute (`nas.homelab.internal`); the address keeps the name as written relative to the zone
 * (`dns-record.nas.A`, `dns-record.@.MX`).
 */
import { absoluteDnsName, dnsZoneOf } from '../config/dns-checks.js';
import { DNS_DEFAULT_LISTEN, type DnsConfig, type DnsRecordConfig, type DnsRecordTypeName } from '../config/schema.js';
import { address, type DesiredResource, type Json, type JsonObject } from './resource.js';

export const DNS_DEFAULT_TTL = 300;

/** One record's data as a spec value: text for A, AAAA, CNAME, TXT; a map for SRV and MX. */
function recordValue(r: DnsRecordConfig, zone: string): Json {
  // The schema's literal union is typed as string; the schema itself holds it to these six.
  const type = r.type as DnsRecordTypeName;
  switch (type) {
    case 'A':
    case 'TXT':
      return r.value ?? '';
    case 'AAAA':
      return (r.value ?? '').toLowerCase();
    case 'CNAME':
      return absoluteDnsName(r.value ?? '', zone);
    case 'SRV':
      return {
        priority: r.priority ?? 0,
        weight: r.weight ?? 0,
        port: r.port ?? 0,
        target: absoluteDnsName(r.target ?? '', zone),
      };
    case 'MX':
      return { priority: r.priority ?? 0, exchange: absoluteDnsName(r.exchange ?? '', zone) };
  }
  const never: never = type;
  throw new Error(`unknown DNS record type ${String(never)}`);
}

export function dnsResources(stack: string, dns: DnsConfig, deep: (v: unknown) => Json): DesiredResource[] {
  const zone = dnsZoneOf(stack, dns);
  const zoneAddress = address('dns-zone', zone);
  const out: DesiredResource[] = [
    {
      address: zoneAddress,
      kind: 'dns-zone',
      name: zone,
      dependsOn: [],
      spec: deep({
        zone,
        listen: dns.listen ?? DNS_DEFAULT_LISTEN,
        upstreams: dns.upstreams ?? [],
      }) as JsonObject,
    },
  ];
  const sets = new Map<string, { relative: string; type: string; fqdn: string; ttl: number; values: Json[] }>();
  for (const r of dns.records ?? []) {
    const fqdn = absoluteDnsName(r.name, zone);
    const relative = fqdn === zone ? '@' : fqdn.endsWith(`.${zone}`) ? fqdn.slice(0, -zone.length - 1) : fqdn;
    const key = `${relative}.${r.type}`;
    let set = sets.get(key);
    if (!set) sets.set(key, (set = { relative, type: r.type, fqdn, ttl: r.ttl ?? DNS_DEFAULT_TTL, values: [] }));
    set.values.push(deep(recordValue(r, zone)));
  }
  for (const [key, set] of [...sets].sort(([a], [b]) => a.localeCompare(b))) {
    // Order does not matter in a record set: sorted, so reordering the file is not a change.
    const values = [...set.values].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    out.push({
      address: address('dns-record', key),
      kind: 'dns-record',
      name: key,
      dependsOn: [zoneAddress],
      spec: { zone, name: set.fqdn, type: set.type, ttl: set.ttl, values },
    });
  }
  return out;
}
