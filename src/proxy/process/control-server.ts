/**
 * The data-plane process's side of the control channel: serves one NodeProxy on a Unix socket
 * (protocol.ts) and keeps the configuration it was given, which `get-config` returns so a
 * restarted daemon reconciles instead of rebuilding.
 *
 *   const server = new ControlServer(proxy, { hello, logger, onShutdown: () => process.exit(0) });
 *   await server.listen('/srv/lab/.groundwork/dataplane.sock');
 */
import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import type { AccessLogEntry, Backend, DnsService } from '../data-plane.js';
import { DnsServer } from '../../dns/dns-server.js';
import type { NodeProxy } from '../node/node-proxy.js';
import { errorMessage } from '../../util/error-message.js';
import type { Logger } from '../../util/logger.js';
import {
  fromWireListener,
  fromWireRoute,
  OPS,
  readLines,
  wireDuration,
  type AccessEvent,
  type Addresses,
  type Answer,
  type Hello,
  type Op,
  type Ops,
  type Request,
  type WireConfig,
  type WireListener,
  type WireRoute,
} from './protocol.js';

/** A request line longer than this closes the connection (a client bug, not a config). */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** An access-log subscriber this far behind loses entries instead of growing our memory. */
const MAX_SUBSCRIBER_BACKLOG = 4 * 1024 * 1024;

export interface ControlServerOptions {
  hello: Hello;
  logger: Logger;
  /** After `shutdown` was answered and the proxy closed. */
  onShutdown: () => void;
}

type Handler<O extends Op> = (req: Request<O>, conn: net.Socket) => Ops[O]['result'] | Promise<Ops[O]['result']>;

