import { describe, expect, it } from 'vitest';
import { limiter } from './limiter.js';

describe('limiter', () => {
  it('runs at most n at once, every one of them, in the order they asked', async () => {
    const limit = limiter(2);
    let now = 0;
    let most = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, () => {
      let open = () => undefined as void;
      const opened = new Promise<void>((r) => (open = r));
      return { open, opened };
    });
    const runs = gates.map((g, i) =>
      limit(async () => {
        started.push(i);
        most = Math.max(most, ++now);
        await g.opened;
        now--;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    for (const g of gates) g.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it('frees the slot when the work throws', async () => {
    const limit = limiter(1);
    await expect(limit(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit(() => Promise.resolve('next'))).toBe('next');
  });

  it('refuses a slot count that is not a whole number >= 1', () => {
    expect(() => limiter(0)).toThrow(/whole number of slots >= 1, got 0/);
  });
});
