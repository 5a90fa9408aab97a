/**
 * The DNS server against real clients and a real upstream: `dig` asks, `dnsmasq` answers the
 * forwarded names. Cache expiry runs on a ManualClock, so "within the TTL" and "after it" are
 * decided by the test, not by waiting.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsServer } from '../../src/dns/dns-server.js';
import type { DnsRecord } from '../../src/dns/dns-record.js';
import { serviceRecords } from '../../src/dns/service-records.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { freePort } from '../helpers/ports.js';
import { dig, startDnsmasq, type Dnsmasq } from './dig.js';

const ZONE = 'homelab.internal';
const z = (n: string) => `${n}.${ZONE}`;

const declared: DnsRecord[] = [
  { type: 'A', name: z('nas'), ttl: 300, address: '192.168.1.10' },
  { type: 'AAAA', name: z('nas'), ttl: 300, address: 'fd00::10' },
  { type: 'CNAME', name: z('www'), ttl: 300, target: z('api') },
  { type: 'CNAME', name: z('docs'), ttl: 300, target: 'docs.example.org' },
  { type: 'TXT', name: ZONE, ttl: 300, text: 'v=spf1 -all' },
  { type: 'SRV', name: `_ldap._tcp.${ZONE}`, ttl: 300, priority: 10, weight: 5, port: 389, target: z('nas') },
  { type: 'MX', name: ZONE, ttl: 300, priority: 10, exchange: z('nas') },
  { type: 'A', name: z('*.apps'), ttl: 300, address: '127.77.0.9' },
  // Four 300-byte strings: about 1.2 kB, more than 512 bytes.
  ...[0, 1, 2, 3].map((i): DnsRecord => ({ type: 'TXT', name: z('big'), ttl: 60, text: String(i).repeat(300) })),
];
const services = serviceRecords(ZONE, [
  { name: 'api', address: { host: '127.77.0.2', ports: { http: 8080, metrics: 9100 } } },
  { name: 'web', address: { host: '127.77.0.3', ports: { http: 3000 } } },
]);

describe('DNS server (dig against it, dnsmasq upstream)', () => {
  const clock = new ManualClock();
  let upstream: Dnsmasq;
  let server: DnsServer;
  let port: number;

  beforeAll(async () => {
    upstream = await startDnsmasq(await freePort(), 'up.example', {
      'up.example': '10.1.2.3',
      'www.up.example': '10.1.2.4',
    });
    server = new DnsServer({
      zone: ZONE,
      records: [...declared, ...services],
      upstreams: [`127.0.0.1:${upstream.port}`],
      listen: { host: '127.0.0.1', port: 0 },
      clock,
    });
    await server.start();
    port = server.address().port;
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.stop();
  });

  it('answers A for a service address, authoritatively', async () => {
    const r = await dig(port, 'api.homelab.internal', 'A');
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answer).toEqual(['api.homelab.internal. 30 IN A 127.77.0.2']);
  });

  it('answers SRV for each named port, with the target address in the additional section', async () => {
    const r = await dig(port, 'SRV', '_http._tcp.api.homelab.internal');
    expect(r.answer).toEqual(['_http._tcp.api.homelab.internal. 30 IN SRV 0 0 8080 api.homelab.internal.']);
    expect(r.additional).toContain('api.homelab.internal. 30 IN A 127.77.0.2');
    const m = await dig(port, 'SRV', '_metrics._tcp.api.homelab.internal');
    expect(m.answer).toEqual(['_metrics._tcp.api.homelab.internal. 30 IN SRV 0 0 9100 api.homelab.internal.']);
  });

  it('answers a declared record of each type', async () => {
    expect((await dig(port, 'nas.homelab.internal', 'A')).answer).toEqual([
      'nas.homelab.internal. 300 IN A 192.168.1.10',
    ]);
    expect((await dig(port, 'nas.homelab.internal', 'AAAA')).answer).toEqual([
      'nas.homelab.internal. 300 IN AAAA fd00::10',
    ]);
    expect((await dig(port, 'homelab.internal', 'TXT')).answer).toEqual(['homelab.internal. 300 IN TXT "v=spf1 -all"']);
    expect((await dig(port, 'homelab.internal', 'MX')).answer).toEqual([
      'homelab.internal. 300 IN MX 10 nas.homelab.internal.',
    ]);
    expect((await dig(port, 'SRV', '_ldap._tcp.homelab.internal')).answer).toEqual([
      '_ldap._tcp.homelab.internal. 300 IN SRV 10 5 389 nas.homelab.internal.',
    ]);
    // A CNAME inside the zone is followed; one outside it is left to the client's resolver.
    expect((await dig(port, 'www.homelab.internal', 'A')).answer).toEqual([
      'www.homelab.internal. 300 IN CNAME api.homelab.internal.',
      'api.homelab.internal. 30 IN A 127.77.0.2',
    ]);
    expect((await dig(port, 'docs.homelab.internal', 'CNAME')).answer).toEqual([
      'docs.homelab.internal. 300 IN CNAME docs.example.org.',
    ]);
  });

  it('answers SOA and NS at the apex', async () => {
    const soa = await dig(port, 'homelab.internal', 'SOA');
    expect(soa.answer).toHaveLength(1);
    expect(soa.answer[0]).toMatch(
      /^homelab\.internal\. 60 IN SOA ns\.homelab\.internal\. hostmaster\.homelab\.internal\. \d+ 3600 600 86400 60$/,
    );
    expect((await dig(port, 'homelab.internal', 'NS')).answer).toEqual([
      'homelab.internal. 3600 IN NS ns.homelab.internal.',
    ]);
    expect((await dig(port, 'ns.homelab.internal', 'A')).answer).toEqual(['ns.homelab.internal. 3600 IN A 127.0.0.1']);
  });

  it('says NXDOMAIN with the SOA for an unknown name in the zone, NODATA for a known name without the type', async () => {
    const nx = await dig(port, 'nope.homelab.internal', 'A');
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.flags).toContain('aa');
    expect(nx.answer).toEqual([]);
    expect(nx.authority[0]).toMatch(/^homelab\.internal\. 60 IN SOA /);
    const nodata = await dig(port, 'api.homelab.internal', 'AAAA');
    expect(nodata.status).toBe('NOERROR');
    expect(nodata.answer).toEqual([]);
    expect(nodata.authority[0]).toMatch(/ IN SOA /);
    // An empty non-terminal exists (RFC 8020): NODATA, not NXDOMAIN.
    expect((await dig(port, '_tcp.api.homelab.internal', 'A')).status).toBe('NOERROR');
  });

  it('answers a wildcard for undeclared names below it, under the name asked', async () => {
    const r = await dig(port, 'grafana.apps.homelab.internal', 'A');
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answer).toEqual(['grafana.apps.homelab.internal. 300 IN A 127.77.0.9']);
    // The wildcard at *.apps does not reach beside it.
    expect((await dig(port, 'grafana.homelab.internal', 'A')).status).toBe('NXDOMAIN');
  });

  it('answers reverse lookups for the addresses of its services and declared records (dig -x)', async () => {
    const api = await dig(port, '-x', '127.77.0.2');
    expect(api.flags).toContain('aa');
    expect(api.answer).toEqual(['2.0.77.127.in-addr.arpa. 30 IN PTR api.homelab.internal.']);
    expect((await dig(port, '-x', '192.168.1.10')).answer).toEqual([
      '10.1.168.192.in-addr.arpa. 300 IN PTR nas.homelab.internal.',
    ]);
    expect((await dig(port, '-x', 'fd00::10')).answer).toEqual([
      '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. 300 IN PTR nas.homelab.internal.',
    ]);
    // An address nothing in the zone holds is the upstream's question, not answered with authority.
    expect((await dig(port, '-x', '10.200.0.1')).flags).not.toContain('aa');
  });

  it('answers over TCP', async () => {
    const r = await dig(port, '+tcp', 'api.homelab.internal', 'A');
    expect(r.answer).toEqual(['api.homelab.internal. 30 IN A 127.77.0.2']);
    expect((await dig(port, '+tcp', 'nope.homelab.internal')).status).toBe('NXDOMAIN');
  });

  it('speaks EDNS0: OPT back when asked with OPT, none without; BADVERS for an unknown version', async () => {
    const withOpt = await dig(port, 'api.homelab.internal');
    expect(withOpt.edns).toMatch(/version: 0.*udp: 1232/);
    const without = await dig(port, '+noedns', 'api.homelab.internal');
    expect(without.edns).toBeUndefined();
    expect(without.answer).toHaveLength(1);
    expect((await dig(port, '+edns=1', '+noednsnegotiation', 'api.homelab.internal')).status).toBe('BADVERS');
  });

  it('truncates a UDP answer larger than the client takes; TCP and a large EDNS buffer get it whole', async () => {
    const classic = await dig(port, '+noedns', '+ignore', 'big.homelab.internal', 'TXT');
    expect(classic.flags).toContain('tc');
    expect(classic.answer).toEqual([]);
    const small = await dig(port, '+bufsize=512', '+ignore', 'big.homelab.internal', 'TXT');
    expect(small.flags).toContain('tc');
    const tcp = await dig(port, '+tcp', 'big.homelab.internal', 'TXT');
    expect(tcp.flags).not.toContain('tc');
    expect(tcp.answer).toHaveLength(4);
    const large = await dig(port, '+bufsize=4096', 'big.homelab.internal', 'TXT');
    expect(large.flags).not.toContain('tc');
    expect(large.answer).toHaveLength(4);
    // dig's default: UDP, sees TC, retries over TCP on its own.
    expect((await dig(port, '+noedns', 'big.homelab.internal', 'TXT')).answer).toHaveLength(4);
  });

  it('forwards other names to the upstream and caches positive and negative answers for their TTL', async () => {
    const first = await dig(port, 'up.example', 'A');
    expect(first.status).toBe('NOERROR');
    expect(first.flags).not.toContain('aa');
    expect(first.flags).toContain('ra');
    expect(first.answer).toEqual(['up.example. 300 IN A 10.1.2.3']);
    const nx = await dig(port, 'missing.up.example', 'A');
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.authority[0]).toMatch(/^up\.example\. 300 IN SOA /);
    const nodata = await dig(port, 'up.example', 'AAAA');
    expect(nodata.status).toBe('NOERROR');
    expect(nodata.answer).toEqual([]);

    await upstream.stop();
    await clock.advance(100_000);
    const hitsBefore = server.stats().cacheHits;
    // Within the TTL: from the cache, TTLs counted down by the 100 s that passed.
    expect((await dig(port, 'up.example', 'A')).answer).toEqual(['up.example. 200 IN A 10.1.2.3']);
    const cachedNx = await dig(port, 'missing.up.example', 'A');
    expect(cachedNx.status).toBe('NXDOMAIN');
    expect(cachedNx.authority[0]).toMatch(/^up\.example\. 200 IN SOA /);
    expect((await dig(port, 'up.example', 'AAAA')).status).toBe('NOERROR');
    expect(server.stats().cacheHits).toBe(hitsBefore + 3);

    // After the TTL: gone from the cache, and the upstream is down.
    await clock.advance(201_000);
    expect((await dig(port, 'up.example', 'A')).status).toBe('SERVFAIL');
    expect((await dig(port, 'missing.up.example', 'A')).status).toBe('SERVFAIL');
  });

  it('serves new records after setRecords, with a higher SOA serial', async () => {
    const serial = (r: { answer: string[] }) => Number(r.answer[0]?.split(' ')[6]);
    const before = serial(await dig(port, 'homelab.internal', 'SOA'));
    server.setRecords([...declared, { type: 'A', name: z('printer'), ttl: 60, address: '192.168.1.20' }]);
    expect((await dig(port, 'printer.homelab.internal')).answer).toEqual([
      'printer.homelab.internal. 60 IN A 192.168.1.20',
    ]);
    expect((await dig(port, 'api.homelab.internal')).status).toBe('NXDOMAIN');
    expect(serial(await dig(port, 'homelab.internal', 'SOA'))).toBeGreaterThan(before);
    server.setRecords([...declared, ...services]);
  });

  it('answers FORMERR to a message with a readable header, drops one without', async () => {
    const socket = dgram.createSocket('udp4');
    try {
      const replies: Buffer[] = [];
      socket.on('message', (m) => replies.push(m));
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      // A header that promises one question, followed by a label running off the end.
      const bad = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 40, 0x61, 0x62]);
      socket.send(bad, port, '127.0.0.1');
      socket.send(Buffer.from([1, 2, 3]), port, '127.0.0.1');
      const ok = await dig(port, 'api.homelab.internal');
      expect(ok.answer).toHaveLength(1);
      expect(replies).toHaveLength(1);
      const reply = replies[0] as Buffer;
      expect(reply.readUInt16BE(0)).toBe(0x1234);
      expect(reply.readUInt16BE(2) & 0x8000).toBe(0x8000);
      expect(reply.readUInt16BE(2) & 0xf).toBe(1);
    } finally {
      socket.close();
    }
  });
});

describe('DNS server without upstreams', () => {
  it('refuses names outside its zone and matches names in any case', async () => {
    const server = new DnsServer({ zone: ZONE, records: services, listen: { host: '127.0.0.1', port: 0 } });
    await server.start();
    try {
      const port = server.address().port;
      const r = await dig(port, 'example.org', 'A');
      expect(r.status).toBe('REFUSED');
      expect(r.flags).not.toContain('ra');
      // Names match without regard to case.
      expect((await dig(port, 'WEB.HomeLab.Internal', 'A')).answer).toEqual([
        'web.homelab.internal. 30 IN A 127.77.0.3',
      ]);
    } finally {
      await server.close();
    }
  });

  it('says what to change when its port is taken', async () => {
    const first = new DnsServer({ zone: ZONE, records: [], listen: { host: '127.0.0.1', port: 0 } });
    await first.start();
    try {
      const second = new DnsServer({ zone: ZONE, records: [], listen: first.address() });
      await expect(second.start()).rejects.toThrow(
        /the DNS server cannot listen on 127\.0\.0\.1:\d+: UDP port \d+ is in use .*set dns\.listen to a free port/,
      );
    } finally {
      await first.close();
    }
  });
});