export class ControlServer {
  private readonly server = net.createServer((socket) => this.accept(socket));
  private readonly connections = new Set<net.Socket>();
  private readonly subscribers = new Set<net.Socket>();
  private listeners: WireListener[] = [];
  private routes: WireRoute[] = [];
  private readonly pools = new Map<string, Backend[]>();
  private readonly drained = new Set<string>();
  private droppedEntries = 0;
  private shuttingDown = false;
  private dns: { config: DnsService; server: DnsServer } | undefined;
  /** set-dns requests one at a time (a server is closed before its successor binds). */
  private dnsQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly proxy: NodeProxy,
    private readonly options: ControlServerOptions,
  ) {}

  /** Listens on `socketPath` (mode 0600), replacing a stale socket file nobody answers on. */
  async listen(socketPath: string): Promise<void> {
    if (await answers(socketPath)) throw new Error(`a data plane already answers on ${socketPath}`);
    rmSync(socketPath, { force: true });
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(socketPath, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(socketPath, 0o600);
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await this.dns?.server.close();
    this.dns = undefined;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Same zone, listen address and upstreams: only the records change (no re-bind). */
  private async applyDns(next: DnsService | null): Promise<{ address: { host: string; port: number } | null }> {
    const cur = this.dns;
    if (next && cur && sameDnsSetup(cur.config, next)) {
      cur.server.setRecords(next.records);
      cur.config = next;
      return { address: cur.server.address() ?? null };
    }
    if (cur) {
      await cur.server.close();
      this.dns = undefined;
    }
    if (!next) return { address: null };
    const server = new DnsServer({
      zone: next.zone,
      listen: next.listen,
      upstreams: next.upstreams,
      records: next.records,
      logger: this.options.logger,
    });
    await server.start();
    this.dns = { config: next, server };
    this.options.logger.log('info', 'dns serving', { zone: next.zone, records: next.records.length });
    return { address: server.address() ?? null };
  }

  private accept(socket: net.Socket): void {
    this.connections.add(socket);
    readLines(socket, (line) => this.handleLine(line, socket), {
      maxLineBytes: MAX_LINE_BYTES,
      onOverflow: () => {
        this.send(socket, { id: null, ok: false, error: `a request line exceeds ${MAX_LINE_BYTES} bytes` });
        socket.end();
      },
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.connections.delete(socket);
      this.unsubscribe(socket);
    });
  }

  private handleLine(line: string, socket: net.Socket): void {
    let req: { id?: unknown; op?: unknown };
    try {
      req = JSON.parse(line) as { id?: unknown; op?: unknown };
    } catch (e) {
      this.send(socket, { id: null, ok: false, error: `a request is not JSON: ${errorMessage(e)}` });
      return;
    }
    const id = typeof req?.id === 'number' ? req.id : null;
    if (id === null) {
      this.send(socket, { id: null, ok: false, error: 'a request needs a numeric "id"' });
      return;
    }
    const op = req.op;
    if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
      this.send(socket, { id, ok: false, error: `unknown op ${JSON.stringify(op)}; one of ${OPS.join(', ')}` });
      return;
    }
    const handler = this.handlers[op as Op] as Handler<Op>;
    let result: unknown;
    try {
      result = handler(req as Request, socket);
    } catch (e) {
      this.send(socket, { id, ok: false, error: errorMessage(e) });
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (r: unknown) => this.send(socket, { id, ok: true, result: r ?? null }),
        (e: unknown) => this.send(socket, { id, ok: false, error: errorMessage(e) }),
      );
    } else this.send(socket, { id, ok: true, result: result ?? null });
  }

  private send(socket: net.Socket, message: Answer | AccessEvent): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
  }

  private readonly handlers: { [O in Op]: Handler<O> } = {
    hello: () => this.options.hello,
    'set-listeners': async (req) => {
      if (!Array.isArray(req.listeners)) throw new Error('set-listeners needs "listeners", a list');
      const listeners = req.listeners.map(fromWireListener);
      // Wanted even when some cannot bind yet: the proxy retries them, and get-config must say so.
      this.listeners = req.listeners;
      await this.proxy.setListeners(listeners);
      return { addresses: this.addresses() };
    },
    'set-routes': (req) => {
      if (!Array.isArray(req.routes)) throw new Error('set-routes needs "routes", a list');
      this.proxy.setRoutes(req.routes.map(fromWireRoute));
      this.routes = req.routes;
      return null;
    },
    'set-pool': (req) => {
      if (typeof req.pool !== 'string' || !Array.isArray(req.backends))
        throw new Error('set-pool needs "pool" (a name) and "backends" (a list)');
      this.proxy.setPool(req.pool, req.backends);
      if (req.backends.length) this.pools.set(req.pool, req.backends);
      else this.pools.delete(req.pool);
      for (const b of req.backends) this.drained.delete(b.id);
      return null;
    },
    drain: (req) => {
      if (typeof req.backend !== 'string') throw new Error('drain needs "backend", a backend id');
      const timeout = wireDuration(req.timeout, 'drain timeout');
      if ([...this.pools.values()].some((bs) => bs.some((b) => b.id === req.backend))) this.drained.add(req.backend);
      return this.proxy.drain(req.backend, timeout);
    },
    addresses: () => this.addresses(),
    metrics: () => this.proxy.metrics(),
    'get-config': (): WireConfig => ({
      listeners: this.listeners,
      routes: this.routes,
      pools: Object.fromEntries(this.pools),
      drained: [...this.drained],
      addresses: this.addresses(),
      dns: this.dns?.config ?? null,
    }),
    'set-dns': (req) => {
      if (req.dns !== null && (typeof req.dns !== 'object' || typeof req.dns?.zone !== 'string'))
        throw new Error('set-dns needs "dns": a zone with listen, upstreams and records, or null');
      const next = this.dnsQueue.then(() => this.applyDns(req.dns));
      this.dnsQueue = next.catch(() => undefined);
      return next;
    },
    subscribe: (req, socket) => {
      if (req.accessLog) {
        this.subscribers.add(socket);
        this.proxy.setAccessLog((e) => this.publish(e));
      } else this.unsubscribe(socket);
      return null;
    },
    shutdown: () => {
      if (!this.shuttingDown) {
        this.shuttingDown = true;
        // Answer first; then close the proxy (listeners, open connections) and leave.
        setImmediate(() => {
          this.options.logger.log('info', 'data plane shutting down (asked over the control socket)');
          void this.proxy
            .close()
            .then(() => this.close())
            .finally(() => this.options.onShutdown());
        });
      }
      return null;
    },
  };

  private addresses(): Addresses {
    const out: Addresses = {};
    for (const l of this.listeners) {
      const a = this.proxy.address(l.name);
      if (a) out[l.name] = a;
    }
    return out;
  }

  private publish(entry: AccessLogEntry): void {
    const line = `${JSON.stringify({ event: 'access', entry } satisfies AccessEvent)}\n`;
    for (const s of this.subscribers) {
      if (s.writableLength > MAX_SUBSCRIBER_BACKLOG) {
        if (this.droppedEntries++ % 1000 === 0)
          this.options.logger.log('warn', 'access log subscriber is behind; entries dropped', {
            dropped: this.droppedEntries,
          });
        continue;
      }
      s.write(line);
    }
  }

  private unsubscribe(socket: net.Socket): void {
    this.subscribers.delete(socket);
    if (this.subscribers.size === 0) this.proxy.setAccessLog(undefined);
  }
}

/** Whether something accepts connections on the Unix socket `socketPath`. */
export function answers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function sameDnsSetup(a: DnsService, b: DnsService): boolean {
  return (
    a.zone === b.zone &&
    a.listen.host === b.listen.host &&
    a.listen.port === b.listen.port &&
    JSON.stringify(a.upstreams) === JSON.stringify(b.upstreams)
  );
}
