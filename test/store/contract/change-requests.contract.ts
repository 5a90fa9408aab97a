/**
 * ChangeRequestStore: a request is claimed once, refused once, and never both (each checked in
 * the statement that writes it, so racing calls from two processes cannot both win); a claim can
 * be given back by the change that holds it; approvals are once per person.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ChangeRequestRow, Store } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

const NEW: Omit<ChangeRequestRow, 'id' | 'createdAt' | 'appliedChange' | 'approvals' | 'refusal'> = {
  kind: 'deploy',
  service: 'web',
  subject: { service: 'web', ref: 'main' },
  hash: 'a'.repeat(64),
  author: 'olga',
  message: 'ship it',
  decisions: [3, 1],
};
const refusal = (by: string) => ({ by, at: '2026-12-02T06:00:00.000Z', reason: `${by} says no` });

export function describeChangeRequestsContract(target: StoreTarget): void {
  describe(`${target.name}: change requests`, () => {
    let t: OpenedStore;
    let other: Store;
    openEach(target, (o) => (t = o));
    beforeEach(async () => {
      other = await t.openAnother();
    });
    const on = (i: number) => (i % 2 ? other : t.store).changeRequests;

    it('saves a request as given, waiting, with no approvals; lists newest first within a limit', async () => {
      const id = await t.store.changeRequests.saveRequest(NEW);
      expect(await t.store.changeRequests.tryGetRequest(id)).toMatchObject({
        ...NEW,
        id,
        appliedChange: null,
        approvals: [],
        refusal: null,
      });
      expect(await t.store.changeRequests.tryGetRequest(id + 1000)).toBeUndefined();
      for (let i = 0; i < 4; i++) await t.store.changeRequests.saveRequest({ ...NEW, message: `m${i}` });
      const listed = await t.store.changeRequests.listRequests(3);
      expect(listed.map((r) => r.message)).toEqual(['m3', 'm2', 'm1']);
      expect((await t.store.changeRequests.listRequests()).length).toBe(5);
    });

    it('an approval counts once per person', async () => {
      const id = await t.store.changeRequests.saveRequest(NEW);
      const approve = (by: string) => ({ by, at: '2026-12-02T06:00:00.000Z', comment: `ok from ${by}` });
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => on(i).addApproval(id, approve(i < 4 ? 'ann' : 'bob'))),
      );
      expect(results.filter(Boolean)).toHaveLength(2);
      expect((await t.store.changeRequests.tryGetRequest(id))?.approvals.map((a) => a.by).sort()).toEqual([
        'ann',
        'bob',
      ]);
    });

    it('20 concurrent claims over two handles: exactly one wins and the request names its change', async () => {
      const id = await t.store.changeRequests.saveRequest(NEW);
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => on(i).claimRequest(id, 100 + i)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      const winner = 100 + wins.indexOf(true);
      expect((await t.store.changeRequests.tryGetRequest(id))?.appliedChange).toBe(winner);
    });

    it('claims racing refusals: exactly one call wins, and the request is either carried out or refused', async () => {
      for (let round = 0; round < 5; round++) {
        const id = await t.store.changeRequests.saveRequest(NEW);
        const calls = Array.from({ length: 10 }, (_, i) =>
          i % 2 ? on(i).claimRequest(id, 200 + i) : on(i).refuseRequest(id, refusal(`r${i}`)),
        );
        const won = await Promise.all(calls);
        expect(won.filter(Boolean)).toHaveLength(1);
        const r = await t.store.changeRequests.tryGetRequest(id);
        const claimed = r?.appliedChange !== null;
        const refused = r?.refusal !== null;
        expect(claimed !== refused).toBe(true);
        // Once decided, neither a claim nor a refusal changes it.
        expect(await t.store.changeRequests.claimRequest(id, 999)).toBe(false);
        expect(await t.store.changeRequests.refuseRequest(id, refusal('late'))).toBe(false);
      }
    });

    it('releaseRequest gives a claim back only for the change that holds it; then it can be claimed again', async () => {
      const id = await t.store.changeRequests.saveRequest(NEW);
      expect(await t.store.changeRequests.claimRequest(id, 7)).toBe(true);
      await t.store.changeRequests.releaseRequest(id, 8);
      expect((await t.store.changeRequests.tryGetRequest(id))?.appliedChange).toBe(7);
      await t.store.changeRequests.releaseRequest(id, 7);
      expect((await t.store.changeRequests.tryGetRequest(id))?.appliedChange).toBeNull();
      expect(await other.changeRequests.claimRequest(id, 9)).toBe(true);
      expect((await t.store.changeRequests.tryGetRequest(id))?.appliedChange).toBe(9);
    });

    it('a refused request keeps who refused it, when and why, and cannot be claimed', async () => {
      const id = await t.store.changeRequests.saveRequest(NEW);
      expect(await t.store.changeRequests.refuseRequest(id, refusal('ann'))).toBe(true);
      expect((await other.changeRequests.tryGetRequest(id))?.refusal).toEqual(refusal('ann'));
      expect(await other.changeRequests.claimRequest(id, 1)).toBe(false);
    });
  });
}
