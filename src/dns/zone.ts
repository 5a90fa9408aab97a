/**
 * One authoritative zone in memory: lookups by name and type, with the apex's SOA and NS
 * synthesised, CNAMEs followed inside the zone, NODATA for a name that exists without the
 * type (empty non-terminals such as `_tcp.api.<zone>` included, RFC 8020) and NXDOMAIN with the
 * SOA in the authority section for a name that does not exist (RFC 2308). A record whose owner
 * starts with `*.` is a wildcard (RFC 4592): it answers for names below its parent that do not
 * exist, under the name asked, and never for a name that exists (an empty non-terminal included).
 */
import net from 'node:net';
import type { Answer } from 'dns-packet';
import { inZone, normaliseName, type DnsRecord } from './dns-record.js';

/** SOA timers of the zone (seconds). `minimum` is the negative-caching TTL (RFC 2308). */
export interface SoaTimers {
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export const DEFAULT_SOA: SoaTimers = { refresh: 3600, retry: 600, expire: 86_400, minimum: 60 };

export interface ZoneOptions {
  /** The zone's apex, e.g. `homelab.internal`. */
  origin: string;
  records: readonly DnsRecord[];
  /** SOA serial; changes whenever the records do. */
  serial: number;
  soa?: SoaTimers;
  /** Address of the server itself: `ns.<zone>` gets an A record when it is a concrete IPv4. */
  nameserverAddress?: string;
}

export type Rcode = 'NOERROR' | 'NXDOMAIN';

export interface ZoneAnswer {
  rcode: Rcode;
  answers: Answer[];
  authorities: Answer[];
}

const MAX_CNAME_CHAIN = 8;

export class Zone {
  readonly origin: string;
  private readonly byName = new Map<string, Answer[]>();
  /** Every name that exists: owners and their ancestors up to the apex. */
  private readonly names = new Set<string>();
  private readonly soa: Answer;
  private readonly ns: Answer;
  /** `2.0.77.127.in-addr.arpa` → PTRs to the names whose A/AAAA records hold that address. */
  private readonly reverse = new Map<string, Answer[]>();

  constructor(opts: ZoneOptions) {
    this.origin = normaliseName(opts.origin);
    const timers = opts.soa ?? DEFAULT_SOA;
    const nsName = `ns.${this.origin}`;
    this.soa = {
      type: 'SOA',
      name: this.origin,
      ttl: timers.minimum,
      data: {
        mname: nsName,
        rname: `hostmaster.${this.origin}`,
        serial: opts.serial >>> 0,
        refresh: timers.refresh,
        retry: timers.retry,
        expire: timers.expire,
        minimum: timers.minimum,
      },
    };
    this.ns = { type: 'NS', name: this.origin, ttl: 3600, data: nsName };
    this.add(this.origin, this.soa);
    this.add(this.origin, this.ns);
    for (const r of opts.records) {
      const name = normaliseName(r.name);
      if (!inZone(name, this.origin)) continue;
      this.add(name, toAnswer({ ...r, name }));
      if ((r.type === 'A' || r.type === 'AAAA') && !name.startsWith('*.')) this.addReverse(r.address, name, r.ttl);
    }
    const ns = opts.nameserverAddress;
    if (ns && /^\d+\.\d+\.\d+\.\d+$/.test(ns) && ns !== '0.0.0.0' && !this.byName.has(nsName))
      this.add(nsName, { type: 'A', name: nsName, ttl: 3600, data: ns });
  }

  /** The negative answer's authority section: the SOA with TTL min(SOA TTL, minimum) (RFC 2308 §3). */
  get negativeAuthority(): Answer[] {
    return [this.soa];
  }

  contains(name: string): boolean {
    return inZone(name, this.origin);
  }

