/**
 * The lab's DNS server: authoritative for one zone (the stack's, `<stack>.internal` by
 * default), a caching forwarder for every other name. UDP and TCP (RFC 7766 length-prefixed
 * messages) on the same port; EDNS0 (RFC 6891): a query with OPT gets OPT back and UDP answers
 * up to the client's buffer size (at most 4096), a query without gets at most 512 bytes; a
 * larger UDP answer is sent empty with the TC bit, so the client retries over TCP. Messages are
 * decoded and encoded with `dns-packet`.
 *
 * Malformed input never throws out of the handler: a message with a readable header gets
 * FORMERR, anything shorter than a header (or a message with the QR bit, i.e. a response) is
 * dropped.
 *
 * Wiring it (the daemon or the data plane owns the process it runs in; state rows are the
 * store's `listResources()`):
 *
 *   const settings = dnsSettingsFromState(store.listResources()); // undefined: no `dns:` section
 *   if (settings) {
 *     for (const p of settings.problems) logger.log('warn', 'dns: skipped a record', { problem: p });
 *     const recordsOf = (rows: ResourceRow[]) => [
 *       ...(dnsSettingsFromState(rows)?.records ?? []),
 *       ...serviceRecords(settings.zone, serviceAddressesFromState(rows)),
 *     ];
 *     const server = new DnsServer({ zone: settings.zone, listen: settings.listen,
 *       upstreams: settings.upstreams, records: recordsOf(store.listResources()), clock, logger });
 *     await server.start();
 *     // after every apply, deploy or rollback (dns-record rows or service addresses changed):
 *     server.setRecords(recordsOf(store.listResources()));
 *     // on shutdown:
 *     await server.close();
 *   }
 *
 * A change of `listen` or `upstreams` needs a new server (close the old one first); a change of
 * records is `setRecords`, which bumps the SOA serial.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import { systemClock, type Timer, type Timers } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { errorMessage } from '../util/error-message.js';
import { AnswerCache, cacheKey, type CachedAnswer } from './answer-cache.js';
import { normaliseName, type DnsRecord } from './dns-record.js';
import { Forwarder, rcodeOf } from './forwarder.js';
import { parseHostPort, type HostPort } from './upstream.js';
import { DEFAULT_SOA, Zone, type SoaTimers } from './zone.js';

export interface DnsServerOptions {
  /** The zone served authoritatively, e.g. `homelab.internal`. */
  zone: string;
  /** Records of the zone (absolute names); SOA and NS at the apex are added. */
  records: readonly DnsRecord[];
  /** Resolvers for every other name, `host:port`, asked in order. None: other names get REFUSED. */
  upstreams?: readonly (string | HostPort)[];
  /** Where to listen (UDP and TCP, same port). Port 0 picks a free one (see `address()`). */
  listen: HostPort;
  /** For cache expiry and timeouts. Default the system clock. */
  clock?: Timers;
  logger?: Logger;
  /** SOA timers; `minimum` is the negative TTL of the zone's NXDOMAIN/NODATA answers. */
  soa?: SoaTimers;
  /** Time one upstream has to answer. Default 2000 ms. */
  upstreamTimeoutMs?: number;
}

export interface DnsServerStats {
  /** Messages received (UDP and TCP). */
  received: number;
  dropped: number;
  formerr: number;
  authoritative: number;
  cacheHits: number;
  forwarded: number;
  servfail: number;
  truncated: number;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type RcodeName = keyof typeof RCODE;
const QR = 0x8000;
const AA = dnsPacket.AUTHORITATIVE_ANSWER;
const TC = dnsPacket.TRUNCATED_RESPONSE;
const RD = dnsPacket.RECURSION_DESIRED;
const RA = dnsPacket.RECURSION_AVAILABLE;
/** Buffer size we advertise (the DNS Flag Day 2020 value: no IP fragmentation). */
const OUR_UDP_SIZE = 1232;
const MAX_UDP_SIZE = 4096;
const CLASSIC_UDP_SIZE = 512;
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 256;
/** Encoded authoritative answers kept by the exact bytes of the query after its id. */
const MAX_PREPARED = 4096;

type Transport = 'udp' | 'tcp';

export class DnsServer {
  private zone: Zone;
  private readonly zoneName: string;
  private readonly clock: Timers;
  private readonly logger: Logger;
  private readonly forwarder: Forwarder;
  private readonly cache: AnswerCache;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  private serial = 0;
  /**
   * Authoritative answers do not change between `setRecords` calls, so the encoded reply to a
   * given query (all its bytes but the id) is kept and only its id rewritten: the hot path of a
   * lab resolver asked for the same few names. Cleared whenever the records change.
   */
  private readonly prepared: Record<Transport, Map<string, Buffer>> = { udp: new Map(), tcp: new Map() };
  private readonly counters: DnsServerStats = {
    received: 0,
    dropped: 0,
    formerr: 0,
    authoritative: 0,
    cacheHits: 0,
    forwarded: 0,
    servfail: 0,
    truncated: 0,
  };

