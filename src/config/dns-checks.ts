/**
 * Checks of the `dns:` section that the schema cannot express: which fields each record type
 * takes, addresses that are really IPv4/IPv6, names inside the zone, record sets that agree on
 * their TTL, CNAMEs that stand alone, names taken by service addresses, and an upstream that is
 * the server itself.
 */
import net from 'node:net';
import type { Diagnostic } from './diagnostic.js';
import { HOST_PORT_PATTERN, type DnsRecordTypeName } from './schema.js';

/** Where a document path is (semantic-checks.ts's Locate; repeated here to keep the import one way). */
type Locate = (path: (string | number)[], key?: boolean) => { line: number; column: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields each record type takes beyond name, type and ttl. */
export const DNS_RECORD_FIELDS: Record<DnsRecordTypeName, readonly string[]> = {
  A: ['value'],
  AAAA: ['value'],
  CNAME: ['value'],
  TXT: ['value'],
  SRV: ['priority', 'weight', 'port', 'target'],
  MX: ['priority', 'exchange'],
};
const ALL_FIELDS = ['value', 'priority', 'weight', 'port', 'target', 'exchange'];
const EXAMPLE: Record<DnsRecordTypeName, string> = {
  A: '{ name: nas, type: A, value: 192.168.1.10 }',
  AAAA: '{ name: nas, type: AAAA, value: "fd00::10" }',
  CNAME: '{ name: www, type: CNAME, value: web }',
  TXT: '{ name: "@", type: TXT, value: "v=spf1 -all" }',
  SRV: '{ name: _ldap._tcp, type: SRV, priority: 10, weight: 5, port: 389, target: nas }',
  MX: '{ name: "@", type: MX, priority: 10, exchange: mail }',
};

/** The zone a stack's DNS server serves: `dns.zone`, else `<stack>.internal`. */
export function dnsZoneOf(stack: string, dns: { zone?: string } | undefined): string {
  return (dns?.zone ?? `${stack}.internal`).toLowerCase();
}

/**
 * A record name as the stack file writes it, made absolute in `zone` (lowercase, no final dot):
 * `@` is the apex, a name ending in `.` is absolute already (the zone-file convention), anything
 * else is relative to the zone.
 */
export function absoluteDnsName(name: string, zone: string): string {
  const lower = name.toLowerCase();
  if (lower === '@' || lower === '') return zone;
  if (lower.endsWith('.')) return lower.slice(0, -1);
  return `${lower}.${zone}`;
}

export function dnsChecks(doc: Record<string, unknown>, file: string, locate: Locate): Diagnostic[] {
  const out: Diagnostic[] = [];
  const dns = doc.dns;
  if (!isObj(dns)) return out;
  const push = (path: (string | number)[], d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'>) => {
    const pos = locate(path);
    out.push({ severity: 'error', file, line: pos.line, column: pos.column, path: path.join('.'), ...d });
  };
  const zone = dnsZoneOf(typeof doc.stack === 'string' ? doc.stack : 'stack', {
    zone: typeof dns.zone === 'string' ? dns.zone : undefined,
  });

  const portOf = (text: string) => Number(/:(\d+)$/.exec(text)?.[1] ?? 53);
  const listen = typeof dns.listen === 'string' ? dns.listen : undefined;
  if (listen !== undefined && new RegExp(HOST_PORT_PATTERN).test(listen)) {
    const port = portOf(listen);
    if (!/:\d+$/.test(listen) || port < 1 || port > 65535)
      push(['dns', 'listen'], {
        code: 'invalid-value',
        message: `dns.listen ${JSON.stringify(listen)} needs a port from 1 to 65535`,
        found: JSON.stringify(listen),
        fix: 'write host:port, e.g. 127.0.0.1:5353, or 0.0.0.0:53 to serve the LAN',
      });
  }
  if (Array.isArray(dns.upstreams)) {
    dns.upstreams.forEach((u, i) => {
      if (typeof u !== 'string' || !new RegExp(HOST_PORT_PATTERN).test(u)) return;
      const port = portOf(u);
      if (port < 1 || port > 65535)
        push(['dns', 'upstreams', i], {
          code: 'invalid-value',
          message: `upstream ${JSON.stringify(u)} has no valid port`,
          fix: 'use a port from 1 to 65535 (53 when omitted)',
        });
      else if (listen !== undefined && normaliseHostPort(u) === normaliseHostPort(listen))
        push(['dns', 'upstreams', i], {
          code: 'invalid-value',
          message: `upstream ${JSON.stringify(u)} is the DNS server itself (dns.listen)`,
          fix: 'name the resolver that answers other names, e.g. your router or 1.1.1.1:53',
        });
    });
  }

  if (!Array.isArray(dns.records)) return out;
  const services = new Set(isObj(doc.services) ? Object.keys(doc.services) : []);
  /** owner name → types at it, with the first record's index and ttl per type. */
  const sets = new Map<string, Map<string, { index: number; ttl: number }>>();
  const seen = new Map<string, number>();
  dns.records.forEach((raw, i) => {
    if (!isObj(raw) || typeof raw.name !== 'string' || typeof raw.type !== 'string') return;
    const type = raw.type as DnsRecordTypeName;
    const fields = DNS_RECORD_FIELDS[type] as readonly string[] | undefined;
    if (!fields) return;
    const base = ['dns', 'records', i];
    const what = `record ${i} (${raw.name} ${type})`;
    for (const f of fields) {
      if (raw[f] === undefined)
        push([...base], {
          code: 'missing-key',
          message: `${what} is missing \`${f}\``,
          expected: `${fields.map((x) => `\`${x}\``).join(', ')} for ${type} records`,
          found: 'nothing',
          fix: `add \`${f}\`, e.g. ${EXAMPLE[type]}`,
        });
    }
    for (const f of ALL_FIELDS) {
      if (raw[f] !== undefined && !fields.includes(f))
        push([...base, f], {
          code: 'unknown-key',
          message: `\`${f}\` is not a field of ${type} records`,
          expected: fields.map((x) => `\`${x}\``).join(', '),
          found: `\`${f}\``,
          fix: `remove \`${f}\`; a ${type} record is written ${EXAMPLE[type]}`,
        });
    }
    const value = typeof raw.value === 'string' ? raw.value : undefined;
    if (type === 'A' && value !== undefined && !net.isIPv4(value))
      push([...base, 'value'], {
        code: 'invalid-value',
        message: `${what} needs an IPv4 address`,
        found: JSON.stringify(value),
        fix: net.isIPv6(value) ? 'an IPv6 address goes in an AAAA record' : 'write an address such as 192.168.1.10',
      });
    if (type === 'AAAA' && value !== undefined && !net.isIPv6(value))
      push([...base, 'value'], {
        code: 'invalid-value',
        message: `${what} needs an IPv6 address`,
        found: JSON.stringify(value),
        fix: net.isIPv4(value) ? 'an IPv4 address goes in an A record' : 'write an address such as fd00::10',
      });
    if (type === 'CNAME' && value !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(value))
      push([...base, 'value'], {
        code: 'invalid-value',
        message: `${what} needs a host name as its value`,
        found: JSON.stringify(value),
        fix: 'write a name relative to the zone (web) or a full name ending in a dot (host.example.org.)',
      });

    const name = raw.name;
    const lower = name.toLowerCase();
    if (!lower.endsWith('.') && (lower === zone || lower.endsWith(`.${zone}`))) {
      const rel = lower === zone ? '@' : lower.slice(0, -zone.length - 1);
      push([...base, 'name'], {
        code: 'invalid-value',
        message: `${what}: names are relative to the zone ${zone}, so this is ${lower}.${zone}`,
        found: JSON.stringify(name),
        fix: `write \`${rel}\`, or \`${lower}.\` with a final dot`,
      });
      return;
    }
    const owner = absoluteDnsName(lower, zone);
    if (owner !== zone && !owner.endsWith(`.${zone}`)) {
      push([...base, 'name'], {
        code: 'invalid-value',
        message: `${what} is outside the zone ${zone}`,
        found: JSON.stringify(name),
        fix: `the server answers only for ${zone}; use a name inside it, or set dns.zone`,
      });
      return;
    }
    const relative = owner === zone ? '@' : owner.slice(0, -zone.length - 1);
    if (services.has(relative) && (type === 'A' || type === 'AAAA' || type === 'CNAME'))
      push([...base, 'name'], {
        code: 'conflict',
        message: `${what}: ${owner} is the address of service \`${relative}\`, which the server publishes itself`,
        fix: `choose another name, or rely on the service record (${relative}.${zone})`,
      });
    if (type === 'CNAME' && owner === zone)
      push([...base, 'name'], {
        code: 'invalid-value',
        message: `${what}: the zone's apex cannot be a CNAME (it has the SOA and NS records)`,
        fix: 'use A or AAAA records at @, or put the CNAME on a name below it such as www',
      });
    const key = JSON.stringify([owner, type, raw.value, raw.priority, raw.weight, raw.port, raw.target, raw.exchange]);
    const dup = seen.get(key);
    if (dup !== undefined)
      push(base, {
        code: 'conflict',
        message: `${what} repeats record ${dup}`,
        fix: 'remove one of them',
      });
    seen.set(key, i);
    const ttl = typeof raw.ttl === 'number' ? raw.ttl : 300;
    let types = sets.get(owner);
    if (!types) sets.set(owner, (types = new Map()));
    const first = types.get(type);
    if (first && first.ttl !== ttl && dup === undefined)
      push([...base, ...(raw.ttl === undefined ? [] : ['ttl'])], {
        code: 'conflict',
        message: `${what} has TTL ${ttl}, record ${first.index} of the same name and type has ${first.ttl}`,
        fix: `records of one name and type share one TTL (RFC 2181): give both ttl: ${first.ttl}`,
      });
    if (!first) types.set(type, { index: i, ttl });
  });
  for (const [owner, types] of sets) {
    const cname = types.get('CNAME');
    if (!cname || types.size === 1) continue;
    const others = [...types.entries()].filter(([t]) => t !== 'CNAME');
    push(['dns', 'records', cname.index], {
      code: 'conflict',
      message: `${owner} has a CNAME (record ${cname.index}) and other records (${others.map(([t, x]) => `${t}: record ${x.index}`).join(', ')}); a CNAME stands alone`,
      fix: 'remove the CNAME, or move the other records to the name it points at',
    });
  }
  return out;
}

function normaliseHostPort(text: string): string {
  const withPort = /:\d+$/.test(text) && !/^[0-9a-fA-F:]+$/.test(text) ? text : `${text}:53`;
  return withPort.toLowerCase();
}
