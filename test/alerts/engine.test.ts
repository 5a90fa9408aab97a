/**
 * The alert state machine on a real SQLite store and a ManualClock: `for`, `keep_firing_for`,
 * flapping, silences, maintenance windows, repeats, acknowledgement, routing and restarts. What
 * "was sent" is what the outbox holds: the sender is tested in test/notify.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine, type AlertEngineOptions, type AlertRule } from '../../src/alerts/engine.js';
import { MatcherSyntaxError, matches, parseMatcher } from '../../src/alerts/matchers.js';
import { windowActive } from '../../src/alerts/maintenance.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const webDown: AlertRule = {
  name: 'web-down',
  forMs: 3000,
  keepFiringForMs: 0,
  severity: 'page',
  labels: { team: 'lab' },
  annotations: {
    summary: '{{ $labels.check }} is down ({{ $value }} failures)',
    runbook_url: 'https://wiki.lab.test/web',
  },
};

describe('alert engine', () => {
  let dir: string;
  let clock: ManualClock;
  let store: SqliteStore;

  beforeEach(() => {
    dir = makeTempDir('alerts');
    clock = new ManualClock();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
  });
  afterEach(() => {
    store.close();
    removeTempDir(dir);
  });

  function engine(over: Partial<AlertEngineOptions> = {}): AlertEngine {
    return new AlertEngine({
      store: store.alerts,
      clock,
      rules: [webDown, { ...webDown, name: 'flappy', forMs: 0, keepFiringForMs: 5000 }],
      routes: [
        {
          matchers: [parseMatcher('severity="page"')],
          channels: ['pager', 'chat'],
          repeatIntervalMs: 0,
          continue: false,
        },
      ],
      defaultChannels: ['chat'],
      defaultRepeatIntervalMs: 0,
      maintenance: [],
      externalUrl: 'http://127.0.0.1:7070',
      ...over,
    });
  }

  const sent = (): { channel: string; status: unknown; key: string }[] =>
    store.outbox.listOutbox().map((r) => ({ channel: r.channel, status: r.payload.status, key: r.dedupKey }));

  const down = [{ labels: { check: 'web' }, value: 3 }];

  it('pending for `for`, then firing with one notification per routed channel; resolved once', async () => {
    const e = engine();
    expect(e.evaluate('web-down', down)).toMatchObject([{ from: 'inactive', to: 'pending', notified: [] }]);
    await clock.advance(2000);
    expect(e.evaluate('web-down', down)).toEqual([]);
    await clock.advance(1000);
    expect(e.evaluate('web-down', down)).toMatchObject([
      { from: 'pending', to: 'firing', notified: ['pager', 'chat'] },
    ]);
    expect(e.evaluate('web-down', down)).toEqual([]); // still firing: nothing new
    await clock.advance(1000);
    expect(e.evaluate('web-down', [])).toMatchObject([{ from: 'firing', to: 'resolved', notified: ['pager', 'chat'] }]);
    expect(sent().map((s) => `${s.channel}:${String(s.status)}`)).toEqual([
      'pager:firing',
      'chat:firing',
      'pager:resolved',
      'chat:resolved',
    ]);
    const firing = store.outbox.listOutbox()[0];
    expect(firing?.payload).toMatchObject({
      summary: 'web is down (3 failures)',
      labels: { alertname: 'web-down', check: 'web', severity: 'page', team: 'lab' },
      links: { runbook: 'https://wiki.lab.test/web' },
    });
    expect(String((firing?.payload.links as Record<string, string>).acknowledge)).toMatch(
      /^http:\/\/127\.0\.0\.1:7070\/v1\/alerts\/[0-9a-f]{16}\/ack$/,
    );
  });

  it('a condition that goes away before `for` never notifies', async () => {
    const e = engine();
    e.evaluate('web-down', down);
    await clock.advance(2000);
    expect(e.evaluate('web-down', [])).toMatchObject([{ from: 'pending', to: 'inactive' }]);
    expect(store.alerts.listAlerts()).toEqual([]);
    expect(sent()).toEqual([]);
  });

  it('a target that flaps every evaluation fires once and resolves once (keep_firing_for 5 s)', async () => {
    const e = engine();
    for (let i = 0; i < 30; i++) {
      e.evaluate('flappy', i % 2 === 0 ? down : []);
      await clock.advance(1000);
    }
    expect(store.alerts.listAlerts({ rule: 'flappy' })[0]?.state).toBe('firing');
    for (let i = 0; i < 6; i++) {
      e.evaluate('flappy', []);
      await clock.advance(1000);
    }
    expect(sent().map((s) => `${s.channel}:${String(s.status)}`)).toEqual([
      'pager:firing',
      'chat:firing',
      'pager:resolved',
      'chat:resolved',
    ]);
  });

  it('a silence suppresses sending, not state; its expiry sends the firing notification', async () => {
    const e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    const id = store.alerts.addSilence({
      matchers: [parseMatcher('check="web"')],
      startsAt: clock.now().toISOString(),
      endsAt: new Date(clock.now().getTime() + 3600_000).toISOString(),
      author: 'ana',
      comment: 'replacing the disk',
    });
    expect(e.evaluate('web-down', down)).toMatchObject([{ to: 'firing', notified: [], suppressedBy: `silence ${id}` }]);
    expect(store.alerts.listAlerts()[0]).toMatchObject({
      state: 'firing',
      suppressedBy: `silence ${id}`,
      notifiedAt: null,
    });
    expect(sent()).toEqual([]);
    await clock.advance(60_000);
    expect(e.tick()).toEqual([]);
    expect(store.alerts.expireSilence(id)).toBe(true);
    expect(store.alerts.expireSilence(id)).toBe(false);
    expect(e.tick()).toMatchObject([{ notified: ['pager', 'chat'], suppressedBy: null }]);
    expect(sent()).toHaveLength(2);
  });

  it('an alert silenced for its whole life sends neither firing nor resolved', async () => {
    const e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    store.alerts.addSilence({
      matchers: [parseMatcher('alertname=~"web-.*"')],
      startsAt: clock.now().toISOString(),
      endsAt: new Date(clock.now().getTime() + 3600_000).toISOString(),
      author: 'ana',
      comment: '',
    });
    e.evaluate('web-down', down);
    await clock.advance(10_000);
    expect(e.evaluate('web-down', [])).toMatchObject([{ to: 'resolved', notified: [] }]);
    expect(sent()).toEqual([]);
  });

  it('a weekly maintenance window in a time zone suppresses and is shown as such', () => {
    // 2026-12-01T09:00Z is a Tuesday, 10:00 in Berlin.
    const e = engine({
      rules: [{ ...webDown, forMs: 0 }],
      maintenance: [
        {
          name: 'patch-tuesday',
          matchers: [parseMatcher('team="lab"')],
          windows: [
            { kind: 'weekly', days: [2], fromMinute: 9 * 60 + 30, toMinute: 11 * 60, timeZone: 'Europe/Berlin' },
          ],
        },
      ],
    });
    expect(e.evaluate('web-down', down)).toMatchObject([{ suppressedBy: 'maintenance patch-tuesday' }]);
    expect(sent()).toEqual([]);
    const nightly = { kind: 'weekly' as const, days: [1], fromMinute: 23 * 60, toMinute: 60, timeZone: 'UTC' };
    expect(windowActive(nightly, new Date('2026-11-30T23:30:00Z'))).toBe(true); // Monday 23:30
    expect(windowActive(nightly, new Date('2026-12-01T00:30:00Z'))).toBe(true); // Tuesday 00:30, same window
    expect(windowActive(nightly, new Date('2026-12-01T01:30:00Z'))).toBe(false);
  });

  it('repeats while unacknowledged; an acknowledgement stops the repeats', async () => {
    const e = engine({
      rules: [{ ...webDown, forMs: 0 }],
      routes: [{ matchers: [], channels: ['pager'], repeatIntervalMs: 60_000, continue: false }],
    });
    e.evaluate('web-down', down);
    await clock.advance(30_000);
    e.evaluate('web-down', down);
    await clock.advance(30_000);
    e.evaluate('web-down', down);
    expect(sent()).toHaveLength(2);
    const fp = store.alerts.listAlerts()[0]?.fingerprint ?? '';
    expect(e.acknowledge(fp, 'ben')).toBe(true);
    await clock.advance(120_000);
    e.evaluate('web-down', down);
    e.tick();
    expect(sent()).toHaveLength(2);
    expect(store.alerts.tryGetAlert(fp)).toMatchObject({ ackedBy: 'ben', notifications: 2 });
  });

  it('state survives a restart: a reopened store and a new engine do not page again', async () => {
    let e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    e.evaluate('web-down', down);
    store.close();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    await clock.advance(5000);
    expect(e.evaluate('web-down', down)).toEqual([]);
    expect(sent()).toHaveLength(2);
  });

  it('routes: first match wins unless continue; unmatched alerts go to the default channels', () => {
    const e = engine({
      rules: [
        { ...webDown, forMs: 0 },
        { ...webDown, name: 'disk', forMs: 0, severity: 'ticket', labels: {} },
      ],
      routes: [
        { matchers: [parseMatcher('severity="page"')], channels: ['pager'], repeatIntervalMs: 0, continue: true },
        { matchers: [parseMatcher('team="lab"')], channels: ['chat'], repeatIntervalMs: 0, continue: false },
      ],
      defaultChannels: ['mail'],
    });
    e.evaluate('web-down', down);
    e.evaluate('disk', [{ labels: { mount: '/srv', team: 'other' }, value: 1 }]);
    expect(sent().map((s) => s.channel)).toEqual(['pager', 'chat', 'mail']);
  });

  it('matchers: Alertmanager syntax, anchored regexes, clear errors', () => {
    expect(matches({ service: 'webhook' }, [parseMatcher('service=~"web|api"')])).toBe(false);
    expect(matches({ service: 'web' }, [parseMatcher('service=~"web|api"')])).toBe(true);
    expect(matches({}, [parseMatcher('env!="prod"')])).toBe(true);
    expect(parseMatcher('note="say \\"hi\\""')).toEqual({ name: 'note', op: '=', value: 'say "hi"' });
    expect(() => parseMatcher('service')).toThrow(MatcherSyntaxError);
    expect(() => parseMatcher('service=~"("')).toThrow(/invalid regular expression/);
  });
});
