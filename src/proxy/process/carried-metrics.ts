/**
 * Counters that outlive a data-plane process. When a process dies or hangs and a new one takes
 * its place, the new one counts from zero; the client keeps the totals of the processes that are
 * gone and adds them to what the new one reports, so a counter never goes down (Prometheus'
 * `rate()` sees no reset, a rollout's before/after deltas never turn negative).
 *
 * Counters are added: requests, status classes, latency buckets, sum and count, accepted
 * connections and bytes. Gauges (in flight, open connections) and states (ejected, draining,
 * pool) are the live process's alone: a dead process has nothing in flight.
 */
import type { DataPlaneMetrics, LatencyHistogram, TrafficMetrics } from '../data-plane.js';

type BackendMetrics = DataPlaneMetrics['backends'][string];
type ListenerMetrics = DataPlaneMetrics['listeners'][string];

/** The counters of `m` with its gauges at zero: what is carried over from a process that is gone. */
export function countersOf(m: DataPlaneMetrics): DataPlaneMetrics {
  const out: DataPlaneMetrics = { routes: {}, backends: {}, listeners: {} };
  for (const [id, t] of Object.entries(m.routes)) out.routes[id] = { ...copyTraffic(t), inFlight: 0 };
  for (const [id, b] of Object.entries(m.backends)) out.backends[id] = { ...copyTraffic(b), ...states(b), inFlight: 0 };
  for (const [name, l] of Object.entries(m.listeners)) out.listeners[name] = { ...l, activeConnections: 0 };
  return out;
}

/**
 * `live` (the running process's numbers) plus the `carried` counters. Routes, backends and
 * listeners the live process does not have keep their carried numbers (a dead process's
 * counters stay visible until the new one has the same entry).
 */
export function withCarried(carried: DataPlaneMetrics, live: DataPlaneMetrics): DataPlaneMetrics {
  const out: DataPlaneMetrics = { routes: {}, backends: {}, listeners: {} };
  for (const [id, t] of Object.entries(carried.routes)) out.routes[id] = t;
  for (const [id, t] of Object.entries(live.routes)) {
    const c = carried.routes[id];
    out.routes[id] = c === undefined ? t : addTraffic(c, t);
  }
  for (const [id, b] of Object.entries(carried.backends)) out.backends[id] = b;
  for (const [id, b] of Object.entries(live.backends)) {
    const c = carried.backends[id];
    out.backends[id] = c === undefined ? b : { ...addTraffic(c, b), ...states(b) };
  }
  for (const [name, l] of Object.entries(carried.listeners)) out.listeners[name] = l;
  for (const [name, l] of Object.entries(live.listeners)) {
    const c = carried.listeners[name];
    out.listeners[name] = c === undefined ? l : addListener(c, l);
  }
  return out;
}

/** Keeps only the carried entries that are still configured, so removed ones do not pile up. */
export function pruneCarried(
  carried: DataPlaneMetrics,
  keep: { routes: ReadonlySet<string>; backends: ReadonlySet<string>; listeners: ReadonlySet<string> },
): DataPlaneMetrics {
  const pick = <T>(r: Record<string, T>, ids: ReadonlySet<string>) =>
    Object.fromEntries(Object.entries(r).filter(([id]) => ids.has(id)));
  return {
    routes: pick(carried.routes, keep.routes),
    backends: pick(carried.backends, keep.backends),
    listeners: pick(carried.listeners, keep.listeners),
  };
}

function states(b: BackendMetrics): Pick<BackendMetrics, 'pool' | 'ejected' | 'draining'> {
  return { pool: b.pool, ejected: b.ejected, draining: b.draining };
}

function copyTraffic(t: TrafficMetrics): TrafficMetrics {
  return {
    requests: t.requests,
    status: { ...t.status },
    latency: {
      bounds: [...t.latency.bounds],
      counts: [...t.latency.counts],
      sum: t.latency.sum,
      count: t.latency.count,
    },
    inFlight: t.inFlight,
  };
}

function addTraffic(a: TrafficMetrics, b: TrafficMetrics): TrafficMetrics {
  return {
    requests: a.requests + b.requests,
    status: {
      '1xx': a.status['1xx'] + b.status['1xx'],
      '2xx': a.status['2xx'] + b.status['2xx'],
      '3xx': a.status['3xx'] + b.status['3xx'],
      '4xx': a.status['4xx'] + b.status['4xx'],
      '5xx': a.status['5xx'] + b.status['5xx'],
      error: a.status.error + b.status.error,
    },
    latency: addLatency(a.latency, b.latency),
    inFlight: b.inFlight,
  };
}

function addLatency(a: LatencyHistogram, b: LatencyHistogram): LatencyHistogram {
  // Another build may bucket differently: its histogram then stands alone (buckets, sum and
  // count must agree with one another), a reset of the histogram only.
  const same = a.bounds.length === b.bounds.length && a.bounds.every((x, i) => x === b.bounds[i]);
  if (!same) return { bounds: [...b.bounds], counts: [...b.counts], sum: b.sum, count: b.count };
  return {
    bounds: [...b.bounds],
    counts: b.counts.map((n, i) => n + (a.counts[i] ?? 0)),
    sum: a.sum + b.sum,
    count: a.count + b.count,
  };
}

function addListener(a: ListenerMetrics, b: ListenerMetrics): ListenerMetrics {
  return {
    connections: a.connections + b.connections,
    activeConnections: b.activeConnections,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
  };
}
