/**
 * What the DNS server serves, read from recorded state: the `dns-zone` row (zone, listen,
 * upstreams) and the `dns-record` rows (record sets), written by apply (src/model/dns-resources.ts
 * builds their specs). Specs are JSON from the store, so they are checked here, where they cross
 * that boundary, rather than cast: a row that does not have the expected shape is skipped and
 * named in `problems`.
 */
import type { JsonObject } from '../model/resource.js';
import { DNS_DEFAULT_LISTEN } from '../config/schema.js';
import type { DnsRecord } from './dns-record.js';
import { parseHostPort, tryParseHostPort, type HostPort } from './upstream.js';

/** The part of a state row this reads. */
export interface DnsStateRow {
  address: string;
  kind: string;
  spec: JsonObject;
}

export interface DnsSettings {
  zone: string;
  listen: HostPort;
  upstreams: HostPort[];
  /** The declared records (service records come from `serviceRecords`). */
  records: DnsRecord[];
  /** Rows that could not be read, e.g. "dns-record.nas.A: values[0] is not text". */
  problems: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** The stack's DNS settings, or undefined when the stack has no `dns:` section (no zone row). */
export function dnsSettingsFromState(rows: readonly DnsStateRow[]): DnsSettings | undefined {
  const zoneRow = rows.find((r) => r.kind === 'dns-zone');
  if (!zoneRow) return undefined;
  const problems: string[] = [];
  const spec = zoneRow.spec;
  const zone = isText(spec.zone) ? spec.zone.toLowerCase() : undefined;
  if (!zone) return undefined;
  const listen =
    (typeof spec.listen === 'string' ? tryParseHostPort(spec.listen, 53) : undefined) ??
    parseHostPort(DNS_DEFAULT_LISTEN, 53);
  const upstreams: HostPort[] = [];
  for (const u of Array.isArray(spec.upstreams) ? spec.upstreams : []) {
    const hp = typeof u === 'string' ? tryParseHostPort(u, 53) : undefined;
    if (hp) upstreams.push(hp);
    else problems.push(`${zoneRow.address}: upstream ${JSON.stringify(u)} is not host:port`);
  }
  const records: DnsRecord[] = [];
  for (const row of rows.filter((r) => r.kind === 'dns-record')) {
    const s = row.spec;
    if (s.zone !== zone) continue;
    if (!isText(s.name) || !isUint(s.ttl, 2 ** 31 - 1) || !Array.isArray(s.values)) {
      problems.push(`${row.address}: the spec has no name, ttl or values`);
      continue;
    }
    const base = { name: s.name.toLowerCase(), ttl: s.ttl };
    s.values.forEach((v, i) => {
      const r = recordOf(s.type, base, v);
      if (r) records.push(r);
      else problems.push(`${row.address}: values[${i}] is not a ${String(s.type)} value (${JSON.stringify(v)})`);
    });
  }
  return { zone, listen, upstreams, records, problems };
}

function recordOf(type: unknown, base: { name: string; ttl: number }, v: unknown): DnsRecord | undefined {
  switch (type) {
    case 'A':
    case 'AAAA':
      return isText(v) ? { ...base, type, address: v } : undefined;
    case 'CNAME':
      return isText(v) ? { ...base, type, target: v } : undefined;
    case 'TXT':
      return typeof v === 'string' ? { ...base, type, text: v } : undefined;
    case 'SRV':
      return isObj(v) &&
        isUint(v.priority, 65535) &&
        isUint(v.weight, 65535) &&
        isUint(v.port, 65535) &&
        isText(v.target)
        ? { ...base, type, priority: v.priority, weight: v.weight, port: v.port, target: v.target }
        : undefined;
    case 'MX':
      return isObj(v) && isUint(v.priority, 65535) && isText(v.exchange)
        ? { ...base, type, priority: v.priority, exchange: v.exchange }
        : undefined;
    default:
      return undefined;
  }
}
