/**
 * Bytes both ways between a client socket and a backend connection, with backpressure and
 * half-close: what an HTTP upgrade (WebSocket) becomes after 101, and what a TCP listener
 * forwards. The owner of the client socket passes its events in (`fromClient`, `clientEnded`,
 * `clientDrained`, `clientClosed`); the backend's come through UpstreamOwner. It is done when
 * both sockets have closed. An idle timeout (no bytes either way) closes both; there is no
 * total timeout.
 */
import type net from 'node:net';
import type { Abortable } from './pool.js';
import type { SocketWriter } from './stream-io.js';
import type { UpstreamConn, UpstreamOwner } from './upstream.js';

/** The proxy's coarse clock, and the writers of backend connections (ProxyCore). */
export interface TunnelCore {
  readonly now: number;
  writerOf(conn: UpstreamConn): SocketWriter;
}

export class Tunnel implements UpstreamOwner, Abortable {
  inFlightSlot = -1;
  lastActivity: number;
  /** Why it was cut (idle timeout, drain, shutdown); undefined when the sides closed it. */
  reason: string | undefined;
  private clientGone = false;
  private upstreamGone = false;
  private done = false;
  private readonly client: net.Socket;
  /** Writes go through the sockets' writers, so they follow what was written before the tunnel (the 101, a request head). */
  private readonly upstreamOut: SocketWriter;

  constructor(
    private readonly clientOut: SocketWriter,
    private readonly conn: UpstreamConn,
    private readonly idleTimeoutMs: number,
    private readonly time: TunnelCore,
    private readonly onDone: (t: Tunnel) => void,
  ) {
    this.client = clientOut.socket;
    this.upstreamOut = time.writerOf(conn);
    this.lastActivity = time.now;
    conn.owner = this;
  }

  fromClient(chunk: Buffer): void {
    this.lastActivity = this.time.now;
    if (this.upstreamGone) return;
    if (!this.upstreamOut.writeNow(chunk)) this.client.pause();
  }

  /** The client half-closed: pass the FIN on. */
  clientEnded(): void {
    if (!this.upstreamGone) this.upstreamOut.end();
  }

  clientDrained(): void {
    this.lastActivity = this.time.now;
    if (!this.upstreamGone) this.conn.socket.resume();
  }

  clientClosed(hadError: boolean): void {
    this.clientGone = true;
    if (!this.upstreamGone) {
      if (hadError) this.conn.destroy();
      else this.upstreamOut.end();
    }
    this.maybeDone();
  }

  onUpstreamConnect(): void {
    /* connected before the tunnel starts */
  }

  onUpstreamData(_conn: UpstreamConn, chunk: Buffer): void {
    this.lastActivity = this.time.now;
    if (this.clientGone) return;
    const ok = this.clientOut.writeNow(chunk);
    if (this.clientOut.pending()) this.conn.lend(); // the write keeps the chunk
    if (!ok) this.conn.socket.pause();
  }

  onUpstreamEnd(): void {
    if (!this.clientGone) this.clientOut.end();
  }

  onUpstreamClose(_conn: UpstreamConn, error: Error | undefined): void {
    this.upstreamGone = true;
    if (!this.clientGone) {
      if (error) this.client.destroy();
      else this.clientOut.end();
    }
    this.maybeDone();
  }

  onUpstreamDrain(): void {
    this.lastActivity = this.time.now;
    if (!this.clientGone) this.client.resume();
  }

  /** Idle check on the timer tick. */
  check(now: number): void {
    if (now - this.lastActivity >= this.idleTimeoutMs) this.abort('timeout-idle');
  }

  abort(reason: string): void {
    if (this.done) return;
    this.reason ??= reason;
    this.client.destroy();
    this.conn.destroy();
  }

  private maybeDone(): void {
    if (this.done || !this.clientGone || !this.upstreamGone) return;
    this.done = true;
    this.onDone(this);
  }
}
