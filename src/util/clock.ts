/** Passed in wherever time is read, so tests can control it. */
export interface Clock {
  /** Wall-clock time: what is recorded and shown (timestamps, expiry dates). */
  now(): Date;
}

/** A pending timer; `cancel()` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface TimerOptions {
  /**
   * The timer does not keep the process alive (Node's `unref`), for background work such as a
   * lease renewal or a housekeeping tick. Default false.
   */
  background?: boolean;
}

/**
 * A clock that also measures elapsed time and waits: what deadlines, pauses, windows and
 * periodic work need. Passed in like the Clock (no globals), so a test can drive it with
 * `ManualClock.advance` instead of waiting (test/helpers/manual-clock.ts).
 */
export interface Timers extends Clock {
  /** Monotonic milliseconds from an arbitrary origin: for deadlines and elapsed time, never shown. */
  ms(): number;
  /** Resolves after `ms` milliseconds of this clock (at once for 0 or less). */
  sleep(ms: number): Promise<void>;
  /** Calls `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): Timer;
  /** Calls `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number, options?: TimerOptions): Timer;
}

/** The real clock: Date for wall time, performance.now() for elapsed time, Node's timers. */
export const systemClock: Timers = {
  now: () => new Date(),
  ms: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
  setTimeout(fn, ms, options = {}) {
    const t = setTimeout(fn, Math.max(0, ms));
    if (options.background) t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms, options = {}) {
    const t = setInterval(fn, Math.max(1, ms));
    if (options.background) t.unref();
    return { cancel: () => clearInterval(t) };
  },
};
