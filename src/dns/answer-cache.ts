/**
 * The forwarder's cache: answers from upstream resolvers, kept for their TTL. Positive answers
 * live for the smallest TTL of their records; negative ones (NXDOMAIN, NODATA) for
 * min(SOA TTL, SOA minimum) of the SOA in their authority section, and not at all without one
 * (RFC 2308 §5). TTLs count down on the way out. Time comes from the passed-in `Timers`.
 */
import type { Answer } from 'dns-packet';
import type { Timers } from '../util/clock.js';

export interface CachedAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Answer[];
  authorities: Answer[];
}

interface Entry extends CachedAnswer {
  storedAtMs: number;
  expiresAtMs: number;
}

export interface AnswerCacheOptions {
  clock: Timers;
  /** Entries kept; the oldest goes first when full. Default 10,000. */
  maxEntries?: number;
  /** Upper bound on any TTL (seconds). Default 1 day. */
  maxTtl?: number;
}

export function cacheKey(name: string, type: string, klass: string): string {
  return `${name.toLowerCase()}|${type}|${klass}`;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxTtl: number;

  constructor(private readonly opts: AnswerCacheOptions) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxTtl = opts.maxTtl ?? 86_400;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The answer with TTLs reduced by the time it has spent here; undefined when absent or expired. */
  get(key: string): CachedAnswer | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const now = this.opts.clock.ms();
    if (now >= e.expiresAtMs) {
      this.entries.delete(key);
      return undefined;
    }
    const aged = Math.floor((now - e.storedAtMs) / 1000);
    const age = (list: Answer[]) =>
      list.map((a) => (a.type === 'OPT' ? a : { ...a, ttl: Math.max(0, ttlOf(a) - aged) }));
    return { rcode: e.rcode, answers: age(e.answers), authorities: age(e.authorities) };
  }

  /** Stores what may be cached; returns the TTL it was stored for (0: not stored). */
  put(key: string, answer: CachedAnswer): number {
    const ttl = Math.min(this.maxTtl, cacheTtl(answer));
    if (ttl <= 0) return 0;
    const now = this.opts.clock.ms();
    this.entries.delete(key);
    this.entries.set(key, { ...answer, storedAtMs: now, expiresAtMs: now + ttl * 1000 });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return ttl;
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Seconds an upstream answer may be cached (0: must not be). */
export function cacheTtl(answer: CachedAnswer): number {
  const negative = answer.rcode === 'NXDOMAIN' || answer.answers.length === 0;
  if (negative) {
    const soa = answer.authorities.find((a) => a.type === 'SOA');
    if (!soa || soa.type !== 'SOA') return 0;
    return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
  }
  return Math.min(...answer.answers.map(ttlOf));
}

function ttlOf(a: Answer): number {
  return a.type === 'OPT' ? 0 : (a.ttl ?? 0);
}
