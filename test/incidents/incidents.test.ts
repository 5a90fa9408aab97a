/**
 * Incidents and escalation on a real SQLite store and a ManualClock, with pages delivered by the
 * outbox sender to real HTTP receivers (one per contact): alert → incident → on-call person paged
 * → no acknowledgement → next step paged → acknowledge through the signed link → resolved when the
 * alert resolves → postmortem with the right time to acknowledge. A restart (the store reopened,
 * a new manager) between the first page and the escalation still escalates, once.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/engine.js';
import {
  IncidentManager,
  verifyAction,
  type AlertChange,
  type EscalationPolicy,
  type Person,
} from '../../src/incidents/incidents.js';
import { incidentStats, postmortemMarkdown } from '../../src/incidents/postmortem.js';
import type { Schedule } from '../../src/incidents/schedule.js';
import { WebhookChannel } from '../../src/notify/channels/webhook.js';
import { OutboxSender } from '../../src/notify/outbox.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { Receiver } from '../notify/receiver.js';

const SECRET = 'link-key-for-tests';
/** A paging alert of service web starting to fire. */
const WEB_DOWN: AlertChange = {
  fingerprint: 'f1',
  rule: 'web-down',
  to: 'firing',
  labels: { service: 'web', severity: 'page' },
  summary: 'web is down',
};
const MIN = 60_000;

const people = new Map<string, Person>([
  [
    'ana',
    {
      name: 'ana',
      rules: [
        { afterMs: 0, channel: 'ana/phone' },
        { afterMs: 2 * MIN, channel: 'ana/mail' },
      ],
    },
  ],
  ['ben', { name: 'ben', rules: [{ afterMs: 0, channel: 'ben/phone' }] }],
]);
const primary: Schedule = {
  name: 'primary',
  timeZone: 'Europe/Berlin',
  // 2026-12-01 is in ana's week (turns from Monday 2026-11-30 09:00).
  layers: [{ name: 'weekly', members: ['ana', 'ben'], turnHours: 168, start: '2026-11-30T09:00', restrictions: [] }],
  overrides: [],
};
const policy: EscalationPolicy = {
  name: 'default',
  steps: [
    { targets: [{ kind: 'schedule', name: 'primary' }], escalateAfterMs: 5 * MIN },
    { targets: [{ kind: 'person', name: 'ben' }], escalateAfterMs: 5 * MIN },
  ],
  repeat: 0,
};

