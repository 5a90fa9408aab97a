/**
 * LeaseStore: one holder at a time, judged by the store's clock; a dead holder (the caller's
 * synchronous `isDead`) or an expired lease is taken over; a forced release returns who held it.
 */
import { describe, expect, it } from 'vitest';
import type { LeaseHolder } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

const NAME = 'apply';
const TTL = 30_000;
const holder = (id: string) => ({ holder: id, pid: 1000, host: 'contract-host', command: `cmd ${id}` });
const neverDead = (): boolean => false;

export function describeLeasesContract(target: StoreTarget): void {
  describe(`${target.name}: leases`, () => {
    let t: OpenedStore;
    openEach(target, (o) => (t = o));

    it('20 concurrent acquires, over two handles: exactly one holds the lease, the others are told who', async () => {
      const other = await t.openAnother();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? other : t.store).leases.acquireLease(NAME, holder(`h${i}`), TTL, neverDead),
        ),
      );
      const winners = results.flatMap((r, i) => (r.acquired ? [`h${i}`] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (!r.acquired) expect(r.heldBy.holder).toBe(winners[0]);
      expect((await t.store.leases.tryGetLease(NAME))?.holder).toBe(winners[0]);
    });

    it('the holder may acquire again; a live holder keeps it until its expiry, then anyone takes over', async () => {
      expect((await t.store.leases.acquireLease(NAME, holder('a'), TTL, neverDead)).acquired).toBe(true);
      const first = await t.store.leases.tryGetLease(NAME);
      expect(first).toMatchObject({ holder: 'a', pid: 1000, host: 'contract-host', command: 'cmd a' });
      expect(new Date(first?.expiresAt ?? 0).getTime() - new Date(first?.acquiredAt ?? 0).getTime()).toBe(TTL);
      expect((await t.store.leases.acquireLease(NAME, holder('a'), TTL, neverDead)).acquired).toBe(true);
      await t.clock.advance(TTL - 1);
      expect(await t.store.leases.acquireLease(NAME, holder('b'), TTL, neverDead)).toMatchObject({
        acquired: false,
        heldBy: { holder: 'a' },
      });
      await t.clock.advance(1);
      expect((await t.store.leases.acquireLease(NAME, holder('b'), TTL, neverDead)).acquired).toBe(true);
      expect((await t.store.leases.tryGetLease(NAME))?.holder).toBe('b');
    });

    it('a holder that isDead reports dead is taken over before its expiry; isDead sees the holder', async () => {
      await t.store.leases.acquireLease(NAME, holder('a'), TTL, neverDead);
      const asked: LeaseHolder[] = [];
      const r = await t.store.leases.acquireLease(NAME, holder('b'), TTL, (h) => {
        asked.push(h);
        return h.holder === 'a';
      });
      expect(r.acquired).toBe(true);
      expect(asked.map((h) => h.holder)).toEqual(['a']);
      expect((await t.store.leases.tryGetLease(NAME))?.holder).toBe('b');
    });

    it('renewal moves the expiry for the holder only; release by another holder does nothing', async () => {
      await t.store.leases.acquireLease(NAME, holder('a'), TTL, neverDead);
      await t.clock.advance(20_000);
      expect(await t.store.leases.renewLease(NAME, 'a', TTL)).toBe(true);
      expect(await t.store.leases.renewLease(NAME, 'b', TTL)).toBe(false);
      await t.clock.advance(TTL - 1);
      expect((await t.store.leases.acquireLease(NAME, holder('b'), TTL, neverDead)).acquired).toBe(false);
      await t.store.leases.releaseLease(NAME, 'b');
      expect((await t.store.leases.tryGetLease(NAME))?.holder).toBe('a');
      await t.store.leases.releaseLease(NAME, 'a');
      expect(await t.store.leases.tryGetLease(NAME)).toBeUndefined();
      expect(await t.store.leases.renewLease(NAME, 'a', TTL)).toBe(false);
    });

    it('forceReleaseLease returns the holder it removed, and undefined when the lease is free', async () => {
      await t.store.leases.acquireLease(NAME, holder('a'), TTL, neverDead);
      expect((await t.store.leases.forceReleaseLease(NAME))?.holder).toBe('a');
      expect(await t.store.leases.tryGetLease(NAME)).toBeUndefined();
      expect(await t.store.leases.forceReleaseLease(NAME)).toBeUndefined();
      expect((await t.store.leases.acquireLease(NAME, holder('b'), TTL, neverDead)).acquired).toBe(true);
    });

    it('a failure inside isDead is a rejection, and the lease is unchanged', async () => {
      await t.store.leases.acquireLease(NAME, holder('a'), TTL, neverDead);
      await expect(
        t.store.leases.acquireLease(NAME, holder('b'), TTL, () => {
          throw new Error('cannot tell');
        }),
      ).rejects.toThrow('cannot tell');
      expect((await t.store.leases.tryGetLease(NAME))?.holder).toBe('a');
    });
  });
}
