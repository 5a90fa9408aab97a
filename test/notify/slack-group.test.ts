/**
 * Slack's rendering of a group notification, end to end from the alert engine: a grouped route
 * on a real SQLite store queues the group's outbox row, the row's payload is read back as the
 * sender reads it, and the Slack channel posts it to a fake of Slack's incoming webhook (a real
 * HTTP server that refuses what Slack refuses: see fake-slack-webhook.ts).
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine, type AlertRule } from '../../src/alerts/engine.js';
import { parseMatcher } from '../../src/alerts/matchers.js';
import type { DeliveryContext } from '../../src/notify/channel.js';
import { SlackChannel } from '../../src/notify/channels/slack.js';
import { notificationFromJson, type Notification } from '../../src/notify/notification.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { FakeSlackWebhook, type SlackMessage } from './fake-slack-webhook.js';

const rule = (name: string, summary: string): AlertRule => ({
  name,
  forMs: 0,
  keepFiringForMs: 0,
  severity: 'page',
  labels: { team: 'web' },
  annotations: { summary },
});

const ctx = (key: string): DeliveryContext => ({
  idempotencyKey: key,
  attempt: 1,
  signal: new AbortController().signal,
});

/** Every mrkdwn text of the message, in order. */
const texts = (m: SlackMessage | undefined): string[] =>
  (m?.blocks ?? []).flatMap((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e) => e.text)]);

describe('Slack: a group notification', () => {
  let dir: string;
  let clock: ManualClock;
  let store: SqliteStore;
  const slack = new FakeSlackWebhook();
  let url: string;

  beforeEach(async () => {
    dir = makeTempDir('slack-group');
    clock = new ManualClock();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    url = await slack.start();
    slack.messages.length = 0;
    slack.refusals.length = 0;
    posted.clear();
  });
  afterEach(async () => {
    await slack.stop();
    store.closeNow();
    removeTempDir(dir);
  });

  function engine(rules: AlertRule[]): AlertEngine {
    return new AlertEngine({
      store: store.alerts,
      clock,
      rules,
      routes: [
        {
          matchers: [parseMatcher('team="web"')],
          channels: ['chat'],
          repeatIntervalMs: 0,
          continue: false,
          grouping: { by: ['team'], waitMs: 1000, intervalMs: 1000 },
        },
      ],
      defaultChannels: [],
      defaultRepeatIntervalMs: 0,
      maintenance: [],
      externalUrl: 'http://127.0.0.1:7070',
    });
  }

  const posted = new Set<number>();
  /** The group rows queued since the last call, as the sender reads them, posted to the fake Slack. */
  async function deliverAll(): Promise<Notification[]> {
    const rows = (await store.outbox.listOutbox({ status: 'pending' })).filter((r) => !posted.has(r.id));
    const channel = new SlackChannel('chat', { url });
    const out: Notification[] = [];
    for (const r of rows) {
      const n = notificationFromJson(r.payload);
      await channel.deliver(n, ctx(r.dedupKey));
      posted.add(r.id);
      out.push(n);
    }
    return out;
  }

  it('lists each alert with the labels that tell it apart, its status and its own acknowledge link', async () => {
    const slow = rule('slow', 'answers in {{ $value }} s');
    const down = rule('down', 'web answers <503> & more');
    const e = engine([slow, down]);
    await e.evaluate('slow', [
      { labels: { check: 'a' }, value: 0.7 },
      { labels: { check: 'b' }, value: 0.9 },
    ]);
    await e.evaluate('down', [{ labels: {}, value: 1 }]);
    await clock.advance(1000);
    await e.flushGroups();
    const [first] = await deliverAll();
    expect(slack.refusals).toEqual([]);
    const m = slack.messages[0];
    expect(m?.text).toBe(':red_circle: [FIRING] alerts: 3 firing for team=web');
    const all = texts(m).join('\n');
    // Two alerts of one rule differ only in their labels: each line says which one it is.
    expect(all).toContain('• [FIRING] slow: answers in 0.7 s (check=a)');
    expect(all).toContain('• [FIRING] slow: answers in 0.9 s (check=b)');
    // Slack's three mrkdwn characters are escaped in text, not in links.
    expect(all).toContain('• [FIRING] down: web answers &lt;503&gt; &amp; more');
    for (const a of first?.group?.alerts ?? []) expect(all).toContain(`<${a.links.acknowledge ?? ''}|Acknowledge>`);
    expect(all).toContain('<http://127.0.0.1:7070/v1/silences/new?matcher=team%3D%22web%22|Silence>');

    // One alert resolves: the next notification marks it resolved, without an acknowledge link.
    await e.evaluate('slow', [{ labels: { check: 'a' }, value: 0.7 }]);
    await clock.advance(1000);
    await e.flushGroups();
    await deliverAll();
    const next = texts(slack.messages[1]).join('\n');
    expect(slack.messages[1]?.text).toBe(':red_circle: [FIRING] alerts: 2 firing, 1 resolved for team=web');
    const resolvedLine = next.split('\n').find((l) => l.includes('[RESOLVED] slow'));
    expect(resolvedLine).toBe('• [RESOLVED] slow: answers in 0.9 s (check=b)');
  });

  it('a group too large for one Slack message is cut to what Slack accepts, saying how many were left out', async () => {
    const many = rule('disk', `${'the disk of this host is almost full and needs attention '.repeat(8)}`);
    const e = engine([many]);
    await e.evaluate(
      'disk',
      Array.from({ length: 250 }, (_v, i) => ({ labels: { host: `host-${String(i).padStart(3, '0')}` }, value: 1 })),
    );
    await clock.advance(1000);
    await e.flushGroups();
    await deliverAll();
    // Slack accepted it (before, a 3000-character section limit made it refuse, and the outbox would retry forever).
    expect(slack.refusals).toEqual([]);
    const all = texts(slack.messages[0]);
    const listed = all
      .join('\n')
      .split('\n')
      .filter((l) => l.startsWith('• [FIRING] disk'));
    expect(listed.length).toBeGreaterThan(20);
    expect(listed.length).toBeLessThan(250);
    expect(all.join('\n')).toContain(`… and ${250 - listed.length} more (see Details)`);
  });
});
