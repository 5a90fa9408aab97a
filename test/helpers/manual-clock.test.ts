/** The test clock itself: every clock-driven test relies on these rules. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';

describe('ManualClock', () => {
  it('fires sleeps and timers in due order (creation order on ties), at their due time', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const at = (what: string) => () => fired.push(`${clock.t} ${what}`);
    clock.setTimeout(at('b'), 20);
    clock.setTimeout(at('a'), 10);
    clock.setTimeout(at('c'), 20);
    void clock.sleep(15).then(at('sleep'));
    const every = clock.setInterval(at('tick'), 8);
    await clock.advance(25);
    every.cancel();
    await clock.advance(100);
    expect(fired).toEqual(['8 tick', '10 a', '15 sleep', '16 tick', '20 b', '20 c', '24 tick']);
    expect(clock.pending).toBe(0);
  });

  it('lets the code a timer wakes run, and schedule more, within the same advance', async () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    void (async () => {
      for (let i = 0; i < 5; i++) {
        await clock.sleep(100);
        seen.push(clock.t);
      }
    })();
    await clock.advance(450);
    expect(seen).toEqual([100, 200, 300, 400]);
  });

  it('moves wall time and monotonic time together', async () => {
    const clock = new ManualClock(new Date('2026-12-01T09:00:00.000Z'));
    const ms = clock.ms();
    await clock.advance(90_000);
    expect(clock.now().toISOString()).toBe('2026-12-01T09:01:30.000Z');
    expect(clock.ms() - ms).toBe(90_000);
  });

  it('run() drives a promise to its end one due time at a time, and says so when nothing can move it', async () => {
    const clock = new ManualClock();
    const slow = async () => {
      await clock.sleep(1000);
      await clock.sleep(2000);
      return clock.t;
    };
    expect(await clock.run(slow())).toBe(3000);
    await expect(clock.run(new Promise(() => undefined))).rejects.toThrow(/no timer is due/);
  });
});
