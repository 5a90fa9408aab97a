/**
 * Which escalation policy a new incident follows, on a real SQLite store: the alert rule's
 * `escalation:`, else its service's, else the stack-wide default; with none of them, nobody is
 * paged and the timeline says so. The choice and its reason are on the timeline, and the incident
 * keeps its policy when a later alert of another rule joins it.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  IncidentManager,
  POLICY_CHOSEN,
  type AlertChange,
  type EscalationPolicy,
  type Person,
} from '../../src/incidents/incidents.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const person = (name: string): Person => ({ name, rules: [{ afterMs: 0, channel: `${name}/phone` }] });
const pagesPerson = (name: string, who: string): EscalationPolicy => ({
  name,
  steps: [{ targets: [{ kind: 'person', name: who }], escalateAfterMs: 300_000 }],
  repeat: 0,
});
const firing = (rule: string, labels: Record<string, string>): AlertChange => ({
  fingerprint: `${rule}-${labels.service ?? ''}`,
  rule,
  to: 'firing',
  labels: { severity: 'critical', ...labels },
  summary: `${rule} firing`,
});

describe('the escalation policy an incident follows', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: ManualClock;

  beforeEach(() => {
    dir = makeTempDir('policy-choice');
    clock = new ManualClock(new Date('2026-12-01T09:00:00Z'));
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  const manager = (defaultPolicy: string | undefined): IncidentManager =>
    new IncidentManager({
      store: store.incidents,
      outbox: store.outbox,
      clock,
      people: new Map(['ana', 'ben', 'cara'].map((n) => [n, person(n)])),
      schedules: new Map(),
      policies: new Map([
        ['web-team', pagesPerson('web-team', 'ana')],
        ['dba', pagesPerson('dba', 'ben')],
        ['default', pagesPerson('default', 'cara')],
      ]),
      defaultPolicy,
      servicePolicies: new Map([
        ['web', 'web-team'],
        ['db', 'dba'],
      ]),
      rulePolicies: new Map([['disk-full', 'dba']]),
      pagingSeverities: ['critical'],
      externalUrl: 'http://127.0.0.1:7070',
      linkSecret: 'k',
    });

  /** The policy, the reason on the timeline, and the channels paged, of incident `id`. */
  const said = async (id: number) => ({
    policy: (await store.incidents.tryGetIncident(id))?.policy,
    why: (await store.incidents.timeline(id)).find((e) => e.kind === POLICY_CHOSEN)?.text,
    paged: (await store.outbox.listOutbox())
      .filter((r) => r.dedupKey.startsWith(`incident-${id}/`))
      .map((r) => r.channel),
  });

  it('takes the rule’s, else the service’s, else the default, and says why', async () => {
    const m = manager('default');
    const still = () => false;
    const db = (await m.onAlert(firing('db-down', { service: 'db' }), still)) as number;
    const web = (await m.onAlert(firing('web-down', { service: 'web' }), still)) as number;
    const cache = (await m.onAlert(firing('cache-down', { service: 'cache' }), still)) as number;
    // disk-full names dba: on a service of its own it opens an incident that follows dba; on web,
    // whose incident is open, it joins that one, which keeps following web-team.
    const disk = (await m.onAlert(firing('disk-full', { service: 'files' }), still)) as number;
    const joined = await m.onAlert(firing('disk-full', { service: 'web' }), still);
    const noService = (await m.onAlert(firing('backup-late', {}), still)) as number;

    expect(await said(db)).toEqual({
      policy: 'dba',
      why: 'follows escalation policy `dba`: named by service `db` (services.db.escalation)',
      paged: ['ben/phone'],
    });
    expect(await said(web)).toEqual({
      policy: 'web-team',
      why: 'follows escalation policy `web-team`: named by service `web` (services.web.escalation)',
      paged: ['ana/phone'],
    });
    expect(await said(cache)).toEqual({
      policy: 'default',
      why: 'follows escalation policy `default`: the stack-wide default (oncall.policy, else the only policy), as neither alert rule `cache-down` nor service `cache` names one',
      paged: ['cara/phone'],
    });
    expect(await said(disk)).toEqual({
      policy: 'dba',
      why: 'follows escalation policy `dba`: named by alert rule `disk-full` (alerts.disk-full.escalation)',
      paged: ['ben/phone'],
    });
    expect(joined).toBe(web);
    expect((await said(web)).policy).toBe('web-team');
    expect((await said(web)).paged).toEqual(['ana/phone']);
    expect((await said(noService)).why).toBe(
      'follows escalation policy `default`: the stack-wide default (oncall.policy, else the only policy), as alert rule `backup-late` names none (and the alert has no service label)',
    );
  });

  it('with no policy named and no default, pages nobody and says so on the timeline', async () => {
    const m = manager(undefined);
    const id = (await m.onAlert(firing('cache-down', { service: 'cache' }), () => false)) as number;
    await m.tick();
    expect(await said(id)).toEqual({
      policy: null,
      why: 'follows no escalation policy, so nobody is paged: neither alert rule `cache-down` nor service `cache` names one, and there is no default; declare one under oncall.escalation and apply',
      paged: [],
    });
  });
});