  constructor(private readonly opts: DnsServerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.zoneName = normaliseName(opts.zone);
    const upstreams = (opts.upstreams ?? []).map((u) => (typeof u === 'string' ? parseHostPort(u, 53) : u));
    this.forwarder = new Forwarder({
      upstreams,
      clock: this.clock,
      logger: this.logger,
      timeoutMs: opts.upstreamTimeoutMs,
    });
    this.cache = new AnswerCache({ clock: this.clock });
    this.zone = this.buildZone(opts.records);
  }

  /** Binds UDP and TCP on the same port. */
  async start(): Promise<void> {
    const { host, port } = this.opts.listen;
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', (e) => {
          udp.close();
          reject(listenError(e, host, port, 'UDP'));
        });
        udp.bind({ address: host, port, exclusive: true }, () => {
          udp.removeAllListeners('error');
          resolve();
        });
      });
      const bound = udp.address().port;
      const tcp = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
      tcp.maxConnections = MAX_TCP_CONNECTIONS;
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host, port: bound, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        // With port 0 the kernel chose a UDP port whose TCP twin is taken: try another.
        if (port === 0 && attempt < 10 && (e as { code?: string }).code === 'EADDRINUSE') continue;
        throw listenError(e, host, bound, 'TCP');
      }
      udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo));
      udp.on('error', (e) => this.logger.log('warn', 'dns udp socket error', { error: errorMessage(e) }));
      tcp.on('error', (e) => this.logger.log('warn', 'dns tcp server error', { error: errorMessage(e) }));
      this.udp = udp;
      this.tcp = tcp;
      this.logger.log('info', 'dns server listening', {
        zone: this.zoneName,
        host,
        port: bound,
        upstreams: (this.opts.upstreams ?? []).length,
      });
      return;
    }
  }

  /** Where it listens (after `start`). */
  address(): HostPort {
    if (!this.udp) throw new Error('the DNS server is not started; call start() first');
    const a = this.udp.address();
    return { host: a.address, port: a.port };
  }

  /** Replaces the zone's records (stack records and service records together); bumps the SOA serial. */
  setRecords(records: readonly DnsRecord[]): void {
    this.zone = this.buildZone(records);
    this.prepared.udp.clear();
    this.prepared.tcp.clear();
  }

  stats(): DnsServerStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.forwarder.close();
    for (const s of this.connections) s.destroy();
    this.connections.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    await Promise.all([
      udp && new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp && new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  private buildZone(records: readonly DnsRecord[]): Zone {
    // Seconds since the epoch, but always increasing: secondaries and caches compare serials.
    this.serial = Math.max(this.serial + 1, Math.floor(this.clock.now().getTime() / 1000));
    return new Zone({
      origin: this.zoneName,
      records,
      serial: this.serial,
      soa: this.opts.soa ?? DEFAULT_SOA,
      nameserverAddress: this.opts.listen.host,
    });
  }

  // ---- transports ----

  private onDatagram(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const reply = this.handle(msg, 'udp');
    const send = (out: Buffer | undefined) => {
      if (!out || this.udp !== socket) return;
      try {
        socket.send(out, rinfo.port, rinfo.address);
      } catch (e) {
        // A source the kernel will not send to (port 0): nothing to answer.
        this.logger.log('debug', 'dns reply not sent', { to: rinfo.address, port: rinfo.port, error: errorMessage(e) });
      }
    };
    if (reply instanceof Promise) reply.then(send, (e: unknown) => this.internalError(e));
    else send(reply);
  }

  private onConnection(socket: net.Socket): void {
    this.connections.add(socket);
    let buf: Buffer = Buffer.alloc(0);
    let idle: Timer | undefined;
    const arm = () => {
      idle?.cancel();
      idle = this.clock.setTimeout(() => socket.destroy(), TCP_IDLE_MS, { background: true });
    };
    arm();
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      idle?.cancel();
      this.connections.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      arm();
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const reply = this.handle(msg, 'tcp');
        const write = (out: Buffer | undefined) => {
          if (!out || socket.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          socket.write(Buffer.concat([head, out]));
        };
        if (reply instanceof Promise) reply.then(write, (e: unknown) => this.internalError(e));
        else write(reply);
      }
    });
  }

  private internalError(e: unknown): void {
    this.logger.log('error', 'dns server: unexpected error while answering', { error: errorMessage(e) });
  }

  // ---- one message ----

  /** The reply to one message, or undefined to drop it. Never throws. */
  private handle(msg: Buffer, transport: Transport): Buffer | undefined | Promise<Buffer | undefined> {
    this.counters.received++;
    if (msg.length < 12 || (msg.readUInt16BE(2) & QR) !== 0) {
      this.counters.dropped++;
      return undefined;
    }
    const id = msg.readUInt16BE(0);
    const key = msg.length <= CLASSIC_UDP_SIZE ? msg.toString('latin1', 2) : undefined;
    const ready = key === undefined ? undefined : this.prepared[transport].get(key);
    if (ready) {
      this.counters.authoritative++;
      const out = Buffer.from(ready);
      out.writeUInt16BE(id, 0);
      return out;
    }
    try {
      return this.answer(msg, id, transport, key);
    } catch (e) {
      this.internalError(e);
      this.counters.servfail++;
      return headerOnly(msg, 'SERVFAIL');
    }
  }

  private answer(
    msg: Buffer,
    id: number,
    transport: Transport,
    key: string | undefined,
  ): Buffer | undefined | Promise<Buffer | undefined> {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      this.counters.formerr++;
      return headerOnly(msg, 'FORMERR');
    }
    const flags = msg.readUInt16BE(2);
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0) return headerOnly(msg, 'NOTIMP');
    const questions = query.questions ?? [];
    const opts = (query.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
    const question = questions[0];
    if (questions.length !== 1 || opts.length > 1 || !question || typeof question.name !== 'string') {
      this.counters.formerr++;
      return headerOnly(msg, 'FORMERR');
    }
    const opt = opts[0];
    const reply: Reply = {
      id,
      rd: (flags & RD) !== 0,
      question,
      edns: opt !== undefined,
      limit:
        transport === 'tcp'
          ? Number.POSITIVE_INFINITY
          : opt
            ? Math.min(MAX_UDP_SIZE, Math.max(CLASSIC_UDP_SIZE, opt.udpPayloadSize))
            : CLASSIC_UDP_SIZE,
      ra: this.forwarder.enabled,
    };
    if (opt && opt.ednsVersion !== 0) {
      // BADVERS (16): its upper bits travel in the OPT record (RFC 6891 §6.1.3).
      return this.encode(reply, { rcode: 'NOERROR', answers: [], authorities: [], badvers: true });
    }
    const klass = question.class ?? 'IN';
    if (klass !== 'IN' && klass !== 'ANY')
      return this.encode(reply, { rcode: 'REFUSED', answers: [], authorities: [] });
    if (question.type === 'AXFR' || question.type === 'IXFR' || question.type === 'OPT')
      return this.encode(reply, { rcode: 'REFUSED', answers: [], authorities: [] });

    const name = normaliseName(question.name);
    if (this.zone.contains(name)) {
      this.counters.authoritative++;
      const found = this.zone.lookup(name, question.type);
      const additionals = this.glue(found.answers);
      const out = this.encode(reply, { ...found, additionals, aa: true });
      if (key !== undefined) {
        const cache = this.prepared[transport];
        if (cache.size >= MAX_PREPARED) cache.clear();
        cache.set(key, out);
      }
      return out;
    }
    const reverse = this.zone.lookupReverse(name, question.type);
    if (reverse) {
      this.counters.authoritative++;
      return this.encode(reply, { ...reverse, aa: true });
    }
    if (!this.forwarder.enabled) return this.encode(reply, { rcode: 'REFUSED', answers: [], authorities: [] });
    const ckey = cacheKey(name, question.type, klass);
    const cached = this.cache.get(ckey);
    if (cached) {
      this.counters.cacheHits++;
      return this.encode(reply, cached);
    }
    this.counters.forwarded++;
    return this.forwarder.resolve({ name: question.name, type: question.type, class: klass }).then((upstream) => {
      try {
        return this.relay(reply, ckey, upstream);
      } catch (e) {
        this.internalError(e);
        this.counters.servfail++;
        return headerOnly(msg, 'SERVFAIL');
      }
    });
  }

  private relay(reply: Reply, ckey: string, upstream: DecodedPacket | undefined): Buffer {
    if (!upstream) {
      this.counters.servfail++;
      return this.encode(reply, { rcode: 'SERVFAIL', answers: [], authorities: [] });
    }
    const answer: CachedAnswer = {
      rcode: rcodeOf(upstream) === RCODE.NXDOMAIN ? 'NXDOMAIN' : 'NOERROR',
      answers: (upstream.answers ?? []).filter((a) => a.type !== 'OPT'),
      authorities: (upstream.authorities ?? []).filter((a) => a.type === 'SOA' || a.type === 'NS'),
    };
    const out = this.encode(reply, answer);
    this.cache.put(ckey, answer);
    return out;
  }

  /** Addresses of in-zone SRV targets and MX exchanges, so the client need not ask again. */
  private glue(answers: Answer[]): Answer[] {
    const out: Answer[] = [];
    for (const a of answers) {
      const target = a.type === 'SRV' ? a.data.target : a.type === 'MX' ? a.data.exchange : undefined;
      if (target === undefined) continue;
      const t = normaliseName(target);
      if (!this.zone.contains(t) || out.some((o) => o.name === t)) continue;
      for (const type of ['A', 'AAAA']) {
        const found = this.zone.lookup(t, type);
        out.push(...found.answers.filter((x) => x.type === type));
      }
    }
    return out;
  }

  private encode(reply: Reply, body: ReplyBody): Buffer {
    const rcode = RCODE[body.rcode];
    const flags = (body.aa ? AA : 0) | (reply.rd ? RD : 0) | (reply.ra ? RA : 0) | rcode;
    const additionals: Answer[] = [...(body.additionals ?? [])];
    if (reply.edns) additionals.push(ourOpt(body.badvers ? 1 : 0));
    const packet: Packet = {
      type: 'response',
      id: reply.id,
      flags,
      questions: [reply.question],
      answers: body.answers,
      authorities: body.authorities,
      additionals,
    };
    const out = dnsPacket.encode(packet);
    if (out.length <= reply.limit) return out;
    this.counters.truncated++;
    return dnsPacket.encode({
      ...packet,
      flags: flags | TC,
      answers: [],
      authorities: [],
      additionals: reply.edns ? [ourOpt(0)] : [],
    });
  }
}

