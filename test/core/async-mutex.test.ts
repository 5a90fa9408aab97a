import { describe, expect, it } from 'vitest';
import { AsyncMutex } from '../../src/util/async-mutex.js';

/** A promise the test resolves by hand. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('AsyncMutex', () => {
  it('runs sequences one at a time, in call order; a failure does not stop the ones behind it', async () => {
    const lock = new AsyncMutex();
    const order: string[] = [];
    const first = gate();
    const a = lock.run(async () => {
      order.push('a start');
      await first.wait;
      order.push('a end');
      return 'a';
    });
    const b = lock.run(async () => {
      order.push('b');
      throw new Error('b failed');
    });
    const c = lock.run(async () => {
      order.push('c');
      return 'c';
    });
    // Let every queued microtask run: b and c must still wait for a.
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['a start']);
    first.open();
    await expect(a).resolves.toBe('a');
    await expect(b).rejects.toThrow('b failed');
    await expect(c).resolves.toBe('c');
    expect(order).toEqual(['a start', 'a end', 'b', 'c']);
  });
});
