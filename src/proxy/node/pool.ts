/**
 * Pools of backends: membership, weights, passive ejection, draining, and each backend's
 * keep-alive connections.
 *
 * A backend takes new traffic while it is in its pool, not draining, has a weight above 0 and
 * is not ejected. Leaving the pool (setPool without it) or `drain()` stops new traffic; its
 * in-flight requests and tunnels go on until they finish or the drain timeout aborts them. A
 * backend's state (and its metrics) is forgotten once it has left its pool and has nothing in
 * flight.
 *
 * Ejection: a failed connect ejects the backend for `ejectFor`, doubled for each consecutive
 * ejection up to `maxEjectFor`. Once the time is up it gets traffic again; a successful
 * connect resets the count. Failures while it is already ejected (requests that were
 * connecting at the time) do not extend the ejection, so a burst of in-flight failures counts
 * once.
 */
import type { Backend } from '../data-plane.js';
import { TrafficCounter } from './metrics.js';
import { UpstreamConn, type UpstreamHome, type UpstreamOwner, type UpstreamWaiter } from './upstream.js';

/** Something in flight on a backend that a drain timeout or shutdown can abort. */
export interface Abortable {
  abort(reason: string): void;
  /** Its place in its backend's InFlight list; -1 when in none. */
  inFlightSlot: number;
}

/**
 * What is in flight on one backend. Not a Set: V8 rebuilds a Set's table every few add/delete
 * pairs and links the old table to the new one, so one old table that got promoted keeps every
 * later table, and every exchange in them, alive through each scavenge until the next
 * mark-compact. Measured with the Set: about a third of what the proxy allocated per request
 * survived each scavenge (`--trace-gc-nvp`), with scavenges of 5-13 ms. A slot array with
 * swap-remove allocates nothing per request.
 */
export class InFlight {
  private readonly items: (Abortable | null)[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  add(x: Abortable): void {
    const s = x.inFlightSlot;
    if (s >= 0 && s < this.n && this.items[s] === x) return;
    x.inFlightSlot = this.n;
    if (this.n < this.items.length) this.items[this.n] = x;
    else this.items.push(x);
    this.n++;
  }

  delete(x: Abortable): boolean {
    let s = x.inFlightSlot;
    if (!(s >= 0 && s < this.n && this.items[s] === x)) {
      s = this.items.indexOf(x);
      if (s < 0) return false;
    }
    const last = --this.n;
    const moved = this.items[last] as Abortable;
    this.items[last] = null;
    if (s !== last) {
      this.items[s] = moved;
      moved.inFlightSlot = s;
    }
    x.inFlightSlot = -1;
    return true;
  }

  toArray(): Abortable[] {
    return this.items.slice(0, this.n) as Abortable[];
  }
}

export interface PoolLimits {
  /** Open connections per backend (in use, connecting and idle); more requests wait. */
  maxConnections: number;
  /** Idle keep-alive connections kept per backend. */
  maxIdle: number;
  ejectForMs: number;
  maxEjectForMs: number;
  /** The proxy's coarse monotonic clock in milliseconds. */
  now(): number;
}

export class BackendState implements UpstreamHome {
  inPool = true;
  /** drain() was called: no new traffic until a setPool lists it again. */
  draining = false;
  /** Consecutive ejections. */
  ejections = 0;
  ejectedUntil = 0;
  /** Smooth weighted round-robin score. */
  currentWeight = 0;
  /** Scratch mark of the least-connections tie-break. */
  loadMark = 0;
  readonly metrics = new TrafficCounter();
  /** Requests and tunnels in flight on this backend. */
  readonly active = new InFlight();
  private readonly idle: UpstreamConn[] = [];
  private open = 0;
  private readonly waiters: UpstreamWaiter[] = [];
  private readonly drainWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    public pool: string,
    public host: string,
    public port: number,
    public weight: number,
    private readonly limits: PoolLimits,
    private readonly forget: (b: BackendState) => void,
  ) {}

  get inFlight(): number {
    return this.active.size;
  }

