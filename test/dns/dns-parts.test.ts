/** The pure parts of the DNS server: service records, the zone's lookups, the cache's TTLs, host:port. */
import type { Answer } from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { AnswerCache, cacheTtl } from '../../src/dns/answer-cache.js';
import { serviceAddressesFromState, serviceRecords } from '../../src/dns/service-records.js';
import { tryParseHostPort } from '../../src/dns/upstream.js';
import { reverseName, txtStrings, Zone } from '../../src/dns/zone.js';
import { ManualClock } from '../helpers/manual-clock.js';

describe('serviceRecords', () => {
  it('gives each service an A record and an SRV record per named port', () => {
    expect(
      serviceRecords('homelab.internal.', [
        { name: 'web', address: { host: '127.77.0.3', ports: { http: 3000 } } },
        { name: 'api', address: { host: '127.77.0.2', ports: { metrics: 9100, http: 8080 } } },
        { name: 'v6', address: { host: 'fd00::7', ports: {} } },
      ]),
    ).toEqual([
      { type: 'A', name: 'api.homelab.internal', ttl: 30, address: '127.77.0.2' },
      {
        type: 'SRV',
        name: '_http._tcp.api.homelab.internal',
        ttl: 30,
        priority: 0,
        weight: 0,
        port: 8080,
        target: 'api.homelab.internal',
      },
      {
        type: 'SRV',
        name: '_metrics._tcp.api.homelab.internal',
        ttl: 30,
        priority: 0,
        weight: 0,
        port: 9100,
        target: 'api.homelab.internal',
      },
      { type: 'AAAA', name: 'v6.homelab.internal', ttl: 30, address: 'fd00::7' },
      { type: 'A', name: 'web.homelab.internal', ttl: 30, address: '127.77.0.3' },
      {
        type: 'SRV',
        name: '_http._tcp.web.homelab.internal',
        ttl: 30,
        priority: 0,
        weight: 0,
        port: 3000,
        target: 'web.homelab.internal',
      },
    ]);
  });
});

describe('Zone', () => {
  const zone = new Zone({
    origin: 'lab.test',
    serial: 7,
    records: [
      { type: 'A', name: 'a.lab.test', ttl: 60, address: '10.0.0.1' },
      { type: 'CNAME', name: 'loop1.lab.test', ttl: 60, target: 'loop2.lab.test' },
      { type: 'CNAME', name: 'loop2.lab.test', ttl: 60, target: 'loop1.lab.test' },
      { type: 'CNAME', name: 'dangling.lab.test', ttl: 60, target: 'gone.lab.test' },
      { type: 'A', name: 'elsewhere.example', ttl: 60, address: '10.0.0.9' },
    ],
  });

  it('stops at a CNAME loop', () => {
    const r = zone.lookup('loop1.lab.test', 'A');
    expect(r.rcode).toBe('NOERROR');
    expect(r.answers.map((a) => a.name)).toEqual(['loop1.lab.test', 'loop2.lab.test']);
  });

  it('says NXDOMAIN with the CNAME for a CNAME to a missing name in the zone (RFC 6604)', () => {
    const r = zone.lookup('dangling.lab.test', 'A');
    expect(r.rcode).toBe('NXDOMAIN');
    expect(r.answers.map((a) => a.type)).toEqual(['CNAME']);
    expect(r.authorities.map((a) => a.type)).toEqual(['SOA']);
  });

  it('ignores records outside its zone', () => {
    expect(zone.contains('elsewhere.example')).toBe(false);
    expect(zone.lookup('a.lab.test', 'ANY').answers).toHaveLength(1);
  });
});

/** The data of an answer that has one (every type but OPT). */
const dataOf = (a: Answer): unknown => ('data' in a ? a.data : undefined);