describe('incidents and escalation', () => {
  let dir: string;
  let clock: ManualClock;
  let store: SqliteStore;
  const rx = new Map<string, Receiver>();
  const urls = new Map<string, string>();
  let sender: OutboxSender;

  beforeEach(async () => {
    dir = makeTempDir('incidents');
    clock = new ManualClock(new Date('2026-12-01T09:00:00Z'));
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    for (const c of ['ana/phone', 'ana/mail', 'ben/phone']) rx.set(c, new Receiver());
    for (const [name, r] of rx) urls.set(name, await r.start());
    sender = startSender();
  });

  function startSender(): OutboxSender {
    const channels = new Map([...urls].map(([name, url]) => [name, new WebhookChannel(name, { url })] as const));
    const s = new OutboxSender({ store: store.outbox, channels, clock });
    s.start();
    return s;
  }
  afterEach(async () => {
    await sender.stop();
    for (const r of rx.values()) await r.stop();
    rx.clear();
    store.closeNow();
    removeTempDir(dir);
  });

  function manager(): IncidentManager {
    return new IncidentManager({
      store: store.incidents,
      outbox: store.outbox,
      clock,
      people,
      schedules: new Map([['primary', primary]]),
      policies: new Map([['default', policy]]),
      defaultPolicy: 'default',
      pagingSeverities: ['page'],
      externalUrl: 'http://127.0.0.1:7070',
      linkSecret: SECRET,
    });
  }

  function alerts(): AlertEngine {
    return new AlertEngine({
      store: store.alerts,
      clock,
      rules: [
        {
          name: 'web-down',
          forMs: 0,
          keepFiringForMs: 0,
          severity: 'page',
          labels: {},
          annotations: { summary: 'web is down' },
        },
      ],
      routes: [],
      defaultChannels: [],
      defaultRepeatIntervalMs: 0,
      maintenance: [],
      externalUrl: 'http://127.0.0.1:7070',
    });
  }

  /** Feeds the alert engine's transitions to the incident manager, as the daemon does. */
  async function feed(m: IncidentManager, e: AlertEngine, active: boolean): Promise<void> {
    for (const t of await e.evaluate('web-down', active ? [{ labels: { service: 'web' }, value: 1 }] : [])) {
      const a = await store.alerts.tryGetAlert(t.fingerprint);
      await m.onAlert(
        { fingerprint: t.fingerprint, rule: t.rule, to: t.to, labels: a?.labels ?? {}, summary: 'web is down' },
        async () => (await store.alerts.listAlerts({ state: 'firing' })).length > 0,
      );
    }
  }

  async function minutes(n: number, m: IncidentManager): Promise<void> {
    for (let i = 0; i < n * 6; i++) {
      await clock.advance(10_000);
      await m.tick();
      sender.kick();
      await sender.idle();
    }
  }

  const count = (c: string): number => rx.get(c)?.received.length ?? 0;

  it('pages the on-call person, escalates without an ack, survives a restart, acks by link, resolves, writes the postmortem', async () => {
    let m = manager();
    let e = alerts();
    await feed(m, e, true);
    await minutes(1, m);
    expect([count('ana/phone'), count('ana/mail'), count('ben/phone')]).toEqual([1, 0, 0]);
    const page = JSON.parse(rx.get('ana/phone')?.received[0]?.body ?? '{}') as {
      notification: { summary: string; links: { acknowledge: string } };
    };
    expect(page.notification.summary).toBe('web is down');
    await minutes(2, m);
    expect(count('ana/mail')).toBe(1); // ana's second contact rule, 2 min after the page

    // The daemon is killed at minute 3 and comes back at minute 7: the escalation is due and happens once.
    await sender.stop();
    store.closeNow();
    await clock.advance(4 * MIN);
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    sender = startSender();
    m = manager();
    e = alerts();
    await minutes(1, m);
    await minutes(1, m);
    expect([count('ana/phone'), count('ana/mail'), count('ben/phone')]).toEqual([1, 1, 1]);

    // ben acknowledges through the signed link.
    const link = new URL(page.notification.links.acknowledge);
    const id = Number(link.pathname.split('/')[3]);
    expect(verifyAction(SECRET, 'ack', id, link.searchParams.get('sig') ?? '')).toBe(true);
    expect(verifyAction(SECRET, 'ack', id + 1, link.searchParams.get('sig') ?? '')).toBe(false);
    await m.acknowledge(id, 'ben');
    await minutes(10, m);
    expect([count('ana/phone'), count('ana/mail'), count('ben/phone')]).toEqual([1, 1, 1]);

    await m.note(id, 'ben', 'restarted the database');
    await m.recordChange('web', 'ben', 'deploy web v8 (applied)');
    await feed(m, e, false);
    await minutes(1, m);
    const inc = await store.incidents.tryGetIncident(id);
    expect(inc).toMatchObject({ status: 'resolved', resolvedBy: 'alerts', ackedBy: 'ben' });
    // Everyone paged hears it is over, on each channel they were paged on.
    expect([count('ana/phone'), count('ana/mail'), count('ben/phone')]).toEqual([2, 2, 2]);

    const timeline = await store.incidents.timeline(id);
    expect(timeline.map((t) => t.kind)).toEqual([
      'triggered',
      'alert',
      'policy',
      'notified',
      'notified',
      'escalated',
      'notified',
      'acknowledged',
      'note',
      'change',
      'alert',
      'resolved',
    ]);
    expect(timeline.find((t) => t.kind === 'escalated')?.at).toBe('2026-12-01T09:07:10.000Z');
    await store.incidents.addActionItem({
      incidentId: id,
      text: 'alert on pool exhaustion',
      owner: 'ben',
      due: '2026-12-15',
    });
    const md = postmortemMarkdown(
      inc ?? (undefined as never),
      timeline,
      [{ at: '2026-12-01T09:12:00.000Z', text: 'deploy web v8 (applied) by ben' }],
      await store.incidents.actionItems(id),
    );
    // Acknowledged at 09:09 (two minutes after the restart), 9 min after it opened.
    expect(md).toContain('- Time to acknowledge: 9 min (by ben)');
    expect(md).toContain('| escalated | escalation | no acknowledgement within 300 s: step 2 of default |');
    expect(md).toContain('paged ana (on call in primary) via ana/phone (step 1)');
    expect(md).toContain('- [ ] alert on pool exhaustion (owner: ben, due 2026-12-15)');
    expect(incidentStats(await store.incidents.listIncidents())).toEqual([
      {
        service: 'web',
        month: '2026-12',
        incidents: 1,
        acknowledged: 1,
        resolved: 1,
        mttaSeconds: 540,
        mttrSeconds: expect.any(Number),
      },
    ]);
  });

  it('acknowledging or resolving withdraws the pages not yet sent (queued, retrying, or failing in flight): the receivers get nothing', async () => {
    const m = manager();
    const fire = async (service: string): Promise<number | undefined> =>
      await m.onAlert(
        {
          fingerprint: `f-${service}`,
          rule: `${service}-down`,
          to: 'firing',
          labels: { service, severity: 'page' },
          summary: `${service} is down`,
        },
        () => false,
      );
    // #1: the page is queued and the sender has not looked yet (its next look is on the clock).
    const queued = (await fire('web')) as number;
    expect((await store.outbox.listOutbox({ status: 'pending' })).map((r) => r.channel)).toEqual(['ana/phone']);
    await m.acknowledge(queued, 'ana');
    expect(await store.outbox.listOutbox({ status: 'pending' })).toEqual([]);
    expect((await store.incidents.timeline(queued)).at(-1)?.text).toBe('1 page not yet sent withdrawn: ana/phone');

    // #2: ana's phone refuses the page, so it waits to retry; the acknowledgement withdraws the retry.
    const phone = rx.get('ana/phone') as Receiver;
    phone.down = true;
    const retrying = (await fire('db')) as number;
    sender.kick();
    await sender.idle();
    expect(phone.refused).toBe(1);
    expect(await store.outbox.listOutbox({ status: 'pending' })).toHaveLength(1);
    await m.resolve(retrying, 'ana');

    // #3: the page is in flight when ana acknowledges, and fails: its retry is withdrawn by the next tick.
    phone.delayMs = 300;
    const inFlight = (await fire('api')) as number;
    sender.kick();
    // kick claims synchronously: the request is on its way to the slow receiver.
    expect(await store.outbox.listOutbox({ status: 'sending' })).toHaveLength(1);
    await m.acknowledge(inFlight, 'ana');
    await sender.idle();
    expect(phone.refused).toBe(2);
    expect(await store.outbox.listOutbox({ status: 'pending' })).toHaveLength(1);
    await m.tick();
    expect(await store.outbox.listOutbox({ status: 'pending' })).toEqual([]);
    phone.down = false;
    phone.delayMs = 0;

    await minutes(10, m);
    // Nobody was paged, so nobody is told either incident is over.
    expect([count('ana/phone'), count('ana/mail'), count('ben/phone')]).toEqual([0, 0, 0]);
    expect(await store.outbox.listOutbox()).toEqual([]);
    expect((await store.incidents.timeline(retrying)).map((e) => e.kind)).toEqual([
      'triggered',
      'alert',
      'policy',
      'notified',
      'withdrawn',
      'resolved',
    ]);
  });
});

