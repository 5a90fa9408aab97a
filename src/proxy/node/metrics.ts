/**
 * Counters of one route or one backend: requests, outcome by status class, a latency histogram
 * with fixed buckets, and the in-flight gauge. Plain fields, so counting on the hot path is a
 * few additions; `snapshot()` copies them into the contract's TrafficMetrics shape.
 *
 * Every request that starts ends exactly once, so `requests = sum(status) + error + inFlight`:
 * - a status class when a response came from a backend, or when the proxy answered a client's
 *   mistake itself (400, 408, 413, 431: 4xx);
 * - `error` when no backend response came: no backend available (503), connect failures and
 *   timeouts (502/504), a reset before the response headers, aborts by drain or shutdown.
 */
import type { LatencyHistogram, TrafficMetrics } from '../data-plane.js';

/** Upper bounds of the latency buckets in milliseconds; a last +Inf bucket follows. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000,
];

/** Status of a finished request: an HTTP status, or ERROR when no backend response came. */
export const ERROR = 0;

export class TrafficCounter {
  requests = 0;
  inFlight = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private s4 = 0;
  private s5 = 0;
  private errors = 0;
  private readonly counts: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  private sum = 0;
  private count = 0;

  start(): void {
    this.requests++;
    this.inFlight++;
  }

  /** Takes back a `start()` that should not count (a retry on a stale keep-alive connection). */
  cancel(): void {
    this.requests--;
    this.inFlight--;
  }

  /** `status` is an HTTP status or ERROR; `ms` the time from request to the end of the response. */
  finish(status: number, ms: number): void {
    this.inFlight--;
    if (status < 200) {
      if (status === ERROR) this.errors++;
      else this.s1++;
    } else if (status < 300) this.s2++;
    else if (status < 400) this.s3++;
    else if (status < 500) this.s4++;
    else this.s5++;
    let i = 0;
    const bounds = LATENCY_BOUNDS_MS;
    while (i < bounds.length && ms > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += ms;
    this.count++;
  }

  /** A TCP connection that reached its backend ended: no status class, no latency. */
  finishConnection(): void {
    this.inFlight--;
  }

  snapshot(): TrafficMetrics {
    const latency: LatencyHistogram = {
      bounds: [...LATENCY_BOUNDS_MS],
      counts: [...this.counts],
      sum: this.sum,
      count: this.count,
    };
    return {
      requests: this.requests,
      status: { '1xx': this.s1, '2xx': this.s2, '3xx': this.s3, '4xx': this.s4, '5xx': this.s5, error: this.errors },
      latency,
      inFlight: this.inFlight,
    };
  }
}

/** Connection counts of one listener; bytes of open connections are added at snapshot time. */
export class ListenerCounter {
  connections = 0;
  active = 0;
  /** Bytes of connections that have closed. */
  closedBytesIn = 0;
  closedBytesOut = 0;
}
