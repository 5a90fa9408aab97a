/**
 * The built-in data plane: an HTTP/1.1 and TCP reverse proxy in one Node process.
 *
 * It speaks HTTP/1.1 on raw sockets instead of going through node:http: one parse of each head,
 * the response head forwarded as received when nothing in it must change, no per-request
 * IncomingMessage/ServerResponse/ClientRequest objects, and keep-alive connections to backends
 * kept per backend. That is what lets one Node thread get within reach of HAProxy (see
 * bench/proxy-throughput.bench.ts).
 *
 *   const proxy = new NodeProxy({ logger, accessLog: accessLogToLogger(logger) });
 *   await proxy.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 8080 }]);
 *   proxy.setPool('web', [{ id: 'web/0@v7', host: '127.0.0.1', port: 4000, weight: 100 }]);
 *   proxy.setRoutes([{ id: 'web', host: 'web.lab.test', pathPrefix: '/', listeners: [], pool: 'web', ... }]);
 *
 * Timeouts are checked on one timer every `timerResolution`, so they fire up to that much late.
 */
import net from 'node:net';
import tls from 'node:tls';
import { systemClock, type Timer, type Timers } from '../../util/clock.js';
import { Duration } from '../../util/duration.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import type { AccessLog, Backend, DataPlane, DataPlaneMetrics, HttpRoute, Listener } from '../data-plane.js';

/** Sees a pool change before it takes effect (with the pool's members and metrics as they were). */
export type PoolChangeListener = (pool: string, backends: readonly Backend[]) => void;
import { HttpSession } from './http-session.js';
import { ListenerRuntime, ProxyCore, type ProxySettings } from './proxy-core.js';
import { TcpSession } from './tcp-forward.js';
import { answersAlpnChallenges, createTlsServer, picksBySni, updateDefaultCertificate } from './tls-listener.js';
import type { CertificateManager } from '../../tls/certificate-manager.js';
import { errorMessage } from '../../util/error-message.js';

export interface NodeProxyOptions {
  /** Operational messages (ejections, bind errors). Default: silent. */
  logger?: Logger;
  /**
   * Time of access log entries, and the clock of ejections, timeouts and drain deadlines (its
   * `ms()` at each timer tick). Default: the system clock. Latencies are measured with
   * performance.now() whatever the clock: they are durations of real socket exchanges.
   */
  clock?: Timers;
  /** One entry per request and per TCP connection. Default: off. */
  accessLog?: AccessLog;
  /** Backends one request may try when connects fail (nothing sent yet). Default 3. */
  maxTries?: number;
  /** First ejection after a failed connect; doubles per consecutive ejection. Default 2s. */
  ejectFor?: Duration;
  /** Longest ejection. Default 30s. */
  maxEjectFor?: Duration;
  /** An idle keep-alive client connection closes after this. Default 60s. */
  clientIdleTimeout?: Duration;
  /** A request head must be complete within this (else 408). Default 10s. */
  requestHeadTimeout?: Duration;
  /** Largest request or response head (431 / 502 beyond). Default 64 KiB. */
  maxHeadBytes?: number;
  /** Open connections per backend; further requests wait for one. Default 1024. */
  maxConnectionsPerBackend?: number;
  /** Idle keep-alive connections kept per backend. Default 128. */
  maxIdlePerBackend?: number;
  /**
   * An idle backend connection is closed after this. Default 4s: below the 5 s keep-alive
   * timeout of Node's http server, so the proxy closes first.
   */
  backendIdleTimeout?: Duration;
  /** Keep X-Forwarded-Proto/-Host sent by the client (only behind a proxy you trust). Default false. */
  trustForwardedHeaders?: boolean;
  /** How often timeouts are checked. Default 50ms. */
  timerResolution?: Duration;
  /**
   * Certificates of listeners with `tls` (and the ACME challenges plain listeners answer).
   * Without it a listener with `tls` is refused.
   */
  certificates?: CertificateManager;
  /**
   * A listener that cannot bind (address in use, no such interface) is tried again this often,
   * on `clock`, until it binds or is no longer wanted. Default 5s.
   */
  bindRetry?: Duration;
  /** Told every time a listener binds, fails to bind or goes away (the data-plane process writes it to a file). */
  onListenerStatus?: (status: ListenerStatus[]) => void;
}