  acceptsTraffic(now: number): boolean {
    return this.inPool && !this.draining && this.weight > 0 && this.ejectedUntil <= now;
  }

  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }

  /** Returns true when this failure ejected the backend (it was not already ejected). */
  connectFailed(now: number): boolean {
    if (this.ejectedUntil > now) return false;
    this.ejections++;
    this.ejectedUntil = now + Math.min(this.limits.ejectForMs * 2 ** (this.ejections - 1), this.limits.maxEjectForMs);
    return true;
  }

  connectSucceeded(): void {
    this.ejections = 0;
  }

  /**
   * A connection for `owner`: an idle keep-alive one (reused = true), a new one (connecting),
   * or null when the backend is at its connection limit (the owner waits for onUpstreamAssigned).
   */
  acquire(owner: UpstreamWaiter, fresh: boolean, now: number): UpstreamConn | null {
    if (!fresh) {
      let conn: UpstreamConn | undefined;
      while ((conn = this.idle.pop()) !== undefined) {
        if (conn.socket.destroyed) continue;
        conn.owner = owner;
        conn.reused = true;
        return conn;
      }
    }
    if (this.open >= this.limits.maxConnections) {
      this.waiters.push(owner);
      return null;
    }
    return this.connect(owner, now);
  }

  /** A connection that is never pooled (TCP listeners). */
  connect(owner: UpstreamOwner, now: number): UpstreamConn {
    this.open++;
    return new UpstreamConn(this, this.host, this.port, owner, now);
  }

  cancelWait(owner: UpstreamWaiter): void {
    const i = this.waiters.indexOf(owner);
    if (i !== -1) this.waiters.splice(i, 1);
  }

  /** Takes back a connection after a complete exchange; keeps it for reuse when it can. */
  release(conn: UpstreamConn, now: number): void {
    conn.owner = null;
    const next = this.waiters.shift();
    if (next) {
      conn.owner = next;
      conn.reused = true;
      next.onUpstreamAssigned(conn);
      return;
    }
    if (!this.inPool || this.draining || this.idle.length >= this.limits.maxIdle || conn.socket.destroyed) {
      conn.destroy();
      return;
    }
    conn.idleSince = now;
    this.idle.push(conn);
  }

  upstreamClosed(conn: UpstreamConn): void {
    this.open--;
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    const next = this.waiters.shift();
    if (next) next.onUpstreamAssigned(this.connect(next, this.limits.now()));
  }

  /** Closes idle connections older than `maxIdleMs` (all of them with 0). */
  closeIdle(now: number, maxIdleMs: number): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i] as UpstreamConn;
      if (now - c.idleSince >= maxIdleMs) c.destroy();
    }
  }

  finishedOne(item: Abortable): void {
    this.active.delete(item);
    if (this.active.size === 0) this.settled();
  }

  /** Resolves when nothing is in flight (at once when nothing is). */
  whenIdle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Aborts everything in flight; returns how many there were. */
  abortAll(reason: string): number {
    const items = this.active.toArray();
    for (const item of items) item.abort(reason);
    return items.length;
  }

  /** Nothing is in flight: wake drain waiters, and forget the backend once it left its pool. */
  private settled(): void {
    const waiters = this.drainWaiters.splice(0);
    for (const w of waiters) w();
    if (!this.inPool) {
      this.closeIdle(Number.POSITIVE_INFINITY, 0);
      this.forget(this);
    }
  }

  /** Left its pool: no new traffic; forgotten when nothing is in flight. */
  leavePool(): void {
    this.inPool = false;
    this.closeIdle(Number.POSITIVE_INFINITY, 0);
    if (this.active.size === 0) this.settled();
  }

  startDraining(): void {
    this.draining = true;
    this.closeIdle(Number.POSITIVE_INFINITY, 0);
  }
}

/** Pools by name and backends by id (ids are unique across pools). */
export class PoolTable {
  readonly pools = new Map<string, BackendState[]>();
  readonly backends = new Map<string, BackendState>();
  private static readonly empty: BackendState[] = [];

  constructor(private readonly limits: PoolLimits) {}

  members(pool: string): BackendState[] {
    return this.pools.get(pool) ?? PoolTable.empty;
  }

  /** Checks a pool's new backends; returns every problem found. */
  validate(pool: string, backends: readonly Backend[]): string[] {
    return validatePool(pool, backends, (id) => {
      const existing = this.backends.get(id);
      return existing && existing.inPool ? existing.pool : undefined;
    });
  }

  /** Replaces the members of `pool`; returns the backends that left it. */
  set(pool: string, backends: readonly Backend[]): BackendState[] {
    const problems = this.validate(pool, backends);
    if (problems.length) throw new Error(`invalid pool "${pool}":\n- ${problems.join('\n- ')}`);
    const before = this.members(pool);
    const next: BackendState[] = [];
    let changed = before.length !== backends.length;
    for (const [i, b] of backends.entries()) {
      let s = this.backends.get(b.id);
      if (s === undefined || s !== before[i] || s.weight !== b.weight || s.draining) changed = true;
      if (s) {
        if (s.host !== b.host || s.port !== b.port) {
          s.host = b.host;
          s.port = b.port;
          s.closeIdle(Number.POSITIVE_INFINITY, 0);
        }
        s.pool = pool;
        s.weight = b.weight;
        s.inPool = true;
        s.draining = false;
      } else {
        s = new BackendState(b.id, pool, b.host, b.port, b.weight, this.limits, (gone) => {
          if (this.backends.get(gone.id) === gone) this.backends.delete(gone.id);
        });
        this.backends.set(b.id, s);
      }
      next.push(s);
    }
    // New members or weights: restart the round-robin scores so the new weights apply from the
    // first pick. The same set again (a periodic resync) keeps them, or every resync would send
    // the next request to the first backend.
    if (changed) for (const s of next) s.currentWeight = 0;
    if (next.length) this.pools.set(pool, next);
    else this.pools.delete(pool);
    const left = before.filter((s) => !next.includes(s));
    for (const s of left) s.leavePool();
    return left;
  }
}

/**
 * Checks a pool's new backends; returns every problem found. `poolOf(id)` names the pool a
 * backend id is in now (undefined when in none): ids are unique across pools.
 */
export function validatePool(
  pool: string,
  backends: readonly Backend[],
  poolOf: (id: string) => string | undefined,
): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  if (!pool) problems.push('pool name is empty; name the pool');
  for (const b of backends) {
    const where = `backend "${b.id}" of pool "${pool}"`;
    if (!b.id)
      problems.push(`a backend of pool "${pool}" has an empty id; give every backend a unique id such as web/0@v7`);
    if (ids.has(b.id)) problems.push(`${where} is listed twice; backend ids must be unique`);
    ids.add(b.id);
    if (!b.host) problems.push(`${where} has no host; give the address it listens on, e.g. 127.0.0.1`);
    if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535)
      problems.push(`${where}: port must be a whole number from 1 to 65535, found ${b.port}`);
    if (!Number.isFinite(b.weight) || b.weight < 0 || b.weight > 1000)
      problems.push(`${where}: weight must be from 0 to 1000, found ${b.weight}`);
    const other = poolOf(b.id);
    if (other !== undefined && other !== pool) {
      problems.push(
        `${where} is already in pool "${other}"; backend ids must be unique across pools (take it out of "${other}" first)`,
      );
    }
  }
  return problems;
}