describe('Zone wildcards (RFC 4592)', () => {
  const zone = new Zone({
    origin: 'lab.test',
    serial: 1,
    records: [
      { type: 'A', name: '*.apps.lab.test', ttl: 60, address: '10.0.0.5' },
      { type: 'TXT', name: '*.apps.lab.test', ttl: 60, text: 'wild' },
      { type: 'A', name: 'docs.apps.lab.test', ttl: 60, address: '10.0.0.6' },
      { type: 'A', name: 'x.deep.apps.lab.test', ttl: 60, address: '10.0.0.7' },
      { type: 'CNAME', name: '*.alias.lab.test', ttl: 60, target: 'docs.apps.lab.test' },
      { type: 'A', name: 'api.lab.test', ttl: 60, address: '10.0.0.8' },
      { type: 'A', name: '*.lab.test', ttl: 60, address: '10.0.0.9' },
    ],
  });

  it('answers a name that does not exist under the name asked, one label deep or more', () => {
    const one = zone.lookup('grafana.apps.lab.test', 'A');
    expect(one.rcode).toBe('NOERROR');
    expect(one.answers).toEqual([{ type: 'A', name: 'grafana.apps.lab.test', ttl: 60, data: '10.0.0.5' }]);
    expect(zone.lookup('a.b.apps.lab.test', 'A').answers.map((a) => a.name)).toEqual(['a.b.apps.lab.test']);
    expect(zone.lookup('grafana.apps.lab.test', 'TXT').answers).toHaveLength(1);
  });

  it('never answers for a name that exists: a declared name, an empty non-terminal, the wildcard parent', () => {
    expect(zone.lookup('docs.apps.lab.test', 'A').answers.map(dataOf)).toEqual(['10.0.0.6']);
    // deep.apps exists (it has x below it): NODATA, not the wildcard's record.
    const ent = zone.lookup('deep.apps.lab.test', 'A');
    expect(ent.rcode).toBe('NOERROR');
    expect(ent.answers).toEqual([]);
    // Below deep.apps the closest encloser is deep.apps, which has no wildcard: NXDOMAIN.
    expect(zone.lookup('y.deep.apps.lab.test', 'A').rcode).toBe('NXDOMAIN');
    expect(zone.lookup('apps.lab.test', 'A').answers).toEqual([]);
  });

  it('applies only the closest encloser wildcard: the apex wildcard does not answer below api', () => {
    expect(zone.lookup('other.lab.test', 'A').answers.map(dataOf)).toEqual(['10.0.0.9']);
    expect(zone.lookup('v2.api.lab.test', 'A').rcode).toBe('NXDOMAIN');
  });

  it('follows a wildcard CNAME under the name asked', () => {
    const r = zone.lookup('x.alias.lab.test', 'A');
    expect(r.answers.map((a) => [a.name, a.type])).toEqual([
      ['x.alias.lab.test', 'CNAME'],
      ['docs.apps.lab.test', 'A'],
    ]);
  });
});

describe('reverse lookups', () => {
  it('names the reverse owner of IPv4 and IPv6 addresses', () => {
    expect(reverseName('127.77.0.2')).toBe('2.0.77.127.in-addr.arpa');
    expect(reverseName('fd00::10')).toBe('0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa');
    expect(reverseName('nas')).toBeUndefined();
  });

  it("answers PTR for the zone's A/AAAA addresses (not a wildcard's), and nothing for others", () => {
    const zone = new Zone({
      origin: 'lab.test',
      serial: 1,
      records: [
        { type: 'A', name: 'api.lab.test', ttl: 30, address: '127.77.0.2' },
        { type: 'A', name: 'api2.lab.test', ttl: 30, address: '127.77.0.2' },
        { type: 'A', name: '*.apps.lab.test', ttl: 30, address: '127.77.0.9' },
      ],
    });
    expect(zone.lookupReverse('2.0.77.127.in-addr.arpa', 'PTR')?.answers.map(dataOf)).toEqual([
      'api.lab.test',
      'api2.lab.test',
    ]);
    expect(zone.lookupReverse('2.0.77.127.in-addr.arpa', 'A')?.answers).toEqual([]);
    expect(zone.lookupReverse('9.0.77.127.in-addr.arpa', 'PTR')).toBeUndefined();
  });
});

describe('txtStrings', () => {
  it('splits text into character-strings of at most 255 bytes', () => {
    expect(txtStrings('').map((b) => b.length)).toEqual([0]);
    expect(txtStrings('x'.repeat(600)).map((b) => b.length)).toEqual([255, 255, 90]);
  });
});

