/**
 * Malformed input over UDP and TCP: random bytes, truncated and bit-flipped copies of good
 * queries and answers. The server must not crash (an uncaught exception fails the test run),
 * must answer FORMERR or drop, and must answer a good query afterwards. Seeded, so a failure
 * replays.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsServer } from '../../src/dns/dns-server.js';
import { serviceRecords } from '../../src/dns/service-records.js';
import { freePort } from '../helpers/ports.js';
import { dig, startDnsmasq, type Dnsmasq } from './dig.js';

const ZONE = 'homelab.internal';

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seeds(): Buffer[] {
  const opt = {
    type: 'OPT' as const,
    name: '.',
    udpPayloadSize: 4096,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [{ code: 12 as const, length: 16 }],
  };
  const q = (name: string, type: dnsPacket.RecordType, edns = false) =>
    dnsPacket.encode({
      type: 'query',
      id: 7,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type, class: 'IN' }],
      additionals: edns ? [opt] : [],
    });
  return [
    q('api.homelab.internal', 'A'),
    q('_http._tcp.api.homelab.internal', 'SRV', true),
    q('nope.homelab.internal', 'TXT', true),
    q('homelab.internal', 'SOA'),
    q('up.example', 'A', true),
    q('nothing.up.example', 'AAAA'),
    dnsPacket.encode({
      type: 'response',
      id: 9,
      flags: 0,
      questions: [{ name: 'a.b', type: 'MX' }],
      answers: [{ type: 'MX', name: 'a.b', ttl: 5, data: { preference: 1, exchange: 'c.d' } }],
    }),
  ];
}

function mutate(next: () => number, base: Buffer[]): Buffer {
  const int = (n: number) => Math.floor(next() * n);
  const pick = base[int(base.length)] as Buffer;
  switch (int(5)) {
    case 0: {
      const out = Buffer.alloc(int(600));
      for (let i = 0; i < out.length; i++) out[i] = int(256);
      // Often a plausible header, so the body is what breaks.
      if (out.length >= 12 && next() < 0.7) out.writeUInt16BE(int(0x7fff), 2);
      return out;
    }
    case 1:
      return pick.subarray(0, int(pick.length));
    case 2: {
      const out = Buffer.from(pick);
      for (let flips = 1 + int(8); flips > 0; flips--) {
        const i = int(out.length);
        out[i] = (out[i] as number) ^ (1 << int(8));
      }
      // Mostly keep it a query, or the server drops it without reading further.
      if (next() < 0.8) out[2] = (out[2] as number) & 0x7f;
      return out;
    }
    case 3: {
      // Counts that lie: many questions, answers, OPTs.
      const out = Buffer.from(pick);
      out.writeUInt16BE(int(65536), 4 + 2 * int(4));
      return out;
    }
    default: {
      // A compression pointer pointing at itself or forward.
      const out = Buffer.from(pick);
      const at = 12 + int(Math.max(1, out.length - 13));
      out[at] = 0xc0;
      out[at + 1] = int(256);
      return out;
    }
  }
}

describe('DNS server under malformed input', () => {
  let upstream: Dnsmasq;
  let server: DnsServer;
  let port: number;

  beforeAll(async () => {
    upstream = await startDnsmasq(await freePort(), 'up.example', { 'up.example': '10.1.2.3' });
    server = new DnsServer({
      zone: ZONE,
      records: serviceRecords(ZONE, [{ name: 'api', address: { host: '127.77.0.2', ports: { http: 8080 } } }]),
      upstreams: [`127.0.0.1:${upstream.port}`],
      listen: { host: '127.0.0.1', port: 0 },
      upstreamTimeoutMs: 500,
    });
    await server.start();
    port = server.address().port;
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.stop();
  });

  it('survives 5,000 bad UDP datagrams and keeps answering', async () => {
    const next = rng(0x5eed);
    const base = seeds();
    const socket = dgram.createSocket('udp4');
    let replies = 0;
    let formerrs = 0;
    socket.on('message', (m) => {
      replies++;
      if (m.length >= 4 && (m.readUInt16BE(2) & 0xf) === 1) formerrs++;
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const before = server.stats().received;
      for (let i = 0; i < 5000; i++) {
        await new Promise<void>((resolve) => socket.send(mutate(next, base), port, '127.0.0.1', () => resolve()));
        // Let the server drain its socket now and then, so the kernel's buffer does not drop most of them.
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      const good = await dig(port, 'api.homelab.internal', 'A');
      expect(good.answer).toEqual(['api.homelab.internal. 30 IN A 127.77.0.2']);
      const s = server.stats();
      expect(s.received - before).toBeGreaterThan(1000);
      expect(s.formerr).toBeGreaterThan(0);
      expect(replies).toBeGreaterThan(0);
      expect(formerrs).toBeGreaterThan(0);
    } finally {
      socket.close();
    }
  });

  it('survives 2,000 bad messages over TCP (bad lengths, cut connections) and keeps answering', async () => {
    const next = rng(0xbad);
    const base = seeds();
    for (let conn = 0; conn < 100; conn++) {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('data', () => undefined);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const frames: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const msg = mutate(next, base);
        const head = Buffer.alloc(2);
        // Mostly the true length; sometimes a lie, which leaves the server waiting for bytes that never come.
        head.writeUInt16BE(next() < 0.9 ? msg.length : Math.floor(next() * 65536));
        frames.push(head, msg);
      }
      const all = Buffer.concat(frames);
      // Split at random points, so frames straddle reads.
      for (let at = 0; at < all.length;) {
        const n = 1 + Math.floor(next() * 200);
        socket.write(all.subarray(at, at + n));
        at += n;
      }
      await new Promise<void>((resolve) => {
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
        if (conn % 2) socket.destroy();
        else socket.end();
      });
    }
    const good = await dig(port, '+tcp', 'api.homelab.internal', 'A');
    expect(good.answer).toEqual(['api.homelab.internal. 30 IN A 127.77.0.2']);
    // Forwarding still works too (the fuzz seeds asked for this name, so it may come from the cache).
    expect((await dig(port, 'up.example', 'A')).answer[0]).toMatch(/^up\.example\. \d+ IN A 10\.1\.2\.3$/);
  });
});
