/**
 * The alert state machine on a real SQLite store and a ManualClock: `for`, `keep_firing_for`,
 * flapping, silences, maintenance windows, repeats, acknowledgement, routing and restarts. What
 * "was sent" is what the outbox holds: the sender is tested in test/notify.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { AlertEngine, LAST_ACTIVE_SAVE_MS, type AlertEngineOptions, type AlertRule } from '../../src/alerts/engine.js';
import { MatcherSyntaxError, matches, parseMatcher } from '../../src/alerts/matchers.js';
import { windowActive } from '../../src/alerts/maintenance.js';
import { OutboxSender } from '../../src/notify/outbox.js';
import { WebhookChannel } from '../../src/notify/channels/webhook.js';
import { Redactor } from '../../src/security/redact.js';
import type { AlertStore } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { Receiver } from '../notify/receiver.js';
import { waitFor } from '../helpers/wait.js';
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
    store.closeNow();
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

  const sent = async (): Promise<{ channel: string; status: unknown; key: string }[]> =>
    (await store.outbox.listOutbox()).map((r) => ({ channel: r.channel, status: r.payload.status, key: r.dedupKey }));

  const down = [{ labels: { check: 'web' }, value: 3 }];

  it('pending for `for`, then firing with one notification per routed channel; resolved once', async () => {
    const e = engine();
    expect(await e.evaluate('web-down', down)).toMatchObject([{ from: 'inactive', to: 'pending', notified: [] }]);
    await clock.advance(2000);
    expect(await e.evaluate('web-down', down)).toEqual([]);
    await clock.advance(1000);
    expect(await e.evaluate('web-down', down)).toMatchObject([
      { from: 'pending', to: 'firing', notified: ['pager', 'chat'] },
    ]);
    expect(await e.evaluate('web-down', down)).toEqual([]); // still firing: nothing new
    await clock.advance(1000);
    expect(await e.evaluate('web-down', [])).toMatchObject([
      { from: 'firing', to: 'resolved', notified: ['pager', 'chat'] },
    ]);
    expect((await sent()).map((s) => `${s.channel}:${String(s.status)}`)).toEqual([
      'pager:firing',
      'chat:firing',
      'pager:resolved',
      'chat:resolved',
    ]);
    const firing = (await store.outbox.listOutbox())[0];
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
    await e.evaluate('web-down', down);
    await clock.advance(2000);
    expect(await e.evaluate('web-down', [])).toMatchObject([{ from: 'pending', to: 'inactive' }]);
    expect(await store.alerts.listAlerts()).toEqual([]);
    expect(await sent()).toEqual([]);
  });

  it('a target that flaps every evaluation fires once and resolves once (keep_firing_for 5 s)', async () => {
    const e = engine();
    for (let i = 0; i < 30; i++) {
      await e.evaluate('flappy', i % 2 === 0 ? down : []);
      await clock.advance(1000);
    }
    expect((await store.alerts.listAlerts({ rule: 'flappy' }))[0]?.state).toBe('firing');
    for (let i = 0; i < 6; i++) {
      await e.evaluate('flappy', []);
      await clock.advance(1000);
    }
    expect((await sent()).map((s) => `${s.channel}:${String(s.status)}`)).toEqual([
      'pager:firing',
      'chat:firing',
      'pager:resolved',
      'chat:resolved',
    ]);
  });

  it('a silence suppresses sending, not state; its expiry sends the firing notification', async () => {
    const e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    const id = await store.alerts.addSilence({
      matchers: [parseMatcher('check="web"')],
      startsAt: clock.now().toISOString(),
      endsAt: new Date(clock.now().getTime() + 3600_000).toISOString(),
      author: 'ana',
      comment: 'replacing the disk',
    });
    expect(await e.evaluate('web-down', down)).toMatchObject([
      { to: 'firing', notified: [], suppressedBy: `silence ${id}` },
    ]);
    expect((await store.alerts.listAlerts())[0]).toMatchObject({
      state: 'firing',
      suppressedBy: `silence ${id}`,
      notifiedAt: null,
    });
    expect(await sent()).toEqual([]);
    await clock.advance(60_000);
    expect(await e.tick()).toEqual([]);
    expect(await store.alerts.expireSilence(id)).toBe(true);
    expect(await store.alerts.expireSilence(id)).toBe(false);
    expect(await e.tick()).toMatchObject([{ notified: ['pager', 'chat'], suppressedBy: null }]);
    expect(await sent()).toHaveLength(2);
  });

  it('an alert silenced for its whole life sends neither firing nor resolved', async () => {
    const e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    await store.alerts.addSilence({
      matchers: [parseMatcher('alertname=~"web-.*"')],
      startsAt: clock.now().toISOString(),
      endsAt: new Date(clock.now().getTime() + 3600_000).toISOString(),
      author: 'ana',
      comment: '',
    });
    await e.evaluate('web-down', down);
    await clock.advance(10_000);
    expect(await e.evaluate('web-down', [])).toMatchObject([{ to: 'resolved', notified: [] }]);
    expect(await sent()).toEqual([]);
  });

  it('a weekly maintenance window in a time zone suppresses and is shown as such', async () => {
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
    expect(await e.evaluate('web-down', down)).toMatchObject([{ suppressedBy: 'maintenance patch-tuesday' }]);
    expect(await sent()).toEqual([]);
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
    await e.evaluate('web-down', down);
    await clock.advance(30_000);
    await e.evaluate('web-down', down);
    await clock.advance(30_000);
    await e.evaluate('web-down', down);
    expect(await sent()).toHaveLength(2);
    const fp = (await store.alerts.listAlerts())[0]?.fingerprint ?? '';
    expect(await e.acknowledge(fp, 'ben')).toBe(true);
    await clock.advance(120_000);
    await e.evaluate('web-down', down);
    await e.tick();
    expect(await sent()).toHaveLength(2);
    expect(await store.alerts.tryGetAlert(fp)).toMatchObject({ ackedBy: 'ben', notifications: 2 });
  });

  it('state survives a restart: a reopened store and a new engine do not page again', async () => {
    let e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    await e.evaluate('web-down', down);
    store.closeNow();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    e = engine({ rules: [{ ...webDown, forMs: 0 }] });
    await clock.advance(5000);
    expect(await e.evaluate('web-down', down)).toEqual([]);
    expect(await sent()).toHaveLength(2);
  });

  it('routes: first match wins unless continue; unmatched alerts go to the default channels', async () => {
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
    await e.evaluate('web-down', down);
    await e.evaluate('disk', [{ labels: { mount: '/srv', team: 'other' }, value: 1 }]);
    expect((await sent()).map((s) => s.channel)).toEqual(['pager', 'chat', 'mail']);
  });

  it('matchers: Alertmanager syntax, anchored regexes, clear errors', async () => {
    expect(matches({ service: 'webhook' }, [parseMatcher('service=~"web|api"')])).toBe(false);
    expect(matches({ service: 'web' }, [parseMatcher('service=~"web|api"')])).toBe(true);
    expect(matches({}, [parseMatcher('env!="prod"')])).toBe(true);
    expect(parseMatcher('note="say \\"hi\\""')).toEqual({ name: 'note', op: '=', value: 'say "hi"' });
    expect(() => parseMatcher('service')).toThrow(MatcherSyntaxError);
    expect(() => parseMatcher('service=~"("')).toThrow(/invalid regular expression/);
  });

  it('writes an alert row only when something changed, not on every evaluation or tick', async () => {
    let saves = 0;
    const real = store.alerts;
    // The real store underneath; only saveAlert is counted.
    const counting: AlertStore = {
      ...real,
      saveAlert: (...args: Parameters<AlertStore['saveAlert']>) => {
        saves++;
        return real.saveAlert(...args);
      },
    };
    const e = engine({ store: counting, rules: [{ ...webDown, forMs: 2000 }] });
    await e.evaluate('web-down', down); // new → pending
    expect(saves).toBe(1);
    for (let i = 0; i < 10; i++) {
      await clock.advance(100);
      await e.evaluate('web-down', down);
      await e.tick();
    }
    expect(saves).toBe(1); // still pending, same value: nothing to write
    await clock.advance(1000);
    await e.evaluate('web-down', down); // pending → firing, with its notifications
    expect(saves).toBe(2);
    for (let i = 0; i < 20; i++) {
      await clock.advance(1000);
      await e.evaluate('web-down', down);
      await e.tick();
    }
    expect(saves).toBe(2);
    await e.evaluate('web-down', [{ labels: { check: 'web' }, value: 4 }]); // the value changed
    expect(saves).toBe(3);
    await clock.advance(LAST_ACTIVE_SAVE_MS);
    await e.evaluate('web-down', [{ labels: { check: 'web' }, value: 4 }]); // lastActiveAt heartbeat
    expect(saves).toBe(4);
    await e.tick();
    await e.evaluate('web-down', []); // resolved
    expect(saves).toBe(5);
    expect((await sent()).map((s) => String(s.status))).toEqual(['firing', 'firing', 'resolved', 'resolved']);
  });

  it('keep_firing_for counts from the last active evaluation even though it was not written', async () => {
    const lastActive = new Map<string, number>();
    let e = engine({ rules: [{ ...webDown, forMs: 0, keepFiringForMs: 10_000 }], lastActive });
    await e.evaluate('web-down', down);
    await clock.advance(30_000);
    await e.evaluate('web-down', down); // row not written (nothing changed), memory says active now
    // The daemon rebuilds the engine on apply; the memory is shared, so nothing resolves early.
    e = engine({ rules: [{ ...webDown, forMs: 0, keepFiringForMs: 10_000 }], lastActive });
    await clock.advance(5000);
    expect(await e.evaluate('web-down', [])).toEqual([]);
    await clock.advance(5000);
    expect(await e.evaluate('web-down', [])).toMatchObject([{ to: 'resolved' }]);
  });

  it('a secret value in a label or annotation never reaches the outbox table nor a receiver', async () => {
    const secret = 'hunter2-s3cr3t-value';
    const rx = new Receiver();
    const url = await rx.start();
    try {
      const redactor = new Redactor([{ name: 'db-password', value: secret }]);
      const e = engine({
        rules: [
          {
            ...webDown,
            forMs: 0,
            annotations: { summary: 'cannot log in with {{ $labels.dsn }}', description: `pw ${secret}` },
          },
        ],
        routes: [{ matchers: [], channels: ['hook'], repeatIntervalMs: 0, continue: false }],
        redactor: () => redactor,
      });
      await e.evaluate('web-down', [{ labels: { check: 'db', dsn: `postgres://app:${secret}@db/app` }, value: 1 }]);
      const sender = new OutboxSender({
        store: store.outbox,
        channels: new Map([['hook', new WebhookChannel('hook', { url: `${url}/hook` })]]),
        clock,
      });
      sender.start();
      await waitFor(() => rx.received.length === 1, { what: 'the notification', timeoutMs: 5000, intervalMs: 10 });
      await sender.stop();
      const body = rx.received[0]?.body ?? '';
      expect(body).toContain('[secret:db-password]');
      expect(body).not.toContain(secret);
      expect(JSON.stringify(rx.received[0]?.headers)).not.toContain(secret);
      // Read the table as stored, not through the store's API.
      const raw = new Database(path.join(dir, 'state.db'), { readonly: true });
      try {
        const rows = raw.prepare('SELECT * FROM outbox').all();
        expect(rows).toHaveLength(1);
        expect(JSON.stringify(rows)).toContain('[secret:db-password]');
        expect(JSON.stringify(rows)).not.toContain(secret);
      } finally {
        raw.close();
      }
    } finally {
      await rx.stop();
    }
  });

  it('inhibition: a firing source holds back targets with equal labels; its resolution sends them', async () => {
    const hostDown: AlertRule = { ...webDown, name: 'host-down', forMs: 0, severity: 'critical', labels: {} };
    const e = engine({
      rules: [{ ...webDown, forMs: 0 }, hostDown],
      routes: [{ matchers: [], channels: ['pager'], repeatIntervalMs: 0, continue: false }],
      inhibit: [
        {
          sourceMatchers: [parseMatcher('alertname="host-down"')],
          targetMatchers: [parseMatcher('severity="page"')],
          equal: ['host'],
        },
      ],
    });
    expect(await e.evaluate('host-down', [{ labels: { host: 'nas' }, value: 1 }])).toMatchObject([
      { to: 'firing', notified: ['pager'], suppressedBy: null },
    ]);
    const source = (await store.alerts.listAlerts({ rule: 'host-down' }))[0];
    const t = await e.evaluate('web-down', [
      { labels: { check: 'web', host: 'nas' }, value: 1 },
      { labels: { check: 'api', host: 'pi' }, value: 1 }, // another host: not inhibited
    ]);
    expect(t.map((x) => `${x.labels.check} ${x.suppressedBy ?? 'sent'}`)).toEqual([
      `web inhibited by host-down ${source?.fingerprint}`,
      'api sent',
    ]);
    expect(
      (await sent()).map((s) => `${s.status} ${s.key.split('/')[0] === source?.fingerprint ? 'host' : 'web'}`),
    ).toEqual(['firing host', 'firing web']);
    await clock.advance(1000);
    await e.evaluate('host-down', []); // the source resolves
    expect(await e.tick()).toMatchObject([{ labels: { check: 'web' }, notified: ['pager'], suppressedBy: null }]);
    expect((await sent()).map((s) => String(s.status))).toEqual(['firing', 'firing', 'resolved', 'firing']);
  });
});
