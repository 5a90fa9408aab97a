/**
 * The control protocol of the data-plane process: newline-delimited JSON on a Unix socket
 * (`<state dir>/dataplane.sock`, mode 0600). The client sends requests with an id; the process
 * answers each with the same id, in order. A connection that subscribed to the access log also
 * gets `{"event":"access",...}` lines between answers.
 *
 *   → {"id":1,"op":"hello"}
 *   ← {"id":1,"ok":true,"result":{"protocol":1,"version":"0.1.0+3f2a…","pid":4242,...}}
 *   → {"id":2,"op":"set-pool","pool":"web:http","backends":[{"id":"web/0#a:http","host":"127.0.0.1","port":4000,"weight":100}]}
 *   ← {"id":2,"ok":true,"result":null}
 *   → {"id":3,"op":"nope"}
 *   ← {"id":3,"ok":false,"error":"unknown op \"nope\"; one of hello, set-listeners, ..."}
 *
 * Durations travel as text (`2s`, `500ms`: Duration.toString / Duration.parse). `hello` and
 * `shutdown` keep their shape across protocol versions, so any daemon can tell an old data plane
 * apart and replace it.
 */
import type {
  AccessLogEntry,
  Backend,
  Balance,
  DataPlaneMetrics,
  DnsService,
  HttpRoute,
  Listener,
} from '../data-plane.js';
import { Duration } from '../../util/duration.js';
import type { ListenerTls } from '../../tls/tls-settings.js';

/** Bumped when a request or answer changes shape. */
export const PROTOCOL = 1;

export const SOCKET_FILE = 'dataplane.sock';
export const PID_FILE = 'dataplane.pid';
export const LOG_FILE = 'dataplane.log';

export interface Hello {
  protocol: number;
  /** Package version + a hash of the proxy's code: equal versions run the same code. */
  version: string;
  pid: number;
  startedAt: string;
}

/** `tls` carries host names and file paths only: the process reads keys from files itself. */
export type WireListener =
  | {
      name: string;
      protocol: 'http';
      host: string;
      port: number;
      tls?: ListenerTls;
      redirectHttps?: { port: number };
    }
  | {
      name: string;
      protocol: 'tcp';
      host: string;
      port: number;
      pool: string;
      connectTimeout: string;
      idleTimeout: string;
      balance?: Balance;
    };

export type WireRoute = Omit<HttpRoute, 'connectTimeout' | 'idleTimeout' | 'totalTimeout'> & {
  connectTimeout: string;
  idleTimeout: string;
  totalTimeout: string;
};

export type Addresses = Record<string, { host: string; port: number }>;

/** What the process serves: enough for a restarted daemon to reconcile instead of rebuild. */
export interface WireConfig {
  listeners: WireListener[];
  routes: WireRoute[];
  pools: Record<string, Backend[]>;
  /** Backends drained while still in their pool (they get no new requests until listed again). */
  drained: string[];
  addresses: Addresses;
  /** The DNS it serves, if any (absent from data planes older than DNS). */
  dns?: DnsService | null;
}

/** Each op: its request fields and its result. */
export interface Ops {
  hello: { request: Record<never, never>; result: Hello };
  'set-listeners': { request: { listeners: WireListener[] }; result: { addresses: Addresses } };
  'set-routes': { request: { routes: WireRoute[] }; result: null };
  'set-pool': { request: { pool: string; backends: Backend[] }; result: null };
  drain: { request: { backend: string; timeout: string }; result: { drained: boolean; abandoned: number } };
  addresses: { request: Record<never, never>; result: Addresses };
  metrics: { request: Record<never, never>; result: DataPlaneMetrics };
  'get-config': { request: Record<never, never>; result: WireConfig };
  subscribe: { request: { accessLog: boolean }; result: null };
  /** Starts, changes or (null) stops the DNS server; answers where it listens. */
  'set-dns': { request: { dns: DnsService | null }; result: { address: { host: string; port: number } | null } };
  /** Answers, then closes every listener (connections are cut) and exits. */
  shutdown: { request: Record<never, never>; result: null };
}

export type Op = keyof Ops;
export const OPS = [
  'hello',
  'set-listeners',
  'set-routes',
  'set-pool',
  'drain',
  'addresses',
  'metrics',
  'get-config',
  'subscribe',
  'set-dns',
  'shutdown',
] as const satisfies readonly Op[];

export type Request<O extends Op = Op> = { id: number; op: O } & Ops[O]['request'];
export type Answer = { id: number; ok: true; result: unknown } | { id: number | null; ok: false; error: string };
export interface AccessEvent {
  event: 'access';
  entry: AccessLogEntry;
}

export function toWireListener(l: Listener): WireListener {
  if (l.protocol === 'http') return { ...l };
  return {
    name: l.name,
    protocol: 'tcp',
    host: l.host,
    port: l.port,
    pool: l.pool,
    connectTimeout: l.connectTimeout.toString(),
    idleTimeout: l.idleTimeout.toString(),
    ...(l.balance === undefined ? {} : { balance: l.balance }),
  };
}

export function fromWireListener(l: WireListener): Listener {
  if (l.protocol !== 'tcp') {
    return {
      name: l.name,
      protocol: l.protocol,
      host: l.host,
      port: l.port,
      ...(l.tls === undefined ? {} : { tls: l.tls }),
      ...(l.redirectHttps === undefined ? {} : { redirectHttps: l.redirectHttps }),
    };
  }
  return {
    name: l.name,
    protocol: 'tcp',
    host: l.host,
    port: l.port,
    pool: l.pool,
    connectTimeout: wireDuration(l.connectTimeout, `listener "${l.name}" connectTimeout`),
    idleTimeout: wireDuration(l.idleTimeout, `listener "${l.name}" idleTimeout`),
    ...(l.balance === undefined ? {} : { balance: l.balance }),
  };
}

export function toWireRoute(r: HttpRoute): WireRoute {
  return {
    ...r,
    connectTimeout: r.connectTimeout.toString(),
    idleTimeout: r.idleTimeout.toString(),
    totalTimeout: r.totalTimeout.toString(),
  };
}

export function fromWireRoute(r: WireRoute): HttpRoute {
  const where = `route "${r.id}"`;
  return {
    ...r,
    connectTimeout: wireDuration(r.connectTimeout, `${where} connectTimeout`),
    idleTimeout: wireDuration(r.idleTimeout, `${where} idleTimeout`),
    totalTimeout: wireDuration(r.totalTimeout, `${where} totalTimeout`),
  };
}

/** A duration from the wire; `0s` is allowed here (the proxy's own checks name it). */
export function wireDuration(text: unknown, what: string): Duration {
  if (typeof text !== 'string') throw new Error(`${what} must be a duration text such as 2s, found ${typeof text}`);
  if (text === '0s') return Duration.milliseconds(0);
  return Duration.parse(text);
}

/**
 * Calls `onLine` for every non-empty newline-terminated line the socket delivers (both ends of the
 * control channel speak NDJSON); `onOverflow` when a line grows past `maxLineBytes` unfinished.
 */
export function readLines(
  socket: { setEncoding(e: 'utf8'): unknown; on(event: 'data', fn: (chunk: string) => void): unknown },
  onLine: (line: string) => void,
  opts: { maxLineBytes?: number; onOverflow?: () => void } = {},
): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
    }
    if (opts.maxLineBytes !== undefined && buffered.length > opts.maxLineBytes) opts.onOverflow?.();
  });
}
