/**
 * The resources' contract: the serial moves only with what was applied (a step's upsert or
 * delete), never with runtime facts; readState pairs rows with their serial; updateOutputs is one
 * atomic edit, so concurrent edits of different instances are all kept.
 */
import { describe, expect, it } from 'vitest';
import type { Address, JsonObject } from '../../../src/model/resource.js';
import type { StepWrite, Store } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

const A = 'service.a' as Address;
const B = 'service.b' as Address;

function upsert(address: Address, outputs: JsonObject = {}): StepWrite {
  return { kind: 'upsert', row: { address, kind: 'service', spec: { image: 'x' }, outputs, dependsOn: [] } };
}

async function step(store: Store, write: StepWrite): Promise<number> {
  const id = await store.journal.beginChange({ kind: 'apply', author: 't', message: '', planHash: '', summary: {} });
  const serial = await store.journal.finishStep(await store.journal.startStep(id, A, 'create'), 'applied', write);
  await store.journal.finishChange(id, 'applied', { applied: 1 });
  return serial;
}

export function describeResourcesContract(target: StoreTarget): void {
  describe(`resources contract (${target.name})`, () => {
    let t: OpenedStore;
    let store: Store;
    openEach(target, (o) => {
      t = o;
      store = o.store;
    });

    it('bumps the serial for an upsert or a delete, not for a step that writes nothing or for runtime outputs', async () => {
      expect(await store.resources.serial()).toBe(0);
      expect(await step(store, upsert(A, { pid: 1 }))).toBe(1);
      expect(await step(store, upsert(B))).toBe(2);
      expect(await step(store, { kind: 'none' })).toBe(2);
      await store.resources.recordRuntimeOutputs(A, { pid: 2 });
      expect(await store.resources.updateOutputs(A, (o) => ({ ...o, port: 80 }))).toBe(true);
      expect(await store.resources.serial()).toBe(2);
      const a = await store.resources.tryGetResource(A);
      expect(a).toMatchObject({ address: A, kind: 'service', spec: { image: 'x' }, outputs: { pid: 2, port: 80 } });
      expect(a?.serial).toBe(1);
      expect(await step(store, { kind: 'delete', address: B })).toBe(3);
      expect(await store.resources.tryGetResource(B)).toBeUndefined();
      expect((await store.resources.listResources()).map((r) => r.address)).toEqual([A]);
    });

    it('readState returns the rows with the serial they belong to', async () => {
      expect(await store.resources.readState()).toEqual({ serial: 0, rows: [] });
      await step(store, upsert(B));
      await step(store, upsert(A));
      const other = await t.openAnother();
      const state = await store.resources.readState();
      expect(state.serial).toBe(2);
      expect(state.rows.map((r) => r.address)).toEqual([A, B]);
      expect(await other.resources.readState()).toEqual(state);
      expect(Math.max(...state.rows.map((r) => r.serial))).toBe(state.serial);
    });

    it('updateOutputs writes nothing for a missing resource or when the updater returns undefined', async () => {
      expect(await store.resources.updateOutputs(A, () => ({ x: 1 }))).toBe(false);
      expect(await store.resources.tryGetResource(A)).toBeUndefined();
      await step(store, upsert(A, { keep: true }));
      expect(await store.resources.updateOutputs(A, () => undefined)).toBe(false);
      expect((await store.resources.tryGetResource(A))?.outputs).toEqual({ keep: true });
    });

    it('keeps all of 50 concurrent edits of different instances of one resource', async () => {
      await step(store, upsert(A, { instances: [] }));
      const edits = Array.from({ length: 50 }, (_, i) =>
        store.resources.updateOutputs(A, (outputs) => {
          const instances = Array.isArray(outputs.instances) ? outputs.instances : [];
          return { ...outputs, instances: [...instances, { index: i }] };
        }),
      );
      expect(await Promise.all(edits)).toEqual(edits.map(() => true));
      const instances = (await store.resources.tryGetResource(A))?.outputs.instances;
      expect(Array.isArray(instances) ? instances.length : -1).toBe(50);
      expect(await store.resources.serial()).toBe(1);
    });
  });
}
