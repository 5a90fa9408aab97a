/**
 * AlertStore's contract: an alert and its notifications are written together or not at all;
 * concurrent saves of different alerts all land; silences start, list and expire. Through the
 * async contract only.
 */
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../src/model/resource.js';
import type { AlertRow, OutboxEnqueue, Store } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

function alert(fingerprint: string, over: Partial<AlertRow> = {}): AlertRow {
  return {
    fingerprint,
    rule: 'web-down',
    labels: { alertname: 'web-down', service: fingerprint },
    state: 'firing',
    activeAt: '2026-12-01T09:00:00.000Z',
    lastActiveAt: '2026-12-01T09:00:00.000Z',
    firedAt: '2026-12-01T09:00:00.000Z',
    resolvedAt: null,
    value: 1,
    notifiedAt: '2026-12-01T09:00:00.000Z',
    notifications: 1,
    suppressedBy: null,
    ackedAt: null,
    ackedBy: null,
    ...over,
  };
}

const page = (fingerprint: string, channel: string, payload: JsonObject = { status: 'firing' }): OutboxEnqueue => ({
  channel,
  stream: fingerprint,
  dedupKey: `${fingerprint}/firing`,
  payload,
});

export function describeAlertsContract(target: StoreTarget): void {
  describe(`alerts contract (${target.name})`, () => {
    let t: OpenedStore;
    let store: Store;

    openEach(target, (o) => {
      t = o;

      store = o.store;
    });

    it('saveAlert writes the alert and queues its notifications together', async () => {
      await store.alerts.saveAlert(alert('f1'), [page('f1', 'pager'), page('f1', 'chat')]);
      expect(await store.alerts.tryGetAlert('f1')).toEqual(alert('f1'));
      expect((await store.outbox.listOutbox()).map((r) => `${r.channel} ${r.dedupKey}`)).toEqual([
        'pager f1/firing',
        'chat f1/firing',
      ]);
    });

    it('saveAlert and saveAlerts with a notification that cannot be written change neither the alert nor the outbox', async () => {
      await store.alerts.saveAlert(
        alert('f1', { state: 'pending', firedAt: null, notifiedAt: null, notifications: 0 }),
        [],
      );
      // A payload that cannot be serialized fails the write half-way, after the alert row.
      const cyclic: JsonObject = { status: 'firing' };
      cyclic.self = cyclic;
      await expect(
        store.alerts.saveAlert(alert('f1'), [page('f1', 'ok'), page('f1', 'bad', cyclic)]),
      ).rejects.toThrow();
      await expect(
        store.alerts.saveAlerts([alert('f1'), alert('f2')], [page('f1', 'ok'), page('f2', 'bad', cyclic)]),
      ).rejects.toThrow();
      expect((await store.alerts.tryGetAlert('f1'))?.state).toBe('pending');
      expect(await store.alerts.tryGetAlert('f2')).toBeUndefined();
      expect(await store.outbox.listOutbox()).toEqual([]);
    });

    it('concurrent saves of different alerts, from two handles, all land', async () => {
      const other = await t.openAnother();
      const fps = Array.from({ length: 20 }, (_, i) => `f${i}`);
      await Promise.all(fps.map((fp, i) => (i % 2 ? other : store).alerts.saveAlert(alert(fp), [page(fp, 'pager')])));
      expect((await store.alerts.listAlerts({ state: 'firing' })).map((a) => a.fingerprint).sort()).toEqual(
        [...fps].sort(),
      );
      expect(await store.outbox.listOutbox()).toHaveLength(20);
      await store.alerts.deleteAlert('f0');
      expect(await store.alerts.tryGetAlert('f0')).toBeUndefined();
      expect(await store.alerts.listAlerts({ rule: 'other' })).toEqual([]);
    });

    it('silences are listed until expired; expiring twice says so', async () => {
      const id = await store.alerts.addSilence({
        matchers: [{ name: 'service', op: '=', value: 'web' }],
        startsAt: t.clock.now().toISOString(),
        endsAt: new Date(t.clock.now().getTime() + 3_600_000).toISOString(),
        author: 'ana',
        comment: 'deploy',
      });
      expect((await store.alerts.listSilences()).map((s) => [s.id, s.author])).toEqual([[id, 'ana']]);
      expect(await store.alerts.expireSilence(id)).toBe(true);
      expect(await store.alerts.expireSilence(id)).toBe(false);
      expect(await store.alerts.expireSilence(id + 100)).toBe(false);
    });
  });
}
