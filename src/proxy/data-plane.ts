/**
 * The data plane contract: listeners, routes, pools of weighted backends, drain, metrics.
 * The built-in Node proxy (proxy/node/) is the default implementation; the daemon drives it in
 * its own process through RemoteDataPlane (proxy/process/), so traffic outlives the daemon.
 * Every implementation runs the shared contract suite (test/proxy/data-plane.contract.ts).
 *
 * Semantics:
 * - Only backends in a pool get traffic; a pool is replaced as a whole with `setPool`.
 *   A backend that leaves the pool gets no new requests; its in-flight requests finish
 *   (up to the drain timeout given to `drain`, or the route's total timeout).
 * - Weights are relative within a pool (0 = no new traffic). Canary steps set them.
 * - Passive ejection: a backend whose connection attempts fail is taken out for a while
 *   (ejectFor), then tried again.
 * - A request whose connection failed before any byte was sent is retried on another backend.
 */
import type { Duration } from '../util/duration.js';
import type { DnsRecord } from '../dns/dns-record.js';
import type { ListenerTls } from '../tls/tls-settings.js';

export interface Backend {
  /** Stable id, e.g. `web/0@v7` (service/index@release). */
  id: string;
  host: string;
  port: number;
  /** Relative weight, 0..1000. */
  weight: number;
}

export type Balance = 'round-robin' | 'least-connections';

export interface HttpRoute {
  id: string;
  /** Exact host, or `*.suffix`; null matches any host. */
  host: string | null;
  /** Path prefix; the longest matching prefix wins. */
  pathPrefix: string;
  /** Listener names this route is served on; empty = every http listener. */
  listeners: string[];
  pool: string;
  balance: Balance;
  connectTimeout: Duration;
  idleTimeout: Duration;
  totalTimeout: Duration;
  maxBodyBytes: number;
  /**
   * On plain HTTP listeners: `{ port }` answers this route's requests with a 308 to HTTPS on that
   * port; `'off'` serves them even where the listener has `redirectHttps` (an opt-out). Absent: the
   * listener decides. ACME HTTP-01 challenges are answered either way.
   */
  httpsRedirect?: { port: number } | 'off';
}

/**
 * `port` 0 binds an ephemeral port; `address(name)` tells which. An http listener with `tls`
 * terminates TLS (HTTPS; certificates by SNI, see src/tls/); one with `redirectHttps` answers
 * every request with a redirect to that HTTPS port (ACME challenges and routes whose
 * `httpsRedirect` is 'off' excepted).
 */
export type Listener =
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
      connectTimeout: Duration;
      idleTimeout: Duration;
      /** Default round-robin; least-connections counts open connections. */
      balance?: Balance;
    };

export interface LatencyHistogram {
  /** Upper bounds in milliseconds; the last bucket is +Inf. */
  bounds: number[];
  counts: number[];
  sum: number;
  count: number;
}

export interface TrafficMetrics {
  requests: number;
  /** Responses by status class, plus `error` for requests that got no response from a backend. */
  status: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number; error: number };
  latency: LatencyHistogram;
  inFlight: number;
}

export interface DataPlaneMetrics {
  routes: Record<string, TrafficMetrics>;
  backends: Record<string, TrafficMetrics & { pool: string; ejected: boolean; draining: boolean }>;
  /** `connections`: accepted since the listener was bound; `activeConnections`: open now. */
  listeners: Record<string, { connections: number; activeConnections: number; bytesIn: number; bytesOut: number }>;
}

/** One line of the access log: per HTTP request, and per connection on a TCP listener. */
export interface AccessLogEntry {
  /** When the request started (ISO 8601, from the data plane's clock). */
  time: string;
  listener: string;
  /** Route id; null when no route matched (404) and on TCP listeners. */
  route: string | null;
  /** Backend id of the last attempt; null when none was tried. */
  backend: string | null;
  /** HTTP method, or `TCP`. */
  method: string;
  /** Request path without the query string (queries may carry tokens). */
  path: string;
  /** Status sent to the client; 0 when none was (aborted, or TCP). */
  status: number;
  /** Bytes sent to the client for this response (head and body), or over the TCP connection. */
  bytes: number;
  durationMs: number;
  /** Client address. */
  client: string;
  /** Backends tried (more than 1 after retries). */
  tries: number;
  /** Why the proxy answered itself or cut the exchange, e.g. `connect-failed`, `timeout-idle`. */
  error?: string;
}

export type AccessLog = (entry: AccessLogEntry) => void;

/** The lab's DNS server, served beside the listeners (see src/dns/): a zone and how to resolve the rest. */
export interface DnsService {
  zone: string;
  listen: { host: string; port: number };
  upstreams: { host: string; port: number }[];
  /** The zone's records: declared ones and those of service addresses. */
  records: DnsRecord[];
}

export interface DataPlane {
  /** Binds new listeners, closes removed ones (in-flight connections finish). */
  setListeners(listeners: Listener[]): Promise<void>;
  setRoutes(routes: HttpRoute[]): void;
  /** Replaces the backends of a pool; removed backends start draining. */
  setPool(pool: string, backends: Backend[]): void;
  /**
   * Resolves when the backend has no in-flight requests, or after `timeout`; then the requests
   * still in flight are aborted and counted in `abandoned`. The backend gets no new requests
   * from the call on, even if it is still in its pool (until a later `setPool` lists it again).
   */
  drain(backendId: string, timeout: Duration): Promise<{ drained: boolean; abandoned: number }>;
  /** Where a bound listener accepts connections (its real port when it was declared with port 0). */
  address(listener: string): { host: string; port: number } | undefined;
  /** Cumulative metrics; may be a snapshot a moment old (see `refreshMetrics`). */
  metrics(): DataPlaneMetrics;
  /**
   * Metrics as of now. Implementations whose `metrics()` is a cached snapshot (a data plane in
   * another process) implement it; callers that decide on the numbers (canary analysis) call it
   * when present.
   */
  refreshMetrics?(): Promise<DataPlaneMetrics>;
  /**
   * Serves (or with null stops) the lab's DNS. Optional: the data-plane process has it, so DNS
   * outlives the daemon like the listeners; the in-process proxy of tests does not.
   */
  setDns?(dns: DnsService | null): Promise<void>;
  /** Stops serving: listeners close, open connections are cut. */
  close(): Promise<void>;
  /**
   * Lets go of a data plane that outlives its client (a separate process) without stopping it;
   * absent where the data plane lives and dies with its owner (then the owner calls close).
   */
  detach?(): Promise<void>;
}

/** p-quantile (0..1) from a histogram, by linear interpolation inside the bucket. */
export function quantile(h: LatencyHistogram, q: number): number {
  if (h.count === 0) return 0;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i] as number;
    if (seen + c >= rank && c > 0) {
      const lo = i === 0 ? 0 : (h.bounds[i - 1] as number);
      const hi = i < h.bounds.length ? (h.bounds[i] as number) : lo * 2 || 1;
      return lo + ((rank - seen) / c) * (hi - lo);
    }
    seen += c;
  }
  return h.bounds[h.bounds.length - 1] ?? 0;
}