/** One wanted listener as the proxy serves it: bound at an address, or failing to bind and retried. */
export type ListenerStatus =
  | { name: string; protocol: 'http' | 'tcp'; tls: boolean; state: 'bound'; host: string; port: number }
  | {
      name: string;
      protocol: 'http' | 'tcp';
      tls: boolean;
      state: 'failed';
      host: string;
      port: number;
      /** Why the last attempt failed, e.g. `cannot bind 127.0.0.1:80: the address is in use ...`. */
      error: string;
      /** Attempts so far, and when the next one is due (ISO time from the proxy's clock). */
      attempts: number;
      retryAt: string;
    };

interface FailedListener {
  config: Listener;
  error: string;
  attempts: number;
  retryAtMs: number;
}

/** Why a listen() failed, in words. */
function bindFailure(l: Listener, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why =
    err.code === 'EADDRINUSE'
      ? 'the address is in use by another process or listener'
      : err.code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : err.code === 'EADDRNOTAVAIL'
          ? 'no interface has that address'
          : errorMessage(e);
  return `listener "${l.name}" cannot bind ${l.host}:${l.port}: ${why}`;
}

function settingsFrom(o: NodeProxyOptions): ProxySettings {
  const ms = (d: Duration | undefined, dflt: number) => (d === undefined ? dflt : d.toMilliseconds());
  const s: ProxySettings = {
    maxTries: o.maxTries ?? 3,
    ejectForMs: ms(o.ejectFor, 2000),
    maxEjectForMs: ms(o.maxEjectFor, 30_000),
    clientIdleTimeoutMs: ms(o.clientIdleTimeout, 60_000),
    requestHeadTimeoutMs: ms(o.requestHeadTimeout, 10_000),
    maxHeadBytes: o.maxHeadBytes ?? 64 * 1024,
    maxConnectionsPerBackend: o.maxConnectionsPerBackend ?? 1024,
    maxIdlePerBackend: o.maxIdlePerBackend ?? 128,
    backendIdleTimeoutMs: ms(o.backendIdleTimeout, 4000),
    trustForwardedHeaders: o.trustForwardedHeaders ?? false,
    timerResolutionMs: ms(o.timerResolution, 50),
  };
  const problems: string[] = [];
  if (!Number.isInteger(s.maxTries) || s.maxTries < 1)
    problems.push(`maxTries must be a whole number of at least 1, found ${s.maxTries}`);
  for (const k of ['maxHeadBytes', 'maxConnectionsPerBackend'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) problems.push(`${k} must be a whole number of at least 1, found ${s[k]}`);
  }
  if (!Number.isInteger(s.maxIdlePerBackend) || s.maxIdlePerBackend < 0)
    problems.push(`maxIdlePerBackend must be a whole number, found ${s.maxIdlePerBackend}`);
  for (const k of [
    'ejectForMs',
    'maxEjectForMs',
    'clientIdleTimeoutMs',
    'requestHeadTimeoutMs',
    'backendIdleTimeoutMs',
    'timerResolutionMs',
  ] as const) {
    if (!(s[k] > 0)) problems.push(`${k.replace(/Ms$/, '')} must be longer than 0`);
  }
  if (problems.length) throw new Error(`invalid NodeProxy options:\n- ${problems.join('\n- ')}`);
  return s;
}

function validateListeners(listeners: readonly Listener[]): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  const addresses = new Map<string, string>();
  for (const l of listeners) {
    const where = `listener "${l.name}"`;
    if (!l.name) problems.push('a listener has an empty name; name every listener');
    if (names.has(l.name)) problems.push(`${where} is declared twice; listener names must be unique`);
    names.add(l.name);
    if (l.protocol !== 'http' && l.protocol !== 'tcp')
      problems.push(`${where}: protocol "${String((l as { protocol: unknown }).protocol)}" is not one of http, tcp`);
    if (!l.host) problems.push(`${where} has no host; give the address to bind, e.g. 127.0.0.1`);
    if (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535)
      problems.push(`${where}: port must be a whole number from 0 to 65535, found ${l.port}`);
    if (l.port !== 0) {
      const key = `${l.host}:${l.port}`;
      const other = addresses.get(key);
      if (other !== undefined)
        problems.push(`listeners "${other}" and "${l.name}" both bind ${key}; give one of them another port`);
      addresses.set(key, l.name);
    }
    if (l.protocol === 'tcp') {
      if (!l.pool) problems.push(`${where}: a tcp listener needs the pool it forwards to`);
      if (!(l.connectTimeout.toMilliseconds() > 0)) problems.push(`${where}: connect timeout must be longer than 0`);
      if (!(l.idleTimeout.toMilliseconds() > 0)) problems.push(`${where}: idle timeout must be longer than 0`);
      if (l.balance !== undefined && l.balance !== 'round-robin' && l.balance !== 'least-connections') {
        problems.push(`${where}: balance "${String(l.balance)}" is not one of round-robin, least-connections`);
      }
    }
  }
  return problems;
}

