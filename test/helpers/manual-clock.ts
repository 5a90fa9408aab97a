/**
 * A clock that moves only when the test says so. `advance(ms)` fires every sleep and timer that
 * falls due on the way, in order of due time (then of creation), and lets the promise chains they
 * wake run before the next one fires, so code that sleeps in a loop behaves as it would in real
 * time, in no time. Use it where production code takes a `Timers` (src/util/clock.ts).
 *
 *   const clock = new ManualClock();
 *   const done = rollout({ ...deps, clock }, ...);
 *   await clock.advance(1500);           // a canary pause of 1.5 s passes
 *   const result = await clock.run(done); // fires timers one due time at a time until it settles
 */
import type { Timer, TimerOptions, Timers } from '../../src/util/clock.js';

interface Entry {
  due: number;
  seq: number;
  fn: () => void;
  /** Interval period; undefined for a one-off. */
  every: number | undefined;
  cancelled: boolean;
}

/** Lets every promise continuation that is ready run (one macrotask turn; microtasks drain first). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ManualClock implements Timers {
  /**
   * Monotonic time starts far from 0: code may use 0 for "not set yet", as performance.now() is
   * never 0 in a running process.
   */
  private elapsed = 1_000_000;
  private readonly origin: number;
  private readonly start: number;
  private seq = 0;
  private queue: Entry[] = [];

  constructor(wallStart = new Date('2026-12-01T09:00:00.000Z')) {
    this.origin = wallStart.getTime();
    this.start = this.elapsed;
  }

  now(): Date {
    return new Date(this.origin + (this.elapsed - this.start));
  }

  ms(): number {
    return this.elapsed;
  }

  /** Milliseconds this clock has advanced since it was made: the test's timeline. */
  get t(): number {
    return this.elapsed - this.start;
  }

  sleep(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => this.add(resolve, ms, undefined));
  }

  setTimeout(fn: () => void, ms: number, _options?: TimerOptions): Timer {
    return this.add(fn, Math.max(0, ms), undefined);
  }

  setInterval(fn: () => void, ms: number, _options?: TimerOptions): Timer {
    return this.add(fn, Math.max(1, ms), Math.max(1, ms));
  }

  /** Sleeps and timers not yet fired or cancelled. */
  get pending(): number {
    return this.queue.filter((e) => !e.cancelled).length;
  }

  /** Moves time forward by `ms`, firing what falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new Error(`ManualClock.advance: expected milliseconds >= 0, got ${ms}`);
    const target = this.elapsed + ms;
    await settle();
    for (let next = this.next(); next !== undefined && next.due <= target; next = this.next()) {
      this.elapsed = Math.max(this.elapsed, next.due);
      this.fire(next);
      await settle();
    }
    this.elapsed = target;
    await settle();
  }

  /** Advances to the given point of the test's timeline (`t`). */
  advanceTo(t: number): Promise<void> {
    if (t < this.t) throw new Error(`ManualClock.advanceTo(${t}): the clock is already at ${this.t} ms`);
    return this.advance(t - this.t);
  }

  /**
   * Advances from one due timer to the next until `p` settles; returns its value (or throws its
   * error). Fails when nothing is pending while `p` still is (it waits for something this clock
   * does not drive), or after `limitMs` of clock time.
   */
  async run<T>(p: Promise<T>, limitMs = 24 * 3_600_000): Promise<T> {
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    const until = this.elapsed + limitMs;
    await settle();
    while (!settled) {
      const next = this.next();
      if (next === undefined)
        throw new Error(
          `ManualClock.run: the promise is still pending at t=${this.t} ms and no timer is due; it waits for something this clock does not drive`,
        );
      if (next.due > until)
        throw new Error(`ManualClock.run: the promise is still pending after ${limitMs} ms of clock time`);
      await this.advance(next.due - this.elapsed);
    }
    return p;
  }

  private add(fn: () => void, ms: number, every: number | undefined): Timer {
    const e: Entry = { due: this.elapsed + ms, seq: this.seq++, fn, every, cancelled: false };
    this.queue.push(e);
    return {
      cancel: () => {
        e.cancelled = true;
      },
    };
  }

  private next(): Entry | undefined {
    this.queue = this.queue.filter((e) => !e.cancelled);
    let best: Entry | undefined;
    for (const e of this.queue)
      if (best === undefined || e.due < best.due || (e.due === best.due && e.seq < best.seq)) best = e;
    return best;
  }

  private fire(e: Entry): void {
    if (e.every === undefined) e.cancelled = true;
    else {
      e.due += e.every;
      e.seq = this.seq++;
    }
    e.fn();
  }
}
