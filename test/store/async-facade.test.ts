import { describe, expect, it } from 'vitest';
import { asyncFacade } from '../../src/store/sqlite/async-facade.js';

class Counter {
  n = 0;
  bump(by: number): number {
    this.n += by;
    return this.n;
  }
  fail(): void {
    throw new Error('disk full');
  }
}

describe('asyncFacade', () => {
  it('runs the call at once, in call order, and resolves to its result', async () => {
    const core = new Counter();
    const f = asyncFacade(core, ['bump', 'fail']);
    const a = f.bump(2);
    const b = f.bump(3);
    // Ran before any await: order is the callers' order, as with the synchronous store.
    expect(core.n).toBe(5);
    expect(await a).toBe(2);
    expect(await b).toBe(5);
  });

  it('turns a throw into a rejection', async () => {
    const f = asyncFacade(new Counter(), ['fail']);
    await expect(f.fail()).rejects.toThrow('disk full');
  });

  it('exposes only the named methods', () => {
    const f = asyncFacade(new Counter(), ['bump']);
    expect(Object.keys(f)).toEqual(['bump']);
    expect(() => asyncFacade(new Counter(), ['n' as never])).toThrow('is not a method');
  });
});
