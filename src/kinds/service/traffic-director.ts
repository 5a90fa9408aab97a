/**
 * What a rollout needs from the data plane. The daemon implements it over its proxy; without a
 * daemon there is no traffic to direct and rollouts only replace instances.
 */
import type { InstanceTraffic } from './traffic.js';

export type { InstanceTraffic, TrafficDirector } from './traffic.js';

export function trafficDelta(after: InstanceTraffic, before: InstanceTraffic): InstanceTraffic {
  return {
    requests: after.requests - before.requests,
    errors: after.errors - before.errors,
    latency: {
      bounds: after.latency.bounds,
      counts: after.latency.counts.map((c, i) => c - (before.latency.counts[i] ?? 0)),
      sum: after.latency.sum - before.latency.sum,
      count: after.latency.count - before.latency.count,
    },
  };
}

export function sumTraffic(list: InstanceTraffic[]): InstanceTraffic {
  const bounds = list[0]?.latency.bounds ?? [];
  return {
    requests: list.reduce((a, t) => a + t.requests, 0),
    errors: list.reduce((a, t) => a + t.errors, 0),
    latency: {
      bounds,
      counts: bounds.concat([Infinity]).map((_, i) => list.reduce((a, t) => a + (t.latency.counts[i] ?? 0), 0)),
      sum: list.reduce((a, t) => a + t.latency.sum, 0),
      count: list.reduce((a, t) => a + t.latency.count, 0),
    },
  };
}
