/**
 * One client connection on a TCP listener: picks a backend of the listener's pool, connects
 * (connect timeout; a failed connect ejects the backend and tries another, up to `maxTries`,
 * since nothing was sent yet: the client socket stays paused until then), and tunnels bytes
 * both ways until either side closes or the idle timeout passes.
 *
 * Backend metrics count each connection as a request: `error` when it could not connect;
 * a connection that reached the backend counts in no status class and adds no latency.
 */
import type net from 'node:net';
import type { Listener } from '../data-plane.js';
import { pickBackend } from './balancer.js';
import { clientAddress } from './client-address.js';
import { ERROR } from './metrics.js';
import type { Abortable, BackendState } from './pool.js';
import type { ListenerRuntime, ProxyCore, Session } from './proxy-core.js';
import { SocketWriter } from './stream-io.js';
import { Tunnel } from './tunnel.js';
import type { UpstreamConn, UpstreamOwner } from './upstream.js';

type TcpListener = Extract<Listener, { protocol: 'tcp' }>;

const noop = (): void => undefined;

export class TcpSession implements Session, UpstreamOwner, Abortable {
  inFlightSlot = -1;
  private readonly startedAt = performance.now();
  private readonly client: string;
  private readonly config: TcpListener;
  private backend: BackendState | null = null;
  private conn: UpstreamConn | null = null;
  private tunnel: Tunnel | null = null;
  private tries = 0;
  private tried: BackendState[] | null = null;
  private clientEnded = false;
  private closed = false;
  private reason: string | undefined;

  constructor(
    private readonly core: ProxyCore,
    private readonly listener: ListenerRuntime,
    readonly socket: net.Socket,
  ) {
    this.client = clientAddress(socket.remoteAddress);
    this.config = listener.config as TcpListener;
    listener.opened(this);
    socket.on('error', noop);
    socket.on('end', () => {
      this.clientEnded = true;
      this.tunnel?.clientEnded();
    });
    socket.on('drain', () => this.tunnel?.clientDrained());
    socket.on('close', (hadError: boolean) => this.onClose(hadError));
    if (!this.dispatch()) this.giveUp('no-backend');
  }

  private dispatch(): boolean {
    const core = this.core;
    const b = pickBackend(
      core.pools.members(this.config.pool),
      this.config.balance ?? 'round-robin',
      core.now,
      this.tried,
    );
    if (b === undefined) return false;
    this.backend = b;
    this.tries++;
    b.metrics.start();
    b.active.add(this);
    this.conn = b.connect(this, core.now);
    return true;
  }

  onUpstreamConnect(conn: UpstreamConn): void {
    const b = this.backend;
    if (conn !== this.conn || b === null) return;
    b.connectSucceeded();
    if (this.closed) {
      conn.destroy();
      return;
    }
    const t = new Tunnel(
      new SocketWriter(this.socket, this.core),
      conn,
      this.config.idleTimeout.toMilliseconds(),
      this.core,
      () => this.tunnelDone(),
    );
    this.tunnel = t;
    this.socket.on('data', (chunk: Buffer) => t.fromClient(chunk));
    this.socket.resume();
    if (this.clientEnded) t.clientEnded();
  }

  onUpstreamData(): void {
    /* the tunnel owns the connection once connected */
  }
  onUpstreamEnd(): void {
    /* idem */
  }
  onUpstreamDrain(): void {
    /* idem */
  }

  /** Only before the tunnel: the connect failed. */
  onUpstreamClose(conn: UpstreamConn, error: Error | undefined): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.connectFailed((error as NodeJS.ErrnoException | undefined)?.code ?? error?.message ?? 'closed');
  }

  private connectFailed(why: string): void {
    const b = this.backend as BackendState;
    this.core.connectFailed(b, why);
    b.metrics.finish(ERROR, performance.now() - this.startedAt);
    b.finishedOne(this);
    if (this.closed) return;
    (this.tried ??= []).push(b);
    if (this.tries < this.core.settings.maxTries && !this.core.closing && this.dispatch()) return;
    this.giveUp(why === 'connect timeout' ? 'connect-timeout' : 'connect-failed');
  }

  private giveUp(reason: string): void {
    this.reason = reason;
    this.core.logger.log('warn', 'tcp connection refused', {
      listener: this.listener.name,
      pool: this.config.pool,
      reason,
      tries: this.tries,
    });
    this.socket.destroy();
  }

  private tunnelDone(): void {
    const b = this.backend as BackendState;
    b.metrics.finishConnection();
    b.finishedOne(this);
    this.reason ??= this.tunnel?.reason;
  }

  check(now: number): void {
    const conn = this.conn;
    if (this.tunnel !== null) {
      this.tunnel.check(now);
    } else if (
      conn !== null &&
      !conn.connected &&
      now - conn.connectStartedAt >= this.config.connectTimeout.toMilliseconds()
    ) {
      this.conn = null;
      conn.owner = null;
      conn.destroy();
      this.connectFailed('connect timeout');
    }
  }

  listenerClosing(): void {
    /* open connections go on until they close */
  }

  abort(reason: string): void {
    this.reason = reason;
    if (this.tunnel !== null) {
      this.tunnel.abort(reason);
      return;
    }
    this.socket.destroy();
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.owner = null;
      conn.destroy();
      const b = this.backend as BackendState;
      b.metrics.finish(ERROR, performance.now() - this.startedAt);
      b.finishedOne(this);
    }
  }

  private onClose(hadError: boolean): void {
    this.closed = true;
    this.listener.closed(this);
    if (this.tunnel !== null) this.tunnel.clientClosed(hadError);
    else if (this.conn !== null) {
      // Closed while connecting: take the attempt back.
      const conn = this.conn;
      this.conn = null;
      conn.owner = null;
      conn.destroy();
      const b = this.backend as BackendState;
      b.metrics.cancel();
      b.finishedOne(this);
    }
    const log = this.core.accessLog;
    this.reason ??= this.tunnel?.reason;
    if (log !== undefined) {
      const ms = performance.now() - this.startedAt;
      log({
        time: new Date(this.core.clock.now().getTime() - ms).toISOString(),
        listener: this.listener.name,
        route: null,
        backend: this.backend?.id ?? null,
        method: 'TCP',
        path: '',
        status: 0,
        bytes: this.socket.bytesWritten,
        durationMs: Math.round(ms * 1000) / 1000,
        client: this.client,
        tries: this.tries,
        ...(this.reason ? { error: this.reason } : {}),
      });
    }
  }
}