describe('AnswerCache', () => {
  const soa = (ttl: number, minimum: number) =>
    ({
      type: 'SOA',
      name: 'up.example',
      ttl,
      data: { mname: 'ns', rname: 'h', serial: 1, refresh: 1, retry: 1, expire: 1, minimum },
    }) as const;

  it('keeps a positive answer for its smallest TTL and counts TTLs down', async () => {
    const clock = new ManualClock();
    const cache = new AnswerCache({ clock });
    const ttl = cache.put('k', {
      rcode: 'NOERROR',
      answers: [
        { type: 'A', name: 'x', ttl: 100, data: '10.0.0.1' },
        { type: 'A', name: 'x', ttl: 40, data: '10.0.0.2' },
      ],
      authorities: [],
    });
    expect(ttl).toBe(40);
    await clock.advance(15_000);
    expect(cache.get('k')?.answers.map((a) => (a.type === 'OPT' ? 0 : a.ttl))).toEqual([85, 25]);
    await clock.advance(25_000);
    expect(cache.get('k')).toBeUndefined();
  });

  it('keeps a negative answer for min(SOA TTL, SOA minimum), and not at all without an SOA (RFC 2308)', () => {
    expect(cacheTtl({ rcode: 'NXDOMAIN', answers: [], authorities: [soa(300, 60)] })).toBe(60);
    expect(cacheTtl({ rcode: 'NOERROR', answers: [], authorities: [soa(30, 600)] })).toBe(30);
    expect(cacheTtl({ rcode: 'NXDOMAIN', answers: [], authorities: [] })).toBe(0);
    const cache = new AnswerCache({ clock: new ManualClock() });
    expect(cache.put('n', { rcode: 'NXDOMAIN', answers: [], authorities: [] })).toBe(0);
    expect(cache.get('n')).toBeUndefined();
  });

  it('drops the oldest entry when full', () => {
    const cache = new AnswerCache({ clock: new ManualClock(), maxEntries: 2 });
    const a = {
      rcode: 'NOERROR' as const,
      answers: [{ type: 'A' as const, name: 'x', ttl: 60, data: '1.1.1.1' }],
      authorities: [],
    };
    cache.put('1', a);
    cache.put('2', a);
    cache.put('3', a);
    expect([cache.get('1'), cache.get('2'), cache.get('3')].map(Boolean)).toEqual([false, true, true]);
  });
});

describe('tryParseHostPort', () => {
  it('reads host:port, [v6]:port and a bare host', () => {
    expect(tryParseHostPort('127.0.0.1:5353', 53)).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(tryParseHostPort('[::1]:53', 53)).toEqual({ host: '::1', port: 53 });
    expect(tryParseHostPort('1.1.1.1', 53)).toEqual({ host: '1.1.1.1', port: 53 });
    expect(tryParseHostPort('1.1.1.1:99999', 53)).toBeUndefined();
    expect(tryParseHostPort('a:b:c', 53)).toBeUndefined();
  });
});

describe('serviceAddressesFromState', () => {
  it('reads the stable addresses of service rows and leaves out rows without one', () => {
    expect(
      serviceAddressesFromState([
        {
          address: 'service.api',
          kind: 'service',
          outputs: { address: { host: '127.77.0.2', ports: { http: 8080 } } },
        },
        { address: 'service.old', kind: 'service', outputs: { instances: [] } },
        { address: 'service.odd', kind: 'service', outputs: { address: { host: 7, ports: {} } } },
        {
          address: 'service.bad',
          kind: 'service',
          outputs: { address: { host: '127.77.0.4', ports: { x: 'y', ok: 1 } } },
        },
        { address: 'volume.data', kind: 'volume', outputs: { address: { host: '1.2.3.4', ports: {} } } },
      ]),
    ).toEqual([
      { name: 'api', address: { host: '127.77.0.2', ports: { http: 8080 } } },
      { name: 'bad', address: { host: '127.77.0.4', ports: { ok: 1 } } },
    ]);
  });
});
