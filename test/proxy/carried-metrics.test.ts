/** Counters carried over from a replaced data-plane process (src/proxy/process/carried-metrics.ts). */
import { describe, expect, it } from 'vitest';
import type { DataPlaneMetrics, TrafficMetrics } from '../../src/proxy/data-plane.js';
import { countersOf, pruneCarried, withCarried } from '../../src/proxy/process/carried-metrics.js';

function traffic(requests: number, inFlight: number, bounds = [1, 10]): TrafficMetrics {
  return {
    requests,
    status: { '1xx': 0, '2xx': requests - inFlight - 1, '3xx': 0, '4xx': 0, '5xx': 0, error: 1 },
    latency: { bounds, counts: [requests - inFlight - 2, 1, 1], sum: 3 * requests, count: requests - inFlight },
    inFlight,
  };
}

function metrics(requests: number, inFlight: number): DataPlaneMetrics {
  return {
    routes: { web: traffic(requests, inFlight) },
    backends: { a: { ...traffic(requests, inFlight), pool: 'web', ejected: false, draining: false } },
    listeners: { http: { connections: requests, activeConnections: inFlight, bytesIn: 100, bytesOut: 200 } },
  };
}

describe('carried metrics', () => {
  it('carries counters, not gauges', () => {
    const c = countersOf(metrics(10, 3));
    expect(c.routes.web).toMatchObject({ requests: 10, inFlight: 0 });
    expect(c.backends.a).toMatchObject({ requests: 10, inFlight: 0, pool: 'web' });
    expect(c.listeners.http).toEqual({ connections: 10, activeConnections: 0, bytesIn: 100, bytesOut: 200 });
  });

  it('adds the carried counters to the live ones; gauges and states are the live process’s', () => {
    const live = metrics(4, 1);
    (live.backends.a as { ejected: boolean }).ejected = true;
    const m = withCarried(countersOf(metrics(10, 3)), live);
    expect(m.routes.web).toEqual({
      requests: 14,
      status: { '1xx': 0, '2xx': 6 + 2, '3xx': 0, '4xx': 0, '5xx': 0, error: 2 },
      latency: { bounds: [1, 10], counts: [5 + 1, 2, 2], sum: 42, count: 7 + 3 },
      inFlight: 1,
    });
    expect(m.backends.a).toMatchObject({ requests: 14, inFlight: 1, ejected: true });
    expect(m.listeners.http).toEqual({ connections: 14, activeConnections: 1, bytesIn: 200, bytesOut: 400 });
  });

  it('keeps carried entries the live process does not have yet, and prunes what is no longer configured', () => {
    const carried = countersOf(metrics(10, 0));
    const m = withCarried(carried, { routes: {}, backends: {}, listeners: {} });
    expect(m.routes.web?.requests).toBe(10);
    const pruned = pruneCarried(carried, { routes: new Set(), backends: new Set(['a']), listeners: new Set() });
    expect(Object.keys(pruned.routes)).toEqual([]);
    expect(Object.keys(pruned.backends)).toEqual(['a']);
  });

  it('a histogram with other buckets (another build) stands alone rather than mixing buckets', () => {
    const live: DataPlaneMetrics = { routes: { web: traffic(4, 0, [2, 20]) }, backends: {}, listeners: {} };
    const m = withCarried(countersOf(metrics(10, 0)), live);
    expect(m.routes.web?.requests).toBe(14);
    expect(m.routes.web?.latency).toEqual(live.routes.web?.latency);
  });
});