interface Reply {
  id: number;
  rd: boolean;
  question: Question;
  edns: boolean;
  /** Largest message the transport takes. */
  limit: number;
  ra: boolean;
}

interface ReplyBody {
  rcode: RcodeName;
  answers: Answer[];
  authorities: Answer[];
  additionals?: Answer[];
  aa?: boolean;
  badvers?: boolean;
}

/** Why the server cannot listen, in words that say what to change. */
function listenError(e: unknown, host: string, port: number, transport: string): Error {
  const code = (e as { code?: string }).code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const why =
    code === 'EADDRINUSE'
      ? `${transport} port ${port} is in use (by another DNS server, or avahi's mDNS on 5353); set dns.listen to a free port`
      : code === 'EACCES'
        ? `ports below 1024 need root or CAP_NET_BIND_SERVICE; run as root, grant the capability, or listen on a port above 1023`
        : code === 'EADDRNOTAVAIL'
          ? `no interface has the address ${host}; use 127.0.0.1, 0.0.0.0 or an address of this machine`
          : errorMessage(e);
  const err = new Error(`the DNS server cannot listen on ${where}: ${why}`);
  err.cause = e;
  return err;
}

function ourOpt(extendedRcode: number): OptAnswer {
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize: OUR_UDP_SIZE,
    extendedRcode,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
}

/**
 * A reply that is only the query's header with QR and an rcode, every count zero: what a message
 * we cannot (or will not) read gets.
 */
function headerOnly(msg: Buffer, rcode: RcodeName): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(msg.readUInt16BE(0), 0);
  const flags = msg.readUInt16BE(2);
  // Keep opcode and RD; set QR and the rcode.
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & RD) | RCODE[rcode], 2);
  return out;
}
