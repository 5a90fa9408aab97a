/**
 * EventStore: a batch is appended in order and in one piece; lists are the newest `limit`
 * (default 100), oldest first, optionally of one address.
 */
import { describe, expect, it } from 'vitest';
import type { InstanceEvent } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const ev = (address: string, n: number, reason = `r${n}`): Omit<InstanceEvent, 'id'> => ({
  at: new Date(T0 + n * 1000).toISOString(),
  address,
  instance: `${address}#1`,
  type: 'running',
  reason,
});
const reasons = (rows: InstanceEvent[]) => rows.map((r) => r.reason);

export function describeEventsContract(target: StoreTarget): void {
  describe(`${target.name}: events`, () => {
    let t: OpenedStore;
    openEach(target, (o) => (t = o));

    it('a batch is stored in its order with the given times; ids increase along it', async () => {
      await t.store.events.record([ev('service.a', 1), ev('service.b', 2), ev('service.a', 3)]);
      await t.store.events.record([ev('service.a', 4)]);
      await t.store.events.record([]);
      const all = await t.store.events.listEvents();
      expect(reasons(all)).toEqual(['r1', 'r2', 'r3', 'r4']);
      expect(all[0]).toMatchObject({
        at: '2026-12-01T10:00:01.000Z',
        address: 'service.a',
        instance: 'service.a#1',
        type: 'running',
      });
      const ids = all.map((r) => r.id);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      expect(new Set(ids).size).toBe(4);
    });

    it('lists the newest `limit` (100 by default), oldest first, of one address when asked', async () => {
      await t.store.events.record(
        Array.from({ length: 105 }, (_, i) => ev(i % 3 === 0 ? 'service.a' : 'service.b', i + 1)),
      );
      const all = await t.store.events.listEvents();
      expect(all).toHaveLength(100);
      expect(all[0]?.reason).toBe('r6');
      expect(all[99]?.reason).toBe('r105');
      expect(reasons(await t.store.events.listEvents(undefined, 3))).toEqual(['r103', 'r104', 'r105']);
      const a = await t.store.events.listEvents('service.a', 2);
      expect(reasons(a)).toEqual(['r100', 'r103']);
      expect(await t.store.events.listEvents('service.none')).toEqual([]);
    });

    it('concurrent batches from two handles each land in one piece, none lost', async () => {
      const other = await t.openAnother();
      await Promise.all(
        Array.from({ length: 10 }, (_, b) =>
          (b % 2 ? other : t.store).events.record(
            Array.from({ length: 5 }, (_, i) => ev(`service.b${b}`, b * 5 + i, `b${b}-${i}`)),
          ),
        ),
      );
      const all = await t.store.events.listEvents(undefined, 1000);
      expect(all).toHaveLength(50);
      for (let start = 0; start < 50; start += 5) {
        const batch = reasons(all.slice(start, start + 5));
        const b = batch[0]?.split('-')[0];
        expect(batch).toEqual([0, 1, 2, 3, 4].map((i) => `${b}-${i}`));
      }
    });
  });
}