  /** `name` must be normalised and inside the zone. `type` is the question's type (`ANY` for all). */
  lookup(name: string, type: string): ZoneAnswer {
    const answers: Answer[] = [];
    let current = name;
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      const rrs = this.byName.get(current) ?? this.synthesise(current);
      if (!rrs) {
        if (this.names.has(current))
          return { rcode: 'NOERROR', answers, authorities: answers.length ? [] : [this.soa] };
        return { rcode: 'NXDOMAIN', answers, authorities: [this.soa] };
      }
      const match = type === 'ANY' ? rrs : rrs.filter((a) => a.type === type);
      if (match.length) {
        answers.push(...match);
        return { rcode: 'NOERROR', answers, authorities: [] };
      }
      const cname = rrs.find((a) => a.type === 'CNAME');
      if (!cname) return { rcode: 'NOERROR', answers, authorities: answers.length ? [] : [this.soa] };
      answers.push(cname);
      const target = normaliseName(cname.type === 'CNAME' ? cname.data : '');
      // A target outside the zone is left to the client's resolver (an authoritative answer stops here).
      if (!this.contains(target) || answers.some((a) => a.type === 'CNAME' && a.name === target)) break;
      current = target;
    }
    return { rcode: 'NOERROR', answers, authorities: [] };
  }

  /**
   * PTR answers for a reverse name (`d.c.b.a.in-addr.arpa`, or ip6.arpa nibbles) of an address the
   * zone's A or AAAA records hold, so `dig -x 127.77.0.2` names the service. Undefined for other
   * addresses: those are the upstream's to answer. Another type at a known reverse name is NODATA.
   */
  lookupReverse(name: string, type: string): ZoneAnswer | undefined {
    const ptrs = this.reverse.get(name);
    if (!ptrs) return undefined;
    return { rcode: 'NOERROR', answers: type === 'PTR' || type === 'ANY' ? ptrs : [], authorities: [] };
  }

  private addReverse(address: string, target: string, ttl: number): void {
    const owner = reverseName(address);
    if (owner === undefined) return;
    const list = this.reverse.get(owner) ?? [];
    if (list.some((a) => a.type === 'PTR' && a.data === target)) return;
    list.push({ type: 'PTR', name: owner, ttl, data: target });
    this.reverse.set(owner, list);
  }

  /**
   * The wildcard's records under `name`, for a name that does not exist (RFC 4592 §3.3.1): the
   * closest encloser is the longest existing ancestor; only `*.<closest encloser>` applies, so a
   * wildcard at the apex does not answer below an existing name such as `api.<zone>`.
   */
  private synthesise(name: string): Answer[] | undefined {
    if (this.names.has(name)) return undefined;
    let encloser = name;
    do {
      const dot = encloser.indexOf('.');
      if (dot < 0) return undefined;
      encloser = encloser.slice(dot + 1);
    } while (!this.names.has(encloser) && encloser !== this.origin);
    const rrs = this.byName.get(`*.${encloser}`);
    return rrs?.map((a) => ({ ...a, name }));
  }

  private add(name: string, answer: Answer): void {
    const list = this.byName.get(name);
    if (list) list.push(answer);
    else this.byName.set(name, [answer]);
    for (let n = name; ; n = n.slice(n.indexOf('.') + 1)) {
      this.names.add(n);
      if (n === this.origin || !n.includes('.')) break;
    }
  }
}

/** The reverse-lookup name of an IPv4 or IPv6 address (RFC 1035 §3.5, RFC 3596 §2.5); undefined if neither. */
export function reverseName(address: string): string | undefined {
  if (net.isIPv4(address)) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  if (!net.isIPv6(address) || address.includes('.')) return undefined;
  const [head = '', tail] = address.toLowerCase().split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const nibbles = all.map((g) => g.padStart(4, '0')).join('');
  return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
}

/** TXT text as character-strings of at most 255 bytes each (RFC 1035 §3.3.14). */
export function txtStrings(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return [Buffer.alloc(0)];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}

export function toAnswer(r: DnsRecord): Answer {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return { type: r.type, name: r.name, ttl: r.ttl, data: r.address };
    case 'CNAME':
      return { type: 'CNAME', name: r.name, ttl: r.ttl, data: normaliseName(r.target) };
    case 'TXT':
      return { type: 'TXT', name: r.name, ttl: r.ttl, data: txtStrings(r.text) };
    case 'SRV':
      return {
        type: 'SRV',
        name: r.name,
        ttl: r.ttl,
        data: { priority: r.priority, weight: r.weight, port: r.port, target: normaliseName(r.target) },
      };
    case 'MX':
      return {
        type: 'MX',
        name: r.name,
        ttl: r.ttl,
        data: { preference: r.priority, exchange: normaliseName(r.exchange) },
      };
    default: {
      const never: never = r;
      throw new Error(`unknown record type in ${JSON.stringify(never)}`);
    }
  }
}
