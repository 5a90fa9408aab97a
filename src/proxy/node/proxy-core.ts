/**
 * What the connection handlers of one NodeProxy share: settings, the current routes and pools,
 * counters, the coarse clock, the logger and the access log. Owned by NodeProxy; handlers keep
 * a reference to it instead of to the proxy, so they see route and pool changes at once.
 */
import type net from 'node:net';
import type { Timers } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { AccessLog, HttpRoute, Listener } from '../data-plane.js';
import { ListenerCounter, TrafficCounter } from './metrics.js';
import { PoolTable, type BackendState } from './pool.js';
import { Router } from './router.js';
import { SocketWriter, type Flusher } from './stream-io.js';
import type { UpstreamConn } from './upstream.js';
import type { ChallengeResponder } from '../../tls/acme-issuer.js';

export interface ProxySettings {
  maxTries: number;
  ejectForMs: number;
  maxEjectForMs: number;
  clientIdleTimeoutMs: number;
  requestHeadTimeoutMs: number;
  maxHeadBytes: number;
  maxConnectionsPerBackend: number;
  maxIdlePerBackend: number;
  backendIdleTimeoutMs: number;
  trustForwardedHeaders: boolean;
  timerResolutionMs: number;
}

/** An open client connection of a listener. */
export interface Session {
  readonly socket: net.Socket;
  /** Called every timer tick with the coarse clock. */
  check(now: number): void;
  /** The listener is closing: end the connection once its current exchange is done. */
  listenerClosing(): void;
}

export class ListenerRuntime {
  readonly sessions = new Set<Session>();
  readonly counter = new ListenerCounter();
  closing = false;

  constructor(
    public config: Listener,
    readonly server: net.Server,
  ) {}

  get name(): string {
    return this.config.name;
  }

  opened(s: Session): void {
    this.sessions.add(s);
    this.counter.connections++;
    this.counter.active++;
  }

  closed(s: Session): void {
    if (!this.sessions.delete(s)) return;
    this.counter.active--;
    this.counter.closedBytesIn += s.socket.bytesRead;
    this.counter.closedBytesOut += s.socket.bytesWritten;
  }
}

export class ProxyCore implements Flusher {
  /** Coarse monotonic time in milliseconds (the clock's `ms()` at the last timer tick). */
  now: number;
  router = new Router([]);
  readonly pools: PoolTable;
  closing = false;
  /** Pending ACME HTTP-01 answers, served by plain HTTP listeners (set when the proxy has certificates). */
  challenges: ChallengeResponder | undefined;
  private readonly routeCounters = new Map<string, TrafficCounter>();
  /** Writers with writes queued in this event-loop turn. */
  private dirtyWriters: SocketWriter[] = [];
  private flushScheduled = false;
  private readonly flush = () => {
    this.flushScheduled = false;
    const ws = this.dirtyWriters;
    this.dirtyWriters = [];
    for (let i = 0; i < ws.length; i++) (ws[i] as SocketWriter).flush();
  };

  constructor(
    readonly settings: ProxySettings,
    readonly logger: Logger,
    readonly clock: Timers,
    /** Read at the end of each exchange; NodeProxy.setAccessLog replaces it. */
    public accessLog: AccessLog | undefined,
  ) {
    this.now = clock.ms();
    this.pools = new PoolTable({
      maxConnections: settings.maxConnectionsPerBackend,
      maxIdle: settings.maxIdlePerBackend,
      ejectForMs: settings.ejectForMs,
      maxEjectForMs: settings.maxEjectForMs,
      now: () => this.now,
    });
  }

  /**
   * `w` has writes queued: they go out at the end of this event-loop turn, every socket's in
   * one system call. Reading every ready socket before writing any is how HAProxy works too:
   * the peers woken by the writes then do not preempt the proxy in the middle of a batch.
   */
  dirty(w: SocketWriter): void {
    this.dirtyWriters.push(w);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** The writer of a backend connection (made on its first write). */
  writerOf(conn: UpstreamConn): SocketWriter {
    return (conn.out ??= new SocketWriter(conn.socket, this));
  }

  setRoutes(routes: HttpRoute[]): void {
    this.router = new Router(routes);
    const ids = new Set(routes.map((r) => r.id));
    for (const id of [...this.routeCounters.keys()]) if (!ids.has(id)) this.routeCounters.delete(id);
    for (const id of ids) if (!this.routeCounters.has(id)) this.routeCounters.set(id, new TrafficCounter());
  }

  routeCounter(id: string): TrafficCounter {
    let c = this.routeCounters.get(id);
    if (!c) this.routeCounters.set(id, (c = new TrafficCounter()));
    return c;
  }

  routeMetrics(): Map<string, TrafficCounter> {
    return this.routeCounters;
  }

  /** A connect to `b` failed; ejects it (and says so once) unless it is ejected already. */
  connectFailed(b: BackendState, why: string): void {
    if (b.connectFailed(this.now)) {
      const forMs = Math.round(b.ejectedUntil - this.now);
      this.logger.log('warn', 'backend ejected', {
        backend: b.id,
        pool: b.pool,
        address: `${b.host}:${b.port}`,
        reason: why,
        ejectedForMs: forMs,
        ejections: b.ejections,
      });
    }
  }
}
