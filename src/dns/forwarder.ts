/**
 * Asks upstream resolvers, in the order given: UDP first (a fresh random id, EDNS0 with a
 * 1232-byte buffer), TCP when the answer comes back truncated, the next upstream when one does
 * not answer in time or refuses. Answers must match the id and the question, or they are
 * ignored (RFC 5452). Identical questions in flight share one upstream query.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, Question } from 'dns-packet';
import type { Timers } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/error-message.js';
import { formatHostPort, type HostPort } from './upstream.js';

export interface ForwarderOptions {
  upstreams: readonly HostPort[];
  clock: Timers;
  logger: Logger;
  /** Time one upstream has to answer before the next is asked. Default 2000 ms. */
  timeoutMs?: number;
}

interface Pending {
  question: Question;
  resolve(p: DecodedPacket | undefined): void;
}

/** One connected UDP socket per upstream: ICMP "port unreachable" then fails a query at once. */
class UdpUpstream {
  private socket: dgram.Socket | undefined;
  private readonly pending = new Map<number, Pending>();

  constructor(
    readonly target: HostPort,
    private readonly logger: Logger,
  ) {}

  private open(): dgram.Socket {
    if (this.socket) return this.socket;
    const socket = dgram.createSocket(net.isIPv6(this.target.host) ? 'udp6' : 'udp4');
    socket.on('message', (msg) => this.onMessage(msg));
    socket.on('error', (e) => {
      this.logger.log('debug', 'dns upstream socket error', {
        upstream: formatHostPort(this.target),
        error: errorMessage(e),
      });
      this.failAll();
      if (this.socket === socket) this.socket = undefined;
      socket.close();
    });
    socket.connect(this.target.port, this.target.host);
    socket.unref();
    this.socket = socket;
    return socket;
  }

  query(question: Question, timeoutMs: number, clock: Timers): Promise<DecodedPacket | undefined> {
    let id = randomInt(0, 65536);
    for (let tries = 0; this.pending.has(id) && tries < 16; tries++) id = randomInt(0, 65536);
    if (this.pending.has(id)) return Promise.resolve(undefined);
    const packet = encodeQuery(id, question);
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => done(undefined), timeoutMs, { background: true });
      const done = (p: DecodedPacket | undefined) => {
        if (this.pending.get(id)?.resolve !== done) return;
        this.pending.delete(id);
        timer.cancel();
        resolve(p);
      };
      this.pending.set(id, { question, resolve: done });
      const socket = this.open();
      const send = () =>
        socket.send(packet, (err) => {
          if (err) done(undefined);
        });
      // connect() is asynchronous; sending before it completes throws ERR_SOCKET_DGRAM_NOT_CONNECTED.
      try {
        socket.remoteAddress();
        send();
      } catch {
        socket.once('connect', send);
      }
    });
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 12) return;
    const p = this.pending.get(msg.readUInt16BE(0));
    if (!p) return;
    let decoded: DecodedPacket;
    try {
      decoded = dnsPacket.decode(msg);
    } catch {
      return;
    }
    if (decoded.type !== 'response' || !sameQuestion(decoded.questions?.[0], p.question)) return;
    p.resolve(decoded);
  }

  private failAll(): void {
    for (const p of [...this.pending.values()]) p.resolve(undefined);
  }

  close(): void {
    this.failAll();
    this.socket?.close();
    this.socket = undefined;
  }
}

export class Forwarder {
  private readonly udp: UdpUpstream[];
  private readonly inFlight = new Map<string, Promise<DecodedPacket | undefined>>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: ForwarderOptions) {
    this.udp = opts.upstreams.map((u) => new UdpUpstream(u, opts.logger));
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  get enabled(): boolean {
    return this.udp.length > 0;
  }

  /** The first usable upstream answer (NOERROR or NXDOMAIN), else undefined. */
  resolve(question: Question): Promise<DecodedPacket | undefined> {
    const key = `${question.name.toLowerCase()}|${question.type}|${question.class ?? 'IN'}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.ask(question).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async ask(question: Question): Promise<DecodedPacket | undefined> {
    for (const upstream of this.udp) {
      let answer: DecodedPacket | undefined;
      try {
        answer = await upstream.query(question, this.timeoutMs, this.opts.clock);
        if (answer?.flag_tc) answer = await this.queryTcp(upstream.target, question);
      } catch (e) {
        // A question dns-packet cannot encode again, a socket that failed: the next upstream, or SERVFAIL.
        this.opts.logger.log('debug', 'dns upstream query failed', { error: errorMessage(e) });
        answer = undefined;
      }
      // NOERROR (0) and NXDOMAIN (3) are answers; SERVFAIL, REFUSED and the rest mean "ask the next one".
      if (answer && (rcodeOf(answer) === 0 || rcodeOf(answer) === 3)) return answer;
      this.opts.logger.log('debug', 'dns upstream gave no usable answer', {
        upstream: formatHostPort(upstream.target),
        name: question.name,
        type: question.type,
        rcode: answer ? rcodeOf(answer) : 'timeout',
      });
    }
    return undefined;
  }

  private queryTcp(target: HostPort, question: Question): Promise<DecodedPacket | undefined> {
    const id = randomInt(0, 65536);
    const query = encodeQuery(id, question);
    return new Promise((resolve) => {
      let buf: Buffer = Buffer.alloc(0);
      const socket = net.connect({ host: target.host, port: target.port });
      const finish = (p: DecodedPacket | undefined) => {
        timer.cancel();
        socket.destroy();
        resolve(p);
      };
      const timer = this.opts.clock.setTimeout(() => finish(undefined), this.timeoutMs, { background: true });
      socket.on('error', () => finish(undefined));
      socket.on('close', () => finish(undefined));
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        socket.write(Buffer.concat([len, query]));
      });
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        try {
          const p = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          finish(p.id === id && sameQuestion(p.questions?.[0], question) ? p : undefined);
        } catch {
          finish(undefined);
        }
      });
    });
  }

  close(): void {
    for (const u of this.udp) u.close();
  }
}

/** The header's rcode (dns-packet decodes it, but its types do not declare it). */
export function rcodeOf(p: DecodedPacket): number {
  return (p.flags ?? 0) & 0xf;
}

function encodeQuery(id: number, question: Question): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: question.name, type: question.type, class: question.class ?? 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  });
}

function sameQuestion(a: Question | undefined, b: Question): boolean {
  return (
    a !== undefined &&
    a.name.toLowerCase() === b.name.toLowerCase() &&
    a.type === b.type &&
    (a.class ?? 'IN') === (b.class ?? 'IN')
  );
}