describe('a policy renamed while an incident is open', () => {
  it('stops the escalation with a timeline event said once, and resumes it when the policy is back', async () => {
    const dir = makeTempDir('incidents-policy');
    const clock = new ManualClock(new Date('2026-12-01T09:00:00Z'));
    const store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    try {
      const make = (policies: Map<string, EscalationPolicy>) =>
        new IncidentManager({
          store: store.incidents,
          outbox: store.outbox,
          clock,
          people,
          schedules: new Map([['primary', primary]]),
          policies,
          defaultPolicy: 'default',
          pagingSeverities: ['page'],
          externalUrl: 'http://127.0.0.1:7070',
          linkSecret: SECRET,
        });
      const id = (await make(new Map([['default', policy]])).onAlert(WEB_DOWN, () => false)) as number;
      expect((await store.incidents.queuedKeys(id)).size).toBe(1); // ana paged
      // Applied again with the policy renamed: past the step's timeout, nobody more is paged.
      let m = make(new Map([['renamed', { ...policy, name: 'renamed' }]]));
      for (let i = 0; i < 3; i++) {
        await clock.advance(5 * MIN);
        await m.tick();
      }
      m = make(new Map([['renamed', { ...policy, name: 'renamed' }]])); // another apply: still said once
      await m.tick();
      expect((await store.incidents.queuedKeys(id)).size).toBe(1);
      const stopped = (await store.incidents.timeline(id)).filter((e) => e.kind === 'escalation-stopped');
      expect(stopped.map((e) => e.text)).toEqual([
        'escalation stopped: policy `default` is no longer applied (renamed or removed), so nobody more is paged; acknowledge or assign the incident, or declare `default` again under oncall.escalation and apply to resume',
      ]);
      // `default` is declared again: escalation resumes, its step starting over from now.
      m = make(new Map([['default', policy]]));
      await m.tick();
      expect((await store.incidents.timeline(id)).at(-1)?.kind).toBe('escalation-resumed');
      expect((await store.incidents.queuedKeys(id)).size).toBe(1);
      await clock.advance(5 * MIN);
      await m.tick();
      expect((await store.incidents.tryGetIncident(id))?.step).toBe(1);
      expect(await store.incidents.queuedKeys(id)).toContain(`incident-${id}/loop0/step1/ben/0`);
    } finally {
      store.closeNow();
      removeTempDir(dir);
    }
  });
});

