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
import type { UpstreamConn, UpstreamOwner } from './upstream.js';

/** The proxy's coarse clock. */
export interface CoarseClock {
  readonly now: number;
}

export class Tunnel implements UpstreamOwner, Abortable {
  lastActivity: number;
  /** Why it was cut (idle timeout, drain, shutdown); undefined when the sides closed it. */
  reason: string | undefined;
  private clientGone = false;
  private upstreamGone = false;
  private done = false;

  constructor(
    private readonly client: net.Socket,
    private readonly conn: UpstreamConn,
    private readonly idleTimeoutMs: number,
    private readonly time: CoarseClock,
    private readonly onDone: (t: Tunnel) => void,
  ) {
    this.lastActivity = time.now;
    conn.owner = this;
  }

  fromClient(chunk: Buffer): void {
    this.lastActivity = this.time.now;
    if (this.upstreamGone) return;
    if (!this.conn.socket.write(chunk)) this.client.pause();
  }

  /** The client half-closed: pass the FIN on. */
  clientEnded(): void {
    if (!this.upstreamGone) this.conn.socket.end();
  }

  clientDrained(): void {
    this.lastActivity = this.time.now;
    if (!this.upstreamGone) this.conn.socket.resume();
  }

  clientClosed(hadError: boolean): void {
    this.clientGone = true;
    if (!this.upstreamGone) {
      if (hadError) this.conn.destroy();
      else this.conn.socket.end();
    }
    this.maybeDone();
  }

  onUpstreamConnect(): void {
    /* connected before the tunnel starts */
  }

  onUpstreamData(_conn: UpstreamConn, chunk: Buffer): void {
    this.lastActivity = this.time.now;
    if (this.clientGone) return;
    const ok = this.client.write(chunk);
    if (this.client.writableLength !== 0) this.conn.lend(); // the write keeps the chunk: not given back
    if (!ok) this.conn.socket.pause();
  }

  onUpstreamEnd(): void {
    if (!this.clientGone) this.client.end();
  }

  onUpstreamClose(_conn: UpstreamConn, error: Error | undefined): void {
    this.upstreamGone = true;
    if (!this.clientGone) {
      if (error) this.client.destroy();
      else this.client.end();
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
