import { describe, expect, it } from 'vitest';
import { singleFlight } from '../../src/util/single-flight.js';
import { EventBus } from '../../src/core/bus.js';
import { silentLogger, type Logger } from '../../src/util/logger.js';

/** A promise the test resolves by hand. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('singleFlight', () => {
  it('never overlaps runs, and folds triggers during a run into one more run', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const gates = [gate(), gate()];
    const sf = singleFlight(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await gates[runs++]?.wait;
        active--;
      },
      () => undefined,
    );
    sf.trigger();
    sf.trigger();
    sf.trigger();
    gates[0]?.open();
    gates[1]?.open();
    await sf.idle();
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
  });

  it('reports a failing run and keeps working', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const sf = singleFlight(
      async () => {
        if (n++ === 0) throw new Error('store unavailable');
      },
      (e) => errors.push(e),
    );
    sf.trigger();
    await sf.idle();
    sf.trigger();
    await sf.idle();
    expect(n).toBe(2);
    expect(String(errors[0])).toContain('store unavailable');
  });
});

describe('EventBus.onAsync', () => {
  it('handles events one at a time in publish order, logs failures, and drains', async () => {
    const logged: string[] = [];
    const logger: Logger = { log: (_l, msg, f) => logged.push(`${msg} ${String(f?.['error'])}`) };
    const bus = new EventBus(() => new Date(0), logger);
    const seen: number[] = [];
    let active = 0;
    bus.onAsync('*', async (e) => {
      active++;
      expect(active).toBe(1);
      await new Promise((r) => setImmediate(r));
      seen.push(e.sequence);
      active--;
      if (e.sequence === 2) throw new Error('disk full');
    });
    for (let i = 0; i < 3; i++) bus.publish({ type: 'change', changeId: i, kind: 'apply', outcome: 'ok', author: 't' });
    await bus.drain();
    expect(seen).toEqual([1, 2, 3]);
    expect(logged).toEqual(['event subscriber failed disk full']);
  });

  it('stops after unsubscribe', async () => {
    const bus = new EventBus(() => new Date(0), silentLogger);
    const seen: number[] = [];
    const off = bus.onAsync('*', async (e) => {
      seen.push(e.sequence);
    });
    bus.publish({ type: 'change', changeId: 1, kind: 'apply', outcome: 'ok', author: 't' });
    off();
    bus.publish({ type: 'change', changeId: 2, kind: 'apply', outcome: 'ok', author: 't' });
    await bus.drain();
    expect(seen).toEqual([1]);
  });
});