function sameBinding(a: Listener, b: Listener): boolean {
  const tlsA = a.protocol === 'http' && a.tls !== undefined;
  const tlsB = b.protocol === 'http' && b.tls !== undefined;
  return (
    a.protocol === b.protocol &&
    a.host === b.host &&
    a.port === b.port &&
    tlsA === tlsB &&
    picksBySni(a) === picksBySni(b) &&
    answersAlpnChallenges(a) === answersAlpnChallenges(b)
  );
}

export class NodeProxy implements DataPlane {
  private readonly core: ProxyCore;
  /** Listeners by name (bound and serving). */
  private readonly listeners = new Map<string, ListenerRuntime>();
  /** Every runtime with open connections, including closed listeners that still have some. */
  private readonly runtimes = new Set<ListenerRuntime>();
  private readonly ticker: Timer;
  private readonly poolListeners = new Set<PoolChangeListener>();
  private lastSweep = 0;
  private listenerChange: Promise<void> = Promise.resolve();
  private closed: Promise<void> | undefined;
  private readonly certificates: CertificateManager | undefined;
  /** Wanted listeners that could not bind, by name; retried every `bindRetryMs`. */
  private readonly failed = new Map<string, FailedListener>();
  private readonly bindRetryMs: number;
  private retryTimer: Timer | undefined;
  private readonly onListenerStatus: ((status: ListenerStatus[]) => void) | undefined;

  constructor(options: NodeProxyOptions = {}) {
    this.core = new ProxyCore(
      settingsFrom(options),
      options.logger ?? silentLogger,
      options.clock ?? systemClock,
      options.accessLog,
    );
    this.ticker = this.core.clock.setInterval(() => this.tick(), this.core.settings.timerResolutionMs, {
      background: true,
    });
    this.certificates = options.certificates;
    this.bindRetryMs = options.bindRetry === undefined ? 5000 : options.bindRetry.toMilliseconds();
    if (!(this.bindRetryMs > 0)) throw new Error('invalid NodeProxy options:\n- bindRetry must be longer than 0');
    this.onListenerStatus = options.onListenerStatus;
    this.core.challenges = options.certificates?.challenges;
    const certs = options.certificates;
    certs?.onChange((name) => {
      const server = this.listeners.get(name)?.server;
      if (server instanceof tls.Server) updateDefaultCertificate(server, certs, name);
    });
  }

  setListeners(listeners: Listener[]): Promise<void> {
    const next = this.listenerChange.then(() => this.applyListeners(listeners));
    this.listenerChange = next.catch(() => undefined);
    return next;
  }

  private async applyListeners(listeners: Listener[]): Promise<void> {
    if (this.core.closing) throw new Error('the proxy is closed; create a new one');
    const problems = validateListeners(listeners);
    if (this.certificates === undefined) {
      for (const l of listeners)
        if (l.protocol === 'http' && l.tls !== undefined)
          problems.push(`listener "${l.name}" has tls, but this proxy was made without a certificate store`);
    }
    if (problems.length) throw new Error(`invalid listeners:\n- ${problems.join('\n- ')}`);
    const wanted = new Map(listeners.map((l) => [l.name, l]));
    for (const [name, rt] of this.listeners) {
      const l = wanted.get(name);
      if (l !== undefined && sameBinding(l, rt.config)) {
        rt.config = l; // pool, timeouts and balance of a tcp listener apply to new connections
        continue;
      }
      this.certificates?.remove(name);
      this.listeners.delete(name);
      this.retire(rt);
    }
    const failures: string[] = [];
    // Certificates of listeners that stay bound may have changed: new connections get the new ones.
    for (const [name, rt] of this.listeners) {
      if (rt.config.protocol !== 'http' || rt.config.tls === undefined) continue;
      try {
        await this.certificates?.configure(name, rt.config.tls);
      } catch (e) {
        failures.push(errorMessage(e));
      }
    }
    for (const name of this.failed.keys()) if (!wanted.has(name)) this.failed.delete(name);
    await Promise.all(
      listeners
        .filter((l) => !this.listeners.has(l.name))
        .map(async (l) => {
          if (l.protocol === 'http' && l.tls !== undefined) {
            try {
              await this.certificates?.configure(l.name, l.tls);
            } catch (e) {
              failures.push(errorMessage(e));
              return;
            }
          }
          const error = await this.tryBind(l);
          if (error !== undefined) failures.push(error);
        }),
    );
    this.scheduleRetry();
    this.reportListeners();
    if (failures.length) {
      for (const f of failures) this.core.logger.log('error', 'listener not bound', { message: f });
      throw new Error(failures.join('\n'));
    }
  }