describe('a step that reaches nobody', () => {
  it('does not wait its timeout: the next step is paged at once, and the timeline says why', async () => {
    const dir = makeTempDir('incidents-nobody');
    const clock = new ManualClock(new Date('2026-12-01T09:00:00Z'));
    const store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    try {
      // The schedule covers only weekends: nobody is on call on this Tuesday.
      const weekends: Schedule = {
        ...primary,
        layers: [
          {
            name: 'weekend',
            members: ['ana'],
            turnHours: 168,
            start: '2026-11-30T09:00',
            restrictions: [{ days: [6, 7], fromMinute: 0, toMinute: 0 }],
          },
        ],
      };
      const m = new IncidentManager({
        store: store.incidents,
        outbox: store.outbox,
        clock,
        people,
        schedules: new Map([['primary', weekends]]),
        policies: new Map([['default', policy]]),
        defaultPolicy: 'default',
        pagingSeverities: ['page'],
        externalUrl: 'http://127.0.0.1:7070',
        linkSecret: SECRET,
      });
      const id = await m.onAlert(WEB_DOWN, () => false);
      expect(id).toBe(1);
      // No time has passed: step 2 (ben) is already being paged.
      expect((await store.incidents.tryGetIncident(1))?.step).toBe(1);
      const texts = (await store.incidents.timeline(1)).map((e) => e.text);
      expect(texts).toContain('nobody could be paged: step 2 of default');
      expect(await store.incidents.queuedKeys(1)).toEqual(new Set(['incident-1/loop0/step1/ben/0']));
    } finally {
      store.closeNow();
      removeTempDir(dir);
    }
  });
});
