/**
 * One TCP connection to a backend. Its socket listeners are installed once and dispatch to the
 * current owner (the request using it, or a tunnel); between requests the connection sits idle
 * in its backend's keep-alive pool with no owner, and anything the backend does then (data,
 * close) ends it. Installing listeners once keeps the per-request cost to a field assignment.
 *
 * Reads go into a buffer the connection reuses (net's `onread`), which skips an allocation and
 * the stream machinery per read. The chunk handed to `onUpstreamData` is only valid during the
 * call: an owner that keeps it, or a part of it, beyond the call (a write that did not reach
 * the kernel at once keeps a reference) calls `lend()`, and the next read gets another buffer.
 */
import net from 'node:net';
import type { SocketWriter } from './stream-io.js';

export interface UpstreamOwner {
  /** The TCP connection is established (only for connections that were not yet). */
  onUpstreamConnect(conn: UpstreamConn): void;
  onUpstreamData(conn: UpstreamConn, chunk: Buffer): void;
  /** The backend sent FIN. */
  onUpstreamEnd(conn: UpstreamConn): void;
  /** The socket is gone; `error` says why when it failed. */
  onUpstreamClose(conn: UpstreamConn, error: Error | undefined): void;
  /** The socket's write buffer drained after a write returned false. */
  onUpstreamDrain(conn: UpstreamConn): void;
}

/** Told when a connection it waited for (the backend was at its connection limit) is its own. */
export interface UpstreamWaiter extends UpstreamOwner {
  onUpstreamAssigned(conn: UpstreamConn): void;
}

export interface UpstreamHome {
  /** The connection closed (whoever owned it). */
  upstreamClosed(conn: UpstreamConn): void;
}

/** Size of a connection's read buffer. */
const READ_BUFFER_BYTES = 16 * 1024;

export class UpstreamConn {
  readonly socket: net.Socket;
  owner: UpstreamOwner | null;
  connected = false;
  /** Handed out from the idle pool (so it may have been closed by the backend meanwhile). */
  reused = false;
  /** When it went idle (the proxy's coarse clock). */
  idleSince = 0;
  /** When the connect started (the proxy's coarse clock). */
  readonly connectStartedAt: number;
  /** Its writes (ProxyCore.writerOf). */
  out: SocketWriter | null = null;
  private error: Error | undefined;
  private readBuffer: Buffer | null = null;

  constructor(home: UpstreamHome, host: string, port: number, owner: UpstreamOwner, now: number) {
    this.owner = owner;
    this.connectStartedAt = now;
    const socket = net.connect({
      host,
      port,
      allowHalfOpen: true,
      noDelay: true,
      onread: {
        buffer: () => (this.readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)),
        callback: (n: number, buf: Uint8Array) => {
          if (this.owner) this.owner.onUpstreamData(this, (buf as Buffer).subarray(0, n));
          else socket.destroy(); // an idle connection must not speak
          return true;
        },
      },
    });
    this.socket = socket;
    socket.on('connect', () => {
      this.connected = true;
      this.owner?.onUpstreamConnect(this);
    });
    socket.on('end', () => {
      if (this.owner) this.owner.onUpstreamEnd(this);
      else socket.destroy();
    });
    socket.on('drain', () => this.owner?.onUpstreamDrain(this));
    socket.on('error', (e) => {
      this.error = e;
    });
    socket.on('close', () => {
      const owner = this.owner;
      this.owner = null;
      home.upstreamClosed(this);
      owner?.onUpstreamClose(this, this.error);
    });
  }

  /** The owner keeps a reference to the last chunk: the next read goes into another buffer. */
  lend(): void {
    this.readBuffer = null;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
