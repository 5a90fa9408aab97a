/**
 * What the proxy was told and what it did, for the end-to-end rollout tests: every pool change
 * (through NodeProxy.onPoolChange, before it takes effect) with its time on the test's clock
 * (performance.now(), the clock of the load's samples; the daemon runs in this process) and the
 * proxy's per-backend request counts at that moment. Between two changes the weights are fixed, so
 * each backend's share of the requests in that interval can be checked against its weight.
 */
import type { Backend } from '../../src/proxy/data-plane.js';
import type { NodeProxy } from '../../src/proxy/node/node-proxy.js';

export interface PoolChange {
  /** performance.now() when the change was made. */
  at: number;
  backends: Backend[];
  /** Requests each backend had started when the change was made. */
  requestsBefore: Record<string, number>;
  /** Backends ejected or draining when the change was made (for the failure message). */
  flags: Record<string, string>;
}

export interface Interval {
  from: number;
  to: number;
  weights: Record<string, number>;
  /** Requests each backend of the interval's pool started during it. */
  requests: Record<string, number>;
  total: number;
}

export interface ShareViolation {
  backend: string;
  got: number;
  of: number;
  share: number;
  bound: number;
}

function requestCounts(proxy: NodeProxy): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, b] of Object.entries(proxy.metrics().backends)) out[id] = b.requests;
  return out;
}

export class PoolRecorder {
  readonly changes: PoolChange[] = [];
  private readonly stop: () => void;
  private final: { at: number; requests: Record<string, number> } | undefined;

  /** Records the changes of pools whose name starts with `prefix` (`web:` for every port of web). */
  constructor(
    private readonly proxy: NodeProxy,
    prefix: string,
  ) {
    this.stop = proxy.onPoolChange((pool, backends) => {
      if (!pool.startsWith(prefix)) return;
      const flags: Record<string, string> = {};
      for (const [id, b] of Object.entries(proxy.metrics().backends))
        flags[id] = `${b.ejected ? 'E' : ''}${b.draining ? 'D' : ''}${b.inFlight ? `~${b.inFlight}` : ''}`;
      this.changes.push({
        at: performance.now(),
        backends: [...backends],
        requestsBefore: requestCounts(proxy),
        flags,
      });
    });
  }

  /** Stops recording; the last interval ends now. */
  finish(): void {
    this.stop();
    this.final ??= { at: performance.now(), requests: requestCounts(this.proxy) };
  }

  intervals(): Interval[] {
    this.finish();
    const end = this.final as { at: number; requests: Record<string, number> };
    return this.changes.map((c, i) => {
      const next = this.changes[i + 1];
      const after = next ? next.requestsBefore : end.requests;
      const weights: Record<string, number> = {};
      const requests: Record<string, number> = {};
      for (const b of c.backends) {
        weights[b.id] = b.weight;
        // A backend new to the proxy (or forgotten after it left) starts counting from 0.
        requests[b.id] = (after[b.id] ?? 0) - (c.requestsBefore[b.id] ?? 0);
        if ((requests[b.id] as number) < 0) requests[b.id] = after[b.id] ?? 0;
      }
      const total = Object.values(requests).reduce((a, n) => a + n, 0);
      return { from: c.at, to: next?.at ?? end.at, weights, requests, total };
    });
  }

  /**
   * Backends that got more than their weight's share in some interval, beyond what chance allows
   * with that many requests: n·p + 4·sqrt(n·p·(1−p)) + 1 (a binomial bound; the round-robin
   * itself deviates by less than one request, so this only leaves room for retries).
   */
  overShare(): ShareViolation[] {
    const out: ShareViolation[] = [];
    for (const iv of this.intervals()) {
      const sum = Object.values(iv.weights).reduce((a, w) => a + w, 0);
      if (sum === 0 || iv.total === 0) continue;
      for (const [backend, w] of Object.entries(iv.weights)) {
        const share = w / sum;
        const bound = binomialUpper(iv.total, share);
        const got = iv.requests[backend] ?? 0;
        if (got > bound) out.push({ backend, got, of: iv.total, share, bound });
      }
    }
    return out;
  }

  describe(): string {
    const t0 = this.changes[0]?.at ?? 0;
    const next = (i: number) => this.changes[i + 1]?.flags ?? {};
    return this.intervals()
      .map(
        (iv, i) =>
          `+${(iv.from - t0).toFixed(0)}ms ${Object.entries(iv.weights)
            .map(([id, w]) => `${id}=${w}:${iv.requests[id] ?? 0}${next(i)[id] ? `[${next(i)[id]}]` : ''}`)
            .join(' ')}`,
      )
      .join('\n');
  }
}

/** Upper bound on the count of a share `p` of `n` requests, at about four standard deviations. */
export function binomialUpper(n: number, p: number): number {
  return n * p + 4 * Math.sqrt(n * p * (1 - p)) + 1;
}

export function binomialLower(n: number, p: number): number {
  return n * p - 4 * Math.sqrt(n * p * (1 - p)) - 1;
}