  /** Binds `l`, or records why not (to be retried); returns the failure. */
  private async tryBind(l: Listener): Promise<string | undefined> {
    try {
      this.listeners.set(l.name, await this.bind(l));
      this.failed.delete(l.name);
      return undefined;
    } catch (e) {
      const error = bindFailure(l, e);
      const attempts = (this.failed.get(l.name)?.attempts ?? 0) + 1;
      this.failed.set(l.name, { config: l, error, attempts, retryAtMs: this.core.clock.ms() + this.bindRetryMs });
      return error;
    }
  }

  /** One timer for every failed listener: the port may be freed at any time, by anyone. */
  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.failed.size === 0 || this.core.closing) return;
    this.retryTimer = this.core.clock.setTimeout(
      () => {
        this.retryTimer = undefined;
        const retry = this.listenerChange.then(async () => {
          if (this.core.closing) return;
          for (const [name, f] of [...this.failed]) {
            if (this.listeners.has(name)) continue;
            const error = await this.tryBind(f.config);
            if (error === undefined) this.core.logger.log('info', 'listener bound on retry', { listener: name });
          }
          this.scheduleRetry();
          this.reportListeners();
        });
        this.listenerChange = retry.catch(() => undefined);
      },
      this.bindRetryMs,
      { background: true },
    );
  }

  /** Every wanted listener: bound ones with their real address, failed ones with the reason. */
  listenerStatus(): ListenerStatus[] {
    const out: ListenerStatus[] = [];
    const tlsOf = (l: Listener) => l.protocol === 'http' && l.tls !== undefined;
    for (const [name, rt] of this.listeners) {
      const a = rt.server.address();
      out.push({
        name,
        protocol: rt.config.protocol,
        tls: tlsOf(rt.config),
        state: 'bound',
        host: a !== null && typeof a === 'object' ? a.address : rt.config.host,
        port: a !== null && typeof a === 'object' ? a.port : rt.config.port,
      });
    }
    const origin = this.core.clock.now().getTime() - this.core.clock.ms();
    for (const [name, f] of this.failed) {
      out.push({
        name,
        protocol: f.config.protocol,
        tls: tlsOf(f.config),
        state: 'failed',
        host: f.config.host,
        port: f.config.port,
        error: f.error,
        attempts: f.attempts,
        retryAt: new Date(origin + f.retryAtMs).toISOString(),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  private reportListeners(): void {
    if (this.onListenerStatus === undefined) return;
    try {
      this.onListenerStatus(this.listenerStatus());
    } catch (e) {
      this.core.logger.log('warn', 'listener status not reported', { error: errorMessage(e) });
    }
  }

  private bind(l: Listener): Promise<ListenerRuntime> {
    const accept = (socket: net.Socket) => {
      if (rt.closing || this.core.closing) {
        socket.destroy();
        return;
      }
      if (rt.config.protocol === 'http') new HttpSession(this.core, rt, socket);
      else new TcpSession(this.core, rt, socket);
    };
    const server =
      l.protocol === 'http' && l.tls !== undefined && this.certificates !== undefined
        ? createTlsServer(this.certificates, l, this.core.logger, accept)
        : net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: l.protocol === 'tcp' }, accept);
    const rt = new ListenerRuntime(l, server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: l.host, port: l.port, backlog: 1024 }, () => {
        server.off('error', reject);
        server.on('error', (e) =>
          this.core.logger.log('error', 'listener error', { listener: l.name, message: e.message }),
        );
        this.runtimes.add(rt);
        resolve(rt);
      });
    });
  }

  /** Stops accepting; open connections finish their current exchange (tcp: until they close). */
  private retire(rt: ListenerRuntime): void {
    rt.closing = true;
    rt.server.close();
    for (const s of rt.sessions) s.listenerClosing();
  }

  setRoutes(routes: HttpRoute[]): void {
    this.core.setRoutes(routes);
  }

  /** Turns the access log on (a callback) or off (undefined) for exchanges that end from now on. */
  setAccessLog(log: AccessLog | undefined): void {
    this.core.accessLog = log;
  }

  /**
   * Calls `listener` with every setPool, before it takes effect; returns the unsubscribe. For
   * whoever must know when traffic moved (tests record switch times; events later).
   */
  onPoolChange(listener: PoolChangeListener): () => void {
    this.poolListeners.add(listener);
    return () => this.poolListeners.delete(listener);
  }

  setPool(pool: string, backends: Backend[]): void {
    for (const l of this.poolListeners) l(pool, backends);
    const left = this.core.pools.set(pool, backends);
    for (const b of left) {
      if (b.inFlight > 0)
        this.core.logger.log('info', 'backend draining', { backend: b.id, pool, inFlight: b.inFlight });
    }
  }

  async drain(backendId: string, timeout: Duration): Promise<{ drained: boolean; abandoned: number }> {
    const b = this.core.pools.backends.get(backendId);
    if (b === undefined) return { drained: true, abandoned: 0 };
    b.startDraining();
    if (b.inFlight === 0) return { drained: true, abandoned: 0 };
    let timer: Timer | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.core.clock.setTimeout(() => resolve('timeout'), timeout.toMilliseconds());
    });
    const outcome = await Promise.race([b.whenIdle().then(() => 'idle' as const), timedOut]);
    timer?.cancel();
    if (outcome === 'idle') return { drained: true, abandoned: 0 };
    // Put back into service meanwhile (a later setPool listed it again): leave its requests alone.
    if (b.inPool && !b.draining) return { drained: false, abandoned: 0 };
    const abandoned = b.abortAll('drained');
    this.core.logger.log('warn', 'drain timed out', {
      backend: b.id,
      pool: b.pool,
      timeout: timeout.toString(),
      abandoned,
    });
    return { drained: false, abandoned };
  }

  metrics(): DataPlaneMetrics {
    const now = this.core.clock.ms();
    const out: DataPlaneMetrics = { routes: {}, backends: {}, listeners: {} };
    for (const [id, c] of this.core.routeMetrics()) out.routes[id] = c.snapshot();
    for (const b of this.core.pools.backends.values()) {
      out.backends[b.id] = {
        ...b.metrics.snapshot(),
        pool: b.pool,
        ejected: b.isEjected(now),
        draining: b.draining || !b.inPool,
      };
    }
    for (const rt of this.runtimes) {
      if (this.listeners.get(rt.name) !== rt && this.listeners.has(rt.name)) continue;
      let bytesIn = rt.counter.closedBytesIn;
      let bytesOut = rt.counter.closedBytesOut;
      for (const s of rt.sessions) {
        bytesIn += s.socket.bytesRead;
        bytesOut += s.socket.bytesWritten;
      }
      out.listeners[rt.name] = {
        connections: rt.counter.connections,
        activeConnections: rt.counter.active,
        bytesIn,
        bytesOut,
      };
    }
    return out;
  }

  address(listener: string): { host: string; port: number } | undefined {
    const a = this.listeners.get(listener)?.server.address();
    return a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  /** Stops at once: closes listeners, cuts open connections and requests. Drain first for a graceful stop. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.core.closing = true;
    this.ticker.cancel();
    this.retryTimer?.cancel();
    this.failed.clear();
    await this.listenerChange;
    const closing: Promise<void>[] = [];
    for (const rt of this.runtimes) {
      rt.closing = true;
      if (rt.server.listening) closing.push(new Promise((resolve) => rt.server.close(() => resolve())));
      for (const s of rt.sessions) s.socket.destroy();
    }
    for (const b of this.core.pools.backends.values()) {
      b.abortAll('shutdown');
      b.closeIdle(Number.POSITIVE_INFINITY, 0);
    }
    this.listeners.clear();
    await Promise.all(closing);
    this.runtimes.clear();
  }

  private tick(): void {
    const now = this.core.clock.ms();
    this.core.now = now;
    for (const rt of this.runtimes) {
      for (const s of rt.sessions) s.check(now);
      if (rt.closing && rt.sessions.size === 0) this.runtimes.delete(rt);
    }
    if (now - this.lastSweep >= 1000) {
      this.lastSweep = now;
      for (const b of this.core.pools.backends.values()) b.closeIdle(now, this.core.settings.backendIdleTimeoutMs);
    }
  }
}
