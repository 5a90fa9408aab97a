/**
 * RestartTracker is pure: time and randomness come in, so every delay is checked exactly.
 * With random() = 0.5 the jitter factor is exactly 1.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF,
  RestartTracker,
  type BackoffSettings,
  type RestartDecision,
} from '../../src/daemon/restart-policy.js';
import { Duration } from '../../src/util/duration.js';

const NO_JITTER = () => 0.5;

function delayOf(d: RestartDecision): number {
  if (!d.restart) throw new Error(`expected a restart, got: ${d.reason}`);
  return d.delay.toMilliseconds();
}

function settings(over: Partial<BackoffSettings> = {}): BackoffSettings {
  return { ...DEFAULT_BACKOFF, ...over };
}

describe('RestartTracker', () => {
  it('restarts at once the first time, then doubles the delay per consecutive failure', () => {
    const t = new RestartTracker(settings({ crashLoopRestarts: 100 }), NO_JITTER);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) delays.push(delayOf(t.decide('always', 1, i * 10, 5)));
    // initial 0: the first retry is immediate, then 200ms·2^(n-1) from the second on.
    expect(delays).toEqual([0, 400, 800, 1600, 3200, 6400]);
  });

  it('uses `initial` as the first delay when it is not zero', () => {
    const t = new RestartTracker(settings({ initial: Duration.milliseconds(500), crashLoopRestarts: 100 }), NO_JITTER);
    const delays = [0, 1, 2, 3].map((i) => delayOf(t.decide('always', 1, i, 5)));
    expect(delays).toEqual([500, 1000, 2000, 4000]);
  });

  it('caps the delay at `max`', () => {
    const t = new RestartTracker(settings({ crashLoopRestarts: 1000, max: Duration.seconds(5) }), NO_JITTER);
    const delays = Array.from({ length: 12 }, (_, i) => delayOf(t.decide('always', 1, i, 5)));
    expect(Math.max(...delays)).toBe(5000);
    expect(delays.slice(-4)).toEqual([5000, 5000, 5000, 5000]);
  });

  it('detects a crash loop at `crashLoopRestarts` exits within the window and then waits crashLoopDelay', () => {
    const t = new RestartTracker(settings(), NO_JITTER);
    const decisions = [0, 100, 200, 300, 400].map((at) => t.decide('always', 1, at, 5));
    expect(decisions.slice(0, 4).map((d) => d.restart && d.crashLoop)).toEqual([false, false, false, false]);
    const fifth = decisions[4] as RestartDecision;
    expect(fifth).toMatchObject({ restart: true, crashLoop: true });
    expect(delayOf(fifth)).toBe(60_000);
    expect(fifth.reason).toContain('crash loop');
    expect(t.inCrashLoop).toBe(true);
  });

  it('forgets exits older than the window, so spread-out failures never make a crash loop', () => {
    const t = new RestartTracker(settings({ window: Duration.seconds(10) }), NO_JITTER);
    let crashLoops = 0;
    for (let i = 0; i < 20; i++) {
      const d = t.decide('always', 1, i * 3000, 5);
      if (d.restart && d.crashLoop) crashLoops++;
    }
    // At most 4 exits fall inside any 10 s window when they are 3 s apart.
    expect(crashLoops).toBe(0);
    expect(t.inCrashLoop).toBe(false);
  });

  it('keeps a crash-loop delay of at least crashLoopDelay, even when the backoff is longer', () => {
    const t = new RestartTracker(
      settings({ crashLoopRestarts: 3, crashLoopDelay: Duration.seconds(1), max: Duration.seconds(30) }),
      NO_JITTER,
    );
    const ds = [0, 1, 2, 3, 4, 5, 6].map((at) => delayOf(t.decide('always', 1, at, 5)));
    expect(ds.slice(0, 2)).toEqual([0, 400]);
    // From the third exit on it is a crash loop: max(backoff, 1 s).
    expect(ds.slice(2)).toEqual([1000, 1600, 3200, 6400, 12800]);
  });

  it('resets the backoff after a run of at least stableAfter', () => {
    const t = new RestartTracker(settings({ crashLoopRestarts: 100 }), NO_JITTER);
    expect([0, 1, 2].map((at) => delayOf(t.decide('always', 1, at, 5)))).toEqual([0, 400, 800]);
    // The instance then ran for 30 s: the next failure starts the backoff over.
    expect(delayOf(t.decide('always', 1, 40_000, 30_000))).toBe(0);
    expect(delayOf(t.decide('always', 1, 40_001, 5))).toBe(400);
  });

  it('does not reset the backoff after a run just shorter than stableAfter', () => {
    const t = new RestartTracker(settings({ crashLoopRestarts: 100 }), NO_JITTER);
    [0, 1].forEach((at) => t.decide('always', 1, at, 5));
    expect(delayOf(t.decide('always', 1, 40_000, 29_999))).toBe(800);
  });

  it('reset() forgets everything', () => {
    const t = new RestartTracker(settings(), NO_JITTER);
    for (let i = 0; i < 5; i++) t.decide('always', 1, i, 5);
    expect(t.inCrashLoop).toBe(true);
    t.reset();
    expect(t.inCrashLoop).toBe(false);
    expect(delayOf(t.decide('always', 1, 10, 5))).toBe(0);
  });

  it('on-failure: no restart after exit 0; restart after a non-zero code or a signal (code null)', () => {
    const t = new RestartTracker(settings(), NO_JITTER);
    const clean = t.decide('on-failure', 0, 0, 5);
    expect(clean.restart).toBe(false);
    expect(clean.reason).toContain('on-failure');
    expect(t.decide('on-failure', 3, 1, 5).restart).toBe(true);
    expect(t.decide('on-failure', null, 2, 5).restart).toBe(true);
  });

  it('on-failure: a clean exit does not count towards a crash loop', () => {
    const t = new RestartTracker(settings(), NO_JITTER);
    for (let i = 0; i < 10; i++) t.decide('on-failure', 0, i, 5);
    expect(t.inCrashLoop).toBe(false);
    expect(delayOf(t.decide('on-failure', 1, 20, 5))).toBe(0);
  });

  it('never: no restart whatever the exit', () => {
    const t = new RestartTracker(settings(), NO_JITTER);
    for (const code of [0, 1, 137, null]) {
      const d = t.decide('never', code, 0, 5);
      expect(d.restart).toBe(false);
      expect(d.reason).toContain('never');
    }
    expect(t.inCrashLoop).toBe(false);
  });

  it('always: restarts after exit 0 too', () => {
    const t = new RestartTracker(settings(), NO_JITTER);
    expect(t.decide('always', 0, 0, 5).restart).toBe(true);
  });

  it('jitter spreads the delay by ±jitter/2 and never beyond', () => {
    const at = (r: number) => {
      const t = new RestartTracker(settings({ crashLoopRestarts: 100, jitter: 0.2 }), () => r);
      t.decide('always', 1, 0, 5);
      return delayOf(t.decide('always', 1, 1, 5));
    };
    expect(at(0)).toBe(360); // 400 × 0.9
    expect(at(0.5)).toBe(400);
    expect(at(0.999999)).toBe(440); // 400 × 1.1 (rounded)
    // The first, immediate retry stays immediate whatever the jitter.
    const t = new RestartTracker(settings({ jitter: 0.2 }), () => 1);
    expect(delayOf(t.decide('always', 1, 0, 5))).toBe(0);
  });

  it('the default settings are what status messages promise: crash loop at 5 exits in 1m, then 60s', () => {
    expect(DEFAULT_BACKOFF.crashLoopRestarts).toBe(5);
    expect(DEFAULT_BACKOFF.window.toMilliseconds()).toBe(60_000);
    expect(DEFAULT_BACKOFF.crashLoopDelay.toMilliseconds()).toBe(60_000);
    expect(DEFAULT_BACKOFF.stableAfter.toMilliseconds()).toBe(30_000);
  });
});
