/**
 * IncidentStore's contract: one open incident per key, also when two alerts of the key fire at
 * the same moment (through the store, and through two incident managers on two handles, as the
 * daemon and a CLI have); a resolved key may open again. Through the async contract only.
 */
import { describe, expect, it } from 'vitest';
import { IncidentManager, type AlertChange } from '../../../src/incidents/incidents.js';
import type { IncidentRow, Store } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

function incident(key: string, at: string): Omit<IncidentRow, 'id'> {
  return {
    key,
    title: `${key} is down`,
    severity: 'page',
    service: null,
    status: 'triggered',
    createdAt: at,
    ackedAt: null,
    ackedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    assignee: null,
    policy: null,
    step: 0,
    loop: 0,
    stepStartedAt: at,
  };
}

function manager(store: Store, clock: OpenedStore['clock']): IncidentManager {
  return new IncidentManager({
    store: store.incidents,
    outbox: store.outbox,
    clock,
    people: new Map(),
    schedules: new Map(),
    policies: new Map(),
    defaultPolicy: undefined,
    pagingSeverities: ['page'],
    externalUrl: 'http://127.0.0.1:7070',
    linkSecret: 'k'.repeat(64),
  });
}

const firing = (rule: string): AlertChange => ({
  fingerprint: `fp-${rule}`,
  rule,
  to: 'firing',
  labels: { alertname: rule, service: 'web', severity: 'page' },
  summary: `${rule} fired`,
});

export function describeIncidentsContract(target: StoreTarget): void {
  describe(`incidents contract (${target.name})`, () => {
    let t: OpenedStore;
    let store: Store;

    openEach(target, (o) => {
      t = o;

      store = o.store;
    });

    it('concurrent openIncident of one key from two handles: one opens, the others join it', async () => {
      const other = await t.openAnother();
      const at = t.clock.now().toISOString();
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? other : store).incidents.openIncident(
            incident('service:web', at),
            [{ kind: 'triggered', actor: 'alerts', text: `opened by ${i}` }],
            [{ kind: 'alert', actor: 'alerts', text: `joined by ${i}` }],
          ),
        ),
      );
      expect(results.filter((r) => r.opened)).toHaveLength(1);
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      const id = results[0]?.id ?? -1;
      expect((await store.incidents.listIncidents()).map((i) => i.id)).toEqual([id]);
      const timeline = await store.incidents.timeline(id);
      expect(timeline.filter((e) => e.kind === 'triggered')).toHaveLength(1);
      expect(timeline.filter((e) => e.kind === 'alert')).toHaveLength(5);
      expect((await store.incidents.openIncidentByKey('service:web'))?.id).toBe(id);
    });

    it('a second open incident of a key is refused; once it is resolved the key may open again', async () => {
      const at = t.clock.now().toISOString();
      const first = await store.incidents.saveIncident(incident('service:db', at), [], []);
      await expect(store.incidents.saveIncident(incident('service:db', at), [], [])).rejects.toThrow();
      const row = await store.incidents.tryGetIncident(first);
      if (!row) throw new Error('the incident was not recorded');
      await store.incidents.saveIncident({ ...row, status: 'resolved', resolvedAt: at, resolvedBy: 'ana' }, [], []);
      const again = await store.incidents.openIncident(incident('service:db', at), [], []);
      expect(again.opened).toBe(true);
      expect(again.id).not.toBe(first);
      expect((await store.incidents.listIncidents({ status: 'triggered' })).map((i) => i.id)).toEqual([again.id]);
    });

    it('two alerts of one key firing at once through two incident managers on two handles: one incident', async () => {
      const other = await t.openAnother();
      const [a, b] = await Promise.all([
        manager(store, t.clock).onAlert(firing('web-down'), () => false),
        manager(other, t.clock).onAlert(firing('web-slow'), () => false),
      ]);
      expect(a).toBeDefined();
      expect(a).toBe(b);
      const open = await store.incidents.listIncidents({ status: 'triggered' });
      expect(open).toHaveLength(1);
      const said = (await store.incidents.timeline(open[0]?.id ?? -1)).map((e) => `${e.kind} ${e.text}`);
      expect(said.filter((s) => s.startsWith('triggered '))).toHaveLength(1);
      expect(said).toEqual(
        expect.arrayContaining(['alert web-down firing: web-down fired', 'alert web-slow firing: web-slow fired']),
      );
    });

    it('saveIncident appends events and queues notifications in one transaction; queuedKeys lists them', async () => {
      const at = t.clock.now().toISOString();
      const id = await store.incidents.saveIncident(
        incident('alert:disk', at),
        [{ kind: 'triggered', actor: 'alerts', text: 'opened' }],
        [],
      );
      const row = await store.incidents.tryGetIncident(id);
      if (!row) throw new Error('the incident was not recorded');
      await store.incidents.saveIncident(
        row,
        [{ kind: 'notified', actor: 'escalation', text: 'paged ana' }],
        [{ channel: 'ana/phone', stream: `incident-${id}`, dedupKey: `incident-${id}/loop0/step0/ana/0`, payload: {} }],
      );
      expect([...(await store.incidents.queuedKeys(id))]).toEqual([`incident-${id}/loop0/step0/ana/0`]);
      expect((await store.incidents.timeline(id)).map((e) => e.kind)).toEqual(['triggered', 'notified']);
    });
  });
}
