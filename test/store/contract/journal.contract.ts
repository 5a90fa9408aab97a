/**
 * The journal's contract: changes, their steps in order, a step's result and state write in one
 * transaction, skipped steps in one batch, and recovery of what a dead process left open.
 */
import { describe, expect, it } from 'vitest';
import type { Address, JsonObject } from '../../../src/model/resource.js';
import type { StepWrite, Store } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

const A = 'service.a' as Address;
const B = 'service.b' as Address;
const C = 'service.c' as Address;

const change = { kind: 'apply', author: 'ann', message: 'm', planHash: 'h', summary: { create: 1 } } as const;

function upsert(address: Address, spec: JsonObject = {}): StepWrite {
  return { kind: 'upsert', row: { address, kind: 'service', spec, outputs: {}, dependsOn: [] } };
}

export function describeJournalContract(target: StoreTarget): void {
  describe(`journal contract (${target.name})`, () => {
    let t: OpenedStore;
    let store: Store;
    openEach(target, (o) => {
      t = o;
      store = o.store;
    });

    it('records a change and its steps in the order they were journaled', async () => {
      const id = await store.journal.beginChange(change);
      const running = await store.journal.tryGetChange(id);
      expect(running).toMatchObject({ id, kind: 'apply', author: 'ann', outcome: 'running', serialBefore: 0 });
      expect(running?.finishedAt).toBeNull();

      const ja = await store.journal.startStep(id, A, 'create');
      const jb = await store.journal.startStep(id, B, 'create');
      expect(jb).toBeGreaterThan(ja);
      expect((await store.journal.entries(id)).map((j) => [j.address, j.status])).toEqual([
        [A, 'started'],
        [B, 'started'],
      ]);
      expect(await store.journal.finishStep(jb, 'failed', { kind: 'none' }, 'b broke')).toBe(0);
      expect(await store.journal.finishStep(ja, 'applied', upsert(A))).toBe(1);
      await store.journal.finishChange(id, 'partial', { applied: 1, failed: 1 });

      const done = await store.journal.tryGetChange(id);
      expect(done).toMatchObject({ outcome: 'partial', serialAfter: 1, summary: { applied: 1, failed: 1 } });
      expect(done?.finishedAt).not.toBeNull();
      const steps = await store.journal.entries(id);
      expect(steps.map((j) => [j.address, j.status, j.error, j.serial])).toEqual([
        [A, 'applied', null, 1],
        [B, 'failed', 'b broke', 0],
      ]);
      expect(await store.journal.tryGetChange(id + 1)).toBeUndefined();
      expect(await store.journal.entries(id + 1)).toEqual([]);
    });

    it('lists changes newest first, up to the limit, with their notes', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 4; i++) ids.push(await store.journal.beginChange({ ...change, message: `c${i}` }));
      await store.journal.noteChange(ids[1] as number, { request: 7, decisions: [3, 4], breakGlass: 'outage' });
      expect((await store.journal.listChanges(3)).map((c) => c.message)).toEqual(['c3', 'c2', 'c1']);
      expect((await store.journal.listChanges()).length).toBe(4);
      expect(await store.journal.tryGetChange(ids[1] as number)).toMatchObject({
        request: 7,
        decisions: [3, 4],
        breakGlass: 'outage',
      });
      expect(await store.journal.tryGetChange(ids[0] as number)).toMatchObject({
        request: null,
        decisions: [],
        breakGlass: null,
      });
    });

    it('journals skipped steps in one batch, in order, without touching the serial', async () => {
      const id = await store.journal.beginChange(change);
      await store.journal.finishStep(await store.journal.startStep(id, A, 'create'), 'failed', { kind: 'none' }, 'x');
      await store.journal.skipSteps(id, [
        { address: B, action: 'create', because: `${A} failed` },
        { address: C, action: 'update', because: `${B} was skipped` },
      ]);
      await store.journal.skipSteps(id, []);
      const steps = await store.journal.entries(id);
      expect(steps.map((j) => [j.address, j.action, j.status, j.error])).toEqual([
        [A, 'create', 'failed', 'x'],
        [B, 'create', 'skipped', `${A} failed`],
        [C, 'update', 'skipped', `${B} was skipped`],
      ]);
      expect(steps.every((j) => j.finishedAt !== null && j.serial === 0)).toBe(true);
      expect(await store.resources.serial()).toBe(0);
    });

    it('finishStep is all or nothing: a write that fails leaves the step, the resource and the serial as they were', async () => {
      const id = await store.journal.beginChange(change);
      await store.journal.finishStep(await store.journal.startStep(id, A, 'create'), 'applied', upsert(A, { v: 1 }));
      const j = await store.journal.startStep(id, A, 'update');
      // A spec the store cannot serialise (it contains itself) fails the write after the serial
      // was bumped inside the transaction.
      const spec: JsonObject = { v: 2 };
      spec.self = spec;
      const broken = upsert(A, spec);
      await expect(store.journal.finishStep(j, 'applied', broken)).rejects.toThrow();
      expect(await store.resources.serial()).toBe(1);
      expect((await store.resources.tryGetResource(A))?.spec).toEqual({ v: 1 });
      expect((await store.journal.entries(id)).map((e) => [e.action, e.status])).toEqual([
        ['create', 'applied'],
        ['update', 'started'],
      ]);
    });

    it('recoverInterrupted marks what a dead process left started or running, once', async () => {
      const dead = await t.openAnother();
      const id = await dead.journal.beginChange(change);
      await dead.journal.finishStep(await dead.journal.startStep(id, A, 'create'), 'applied', upsert(A));
      await dead.journal.startStep(id, B, 'create');
      await dead.journal.startStep(id, C, 'delete');

      const recovered = await store.journal.recoverInterrupted();
      expect(recovered.map((j) => [j.changeId, j.address, j.action, j.status])).toEqual([
        [id, B, 'create', 'started'],
        [id, C, 'delete', 'started'],
      ]);
      expect((await store.journal.entries(id)).map((j) => j.status)).toEqual(['applied', 'interrupted', 'interrupted']);
      expect(await store.journal.tryGetChange(id)).toMatchObject({ outcome: 'interrupted', serialAfter: 1 });
      expect(await store.journal.recoverInterrupted()).toEqual([]);
    });
  });
}
