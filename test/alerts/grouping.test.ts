/**
 * Grouping with Alertmanager's semantics on a real SQLite store and a ManualClock: group_by,
 * group_wait, group_interval, repeat_interval; one outbox row per group notification carrying its
 * firing and resolved alerts; a reopened store (a daemon restart) neither repeats nor loses one.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine, type AlertEngineOptions, type AlertRule } from '../../src/alerts/engine.js';
import { parseMatcher } from '../../src/alerts/matchers.js';
import { alertmanagerBody } from '../../src/notify/channels/alertmanager.js';
import { notificationFromJson, plainText } from '../../src/notify/notification.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { alertsView } from '../../src/core/alerts-view.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const rule = (name: string, labels: Record<string, string> = {}): AlertRule => ({
  name,
  forMs: 0,
  keepFiringForMs: 0,
  severity: 'page',
  labels: { team: 'web', ...labels },
  annotations: { summary: `${name} is down` },
});

interface Sent {
  channel: string;
  key: string;
  status: string;
  alerts: string[];
}

describe('alert grouping', () => {
  let dir: string;
  let clock: ManualClock;
  let store: SqliteStore;

  beforeEach(() => {
    dir = makeTempDir('alert-groups');
    clock = new ManualClock();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  const rules = ['a', 'b', 'c', 'd'].map((n) => rule(n));

  function engine(over: Partial<AlertEngineOptions> = {}): AlertEngine {
    return new AlertEngine({
      store: store.alerts,
      clock,
      rules: [...rules, rule('db', { team: 'db' })],
      routes: [
        {
          matchers: [parseMatcher('severity="page"')],
          channels: ['pager'],
          repeatIntervalMs: 60_000,
          continue: false,
          grouping: { by: ['team'], waitMs: 2000, intervalMs: 10_000 },
        },
      ],
      defaultChannels: [],
      defaultRepeatIntervalMs: 0,
      maintenance: [],
      externalUrl: 'http://127.0.0.1:7070',
      ...over,
    });
  }

  const sent = async (): Promise<Sent[]> =>
    (await store.outbox.listOutbox()).map((r) => {
      const n = notificationFromJson(r.payload);
      return {
        channel: r.channel,
        key: r.dedupKey,
        status: n.status,
        alerts: (n.group?.alerts ?? []).map((a) => `${a.alert}:${a.status}`),
      };
    });

  const firing = [{ labels: {}, value: 1 }];

  /** One daemon evaluation: every rule with its condition, then repeats and group flushes. */
  async function round(e: AlertEngine, active: Set<string>): Promise<void> {
    for (const r of [...rules.map((x) => x.name), 'db']) await e.evaluate(r, active.has(r) ? firing : []);
    await e.tick();
    await e.flushGroups();
  }

  it('three alerts within group_wait are one notification; a fourth waits for group_interval', async () => {
    const e = engine();
    const active = new Set(['a']);
    await round(e, active);
    await clock.advance(500);
    active.add('b').add('c').add('db');
    await round(e, active);
    expect(await sent()).toEqual([]); // group_wait (2 s) has not passed
    await clock.advance(1500);
    await round(e, active);
    expect(await sent()).toEqual([
      {
        channel: 'pager',
        key: expect.stringMatching(/^group:[0-9a-f]{16}\//),
        status: 'firing',
        alerts: ['a:firing', 'b:firing', 'c:firing'],
      },
    ]);
    await clock.advance(500);
    await round(e, active);
    // The db team's group is its own: it waited its own group_wait from its first alert.
    expect((await sent()).map((s) => s.alerts)).toEqual([['a:firing', 'b:firing', 'c:firing'], ['db:firing']]);

    active.add('d');
    await round(e, active);
    await clock.advance(8000);
    await round(e, active);
    expect(await sent()).toHaveLength(2); // group_interval (10 s from the first) has not passed
    await clock.advance(1500);
    await round(e, active);
    expect((await sent())[2]?.alerts).toEqual(['a:firing', 'b:firing', 'c:firing', 'd:firing']);
    expect(new Set((await sent()).map((s) => s.key)).size).toBe(3);
  });

  it('resolved alerts go with the next notification of their group; a group of only resolved ones is the last', async () => {
    const e = engine();
    const active = new Set(['a', 'b']);
    await round(e, active);
    await clock.advance(2000);
    await round(e, active);
    active.delete('a');
    await round(e, active);
    expect(await sent()).toHaveLength(1);
    expect((await store.alerts.listAlerts({ rule: 'a' }))[0]?.state).toBe('resolved');
    await clock.advance(10_000);
    await round(e, active);
    expect((await sent())[1]).toMatchObject({ status: 'firing', alerts: ['b:firing', 'a:resolved'] });
    active.delete('b');
    await round(e, active);
    await clock.advance(10_000);
    await round(e, active);
    expect((await sent())[2]).toMatchObject({ status: 'resolved', alerts: ['b:resolved'] });
    await clock.advance(120_000);
    await round(e, active);
    expect(await sent()).toHaveLength(3); // nothing left in the group: no repeat, no further resolved
  });

  it('repeat_interval resends an unchanged group; an acknowledged group is not repeated', async () => {
    const e = engine();
    const active = new Set(['a']);
    await round(e, active);
    await clock.advance(2000);
    await round(e, active);
    await clock.advance(59_000);
    await round(e, active);
    expect(await sent()).toHaveLength(1);
    await clock.advance(1000);
    await round(e, active);
    expect((await sent()).map((s) => s.alerts)).toEqual([['a:firing'], ['a:firing']]);
    const fp = (await store.alerts.listAlerts({ rule: 'a' }))[0]?.fingerprint ?? '';
    expect(await e.acknowledge(fp, 'ana')).toBe(true);
    await clock.advance(120_000);
    await round(e, active);
    expect(await sent()).toHaveLength(2);
  });

  it('a restart (reopened store, new engine) neither repeats nor loses a group notification', async () => {
    let e = engine();
    const active = new Set(['a', 'b']);
    await round(e, active);
    await clock.advance(2000);
    await round(e, active);
    expect(await sent()).toHaveLength(1);
    store.closeNow();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    e = engine();
    await round(e, active);
    expect(await sent()).toHaveLength(1);
    active.delete('a');
    await round(e, active);
    store.closeNow();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    e = engine();
    await clock.advance(10_000);
    await round(e, active);
    await round(e, active);
    expect((await sent()).map((s) => s.alerts)).toEqual([
      ['a:firing', 'b:firing'],
      ['b:firing', 'a:resolved'],
    ]);
  });

  it('a route that starts grouping does not send again what was sent alone', async () => {
    const alone = engine({
      routes: [{ matchers: [], channels: ['pager'], repeatIntervalMs: 0, continue: false }],
    });
    const active = new Set(['a', 'b']);
    await round(alone, active);
    active.delete('a');
    await round(alone, active);
    expect(
      (await store.outbox.listOutbox()).map((r) => `${String(r.payload.alert)}:${String(r.payload.status)}`),
    ).toEqual(['a:firing', 'b:firing', 'a:resolved']);
    const grouped = engine();
    await clock.advance(30_000); // past group_interval (10 s), before repeat_interval (60 s)
    await round(grouped, active);
    expect(await store.outbox.listOutbox()).toHaveLength(3); // b was sent, a's resolution too: nothing is due
  });

  it("group_by ['...'] makes every alert its own group; a silenced alert is left out of its group", async () => {
    const e = engine({
      routes: [
        {
          matchers: [],
          channels: ['pager'],
          repeatIntervalMs: 0,
          continue: false,
          grouping: { by: 'all', waitMs: 0, intervalMs: 0 },
        },
      ],
    });
    await store.alerts.addSilence({
      matchers: [parseMatcher('alertname="c"')],
      startsAt: clock.now().toISOString(),
      endsAt: new Date(clock.now().getTime() + 3600_000).toISOString(),
      author: 'ana',
      comment: '',
    });
    await round(e, new Set(['a', 'b', 'c']));
    expect((await sent()).map((s) => s.alerts)).toEqual([['a:firing'], ['b:firing']]);
  });

  it('channels render the group: Alertmanager webhook v4, plain text; `alerts` shows who was told', async () => {
    const e = engine();
    const active = new Set(['a', 'b']);
    await round(e, active);
    await clock.advance(2000);
    await round(e, active);
    const row = (await store.outbox.listOutbox())[0];
    const n = notificationFromJson(row?.payload ?? {});
    const body = alertmanagerBody(n, { url: 'http://127.0.0.1:1/', receiver: 'ops' });
    expect(body).toMatchObject({
      version: '4',
      groupKey: '0:{team="web"}',
      status: 'firing',
      receiver: 'ops',
      groupLabels: { team: 'web' },
      commonLabels: { team: 'web', severity: 'page' },
      alerts: [
        { status: 'firing', labels: { alertname: 'a', team: 'web' }, annotations: { summary: 'a is down' } },
        { status: 'firing', labels: { alertname: 'b', team: 'web' } },
      ],
    });
    expect((body.commonLabels as Record<string, string>).alertname).toBeUndefined();
    const text = plainText(n);
    expect(text).toMatch(/^\[FIRING\] alerts: 2 firing for team=web\n/);
    expect(text).toContain('- [FIRING] a: a is down');
    expect(text).toMatch(/acknowledge: http:\/\/127\.0\.0\.1:7070\/v1\/alerts\/[0-9a-f]{16}\/ack/);
    const view = await alertsView(store, clock);
    expect(view.alerts.map((a) => a.deliveries.map((d) => `${d.channel} ${d.kind}`))).toEqual([
      ['pager firing'],
      ['pager firing'],
    ]);
  });
});
