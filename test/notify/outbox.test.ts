/**
 * The durable outbox against a real HTTP receiver and a real SQLite file; the backoff runs on a
 * ManualClock, so "down for 60 s" takes no 60 s.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/notify/channel.js';
import { verifyWebhookSignature, WebhookChannel } from '../../src/notify/channels/webhook.js';
import type { Notification } from '../../src/notify/notification.js';
import { enqueueNotification, OutboxSender, retryDelayMs, DEFAULT_BACKOFF } from '../../src/notify/outbox.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { Receiver } from './receiver.js';

const SECRET = 'hook-signing-key';

function alert(i: number, status: 'firing' | 'resolved', at: Date): Notification {
  return {
    alert: 'web-down',
    fingerprint: `web-down/instance=${i}`,
    status,
    severity: 'page',
    summary: `instance ${i} answers 503`,
    description: '',
    labels: { service: 'web', instance: String(i) },
    annotations: {},
    startsAt: '2026-12-01T09:00:00.000Z',
    endsAt: status === 'resolved' ? at.toISOString() : null,
    links: { acknowledge: `http://127.0.0.1:7070/v1/alerts/web-down/ack?i=${i}` },
  };
}

interface Delivered {
  key: string;
  fingerprint: string;
  status: string;
}

function delivered(rx: Receiver, nowSeconds: number): Delivered[] {
  return rx.received.map((r) => {
    expect(verifyWebhookSignature(SECRET, String(r.headers['x-groundwork-signature']), r.body, nowSeconds, 3600)).toBe(
      true,
    );
    const body = JSON.parse(r.body) as {
      idempotencyKey: string;
      notification: { fingerprint: string; status: string };
    };
    expect(r.headers['idempotency-key']).toBe(body.idempotencyKey);
    return { key: body.idempotencyKey, fingerprint: body.notification.fingerprint, status: body.notification.status };
  });
}

describe('notification outbox', () => {
  let dir: string;
  let clock: ManualClock;
  let store: SqliteStore;
  let rx: Receiver;
  let url: string;
  let sender: OutboxSender | undefined;

  beforeEach(async () => {
    dir = makeTempDir('outbox');
    clock = new ManualClock();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    rx = new Receiver();
    url = await rx.start();
  });

  afterEach(async () => {
    await sender?.stop();
    sender = undefined;
    await rx.stop();
    store.closeNow();
    removeTempDir(dir);
  });

  function startSender(channels: Channel[]): OutboxSender {
    sender = new OutboxSender({ store: store.outbox, channels: new Map(channels.map((c) => [c.name, c])), clock });
    sender.start();
    return sender;
  }

  /** One second of the clock, then every send it started has finished. */
  async function tick(s: OutboxSender, ms = 1000): Promise<void> {
    await clock.advance(ms);
    await s.idle();
  }

  it('a channel down for 60 s while 10 alerts fire and resolve: afterwards each arrives exactly once, in order', async () => {
    const hook = new WebhookChannel('hook', { url: `${url}/hook`, secret: SECRET }, () =>
      Math.floor(clock.now().getTime() / 1000),
    );
    rx.down = true;
    const s = startSender([hook]);
    for (let i = 0; i < 10; i++)
      await enqueueNotification(store.outbox, ['hook'], alert(i, 'firing', clock.now()), 'firing');
    s.kick();
    await s.idle();
    for (let t = 0; t < 60; t++) {
      if (t === 30) {
        for (let i = 0; i < 10; i++) {
          await enqueueNotification(store.outbox, ['hook'], alert(i, 'resolved', clock.now()), 'resolved');
        }
        s.kick();
      }
      await tick(s);
    }
    expect(rx.received).toHaveLength(0);
    expect(rx.refused).toBeGreaterThan(10);
    const waiting = await store.outbox.listOutbox({ status: 'pending' });
    expect(waiting).toHaveLength(20);
    expect(waiting[0]?.lastError).toMatch(/^http:\/\/127\.0\.0\.1:\d+ answered HTTP 503: maintenance$/);
    // Backoff, not a hammering: 60 s of retries at 1, 2, 4, ... s is at most 7 attempts per row.
    for (const r of waiting) expect(r.attempts).toBeLessThanOrEqual(7);
    // A resolved notification never goes before its firing one: the stream's head is tried alone.
    for (const r of waiting.filter((w) => w.payload.status === 'resolved')) expect(r.attempts).toBe(0);

    rx.down = false;
    for (let t = 0; t < 600 && (await store.outbox.listOutbox({ status: 'delivered' })).length < 20; t++) await tick(s);

    const got = delivered(rx, Math.floor(clock.now().getTime() / 1000));
    expect(got).toHaveLength(20);
    expect(new Set(got.map((g) => g.key)).size).toBe(20);
    for (let i = 0; i < 10; i++) {
      const mine = got.filter((g) => g.fingerprint === `web-down/instance=${i}`).map((g) => g.status);
      expect(mine).toEqual(['firing', 'resolved']);
    }
    const rows = await store.outbox.listOutbox();
    expect(rows.every((r) => r.status === 'delivered' && r.lastError === null)).toBe(true);
    const first = rows[0];
    if (!first) throw new Error('no rows');
    const attempts = await store.outbox.attemptsOf(first.id);
    expect(attempts.at(-1)?.ok).toBe(true);
    expect(attempts.slice(0, -1).every((a) => !a.ok && a.detail.includes('HTTP 503'))).toBe(true);
  });

  it('the same event enqueued twice is one notification per channel', async () => {
    const n = alert(1, 'firing', clock.now());
    expect(await enqueueNotification(store.outbox, ['a', 'b'], n, 'firing')).toHaveLength(2);
    expect(await enqueueNotification(store.outbox, ['a', 'b'], n, 'firing')).toHaveLength(0);
    expect(await store.outbox.listOutbox()).toHaveLength(2);
  });

  it('a dead channel holds up only its own rows, and says why', async () => {
    const gone = new Receiver();
    const closed = await gone.start();
    await gone.stop(); // its port now refuses connections
    const dead = new WebhookChannel('dead', { url: `${closed}/x` });
    const live = new WebhookChannel('live', { url: `${url}/live`, secret: SECRET });
    const s = startSender([dead, live]);
    for (let i = 0; i < 3; i++)
      await enqueueNotification(store.outbox, ['dead', 'live'], alert(i, 'firing', clock.now()), 'f');
    s.kick();
    for (let t = 0; t < 5; t++) await tick(s);
    expect(rx.received).toHaveLength(3);
    const stuck = await store.outbox.listOutbox({ channel: 'dead' });
    expect(stuck.every((r) => r.status === 'pending' && r.attempts >= 1)).toBe(true);
    expect(stuck[0]?.lastError).toMatch(/refused the connection \(is the receiver running\?\)|answered HTTP/);
  });

  it('a stop in the middle of a send keeps the row, and the next start sends it with the same key', async () => {
    rx.delayMs = 300;
    const hook = new WebhookChannel('hook', { url: `${url}/hook` });
    const s = startSender([hook]);
    await enqueueNotification(store.outbox, ['hook'], alert(7, 'firing', clock.now()), 'firing');
    s.kick();
    await new Promise((r) => setTimeout(r, 50));
    await s.stop();
    expect(await store.outbox.listOutbox({ status: 'delivered' })).toHaveLength(0);
    rx.delayMs = 0;
    const again = startSender([hook]);
    for (let t = 0; t < 5 && (await store.outbox.listOutbox({ status: 'delivered' })).length === 0; t++)
      await tick(again);
    expect(await store.outbox.listOutbox({ status: 'delivered' })).toHaveLength(1);
    const keys = rx.received.map((r) => r.headers['idempotency-key']);
    // The receiver may have seen the interrupted request too (it answered after the stop); both carry one key.
    expect(new Set(keys)).toEqual(new Set(['web-down/instance=7/firing']));
  });

  it('delivered rows are pruned after the retention (a day here), pending ones never', async () => {
    const s = new OutboxSender({
      store: store.outbox,
      channels: new Map([['hook', new WebhookChannel('hook', { url: `${url}/hook` })]]),
      clock,
      pollMs: 60_000,
      keepDeliveredMs: 24 * 3_600_000,
    });
    sender = s;
    s.start();
    await enqueueNotification(store.outbox, ['hook'], alert(1, 'firing', clock.now()), 'firing');
    await enqueueNotification(store.outbox, ['gone'], alert(2, 'firing', clock.now()), 'firing');
    s.kick();
    await tick(s);
    expect(await store.outbox.listOutbox({ status: 'delivered' })).toHaveLength(1);
    await clock.advance(23 * 3_600_000);
    expect(await store.outbox.listOutbox({ status: 'delivered' })).toHaveLength(1);
    await clock.advance(2 * 3_600_000); // the hourly prune after the day has passed
    await s.idle();
    expect(await store.outbox.listOutbox({ status: 'delivered' })).toHaveLength(0);
    expect(await store.outbox.listOutbox({ status: 'pending' })).toHaveLength(1);
  });

  it('retry delays double from 1 s up to 5 min, spread by ±20%', () => {
    const d = [1, 2, 3, 10, 20].map((a) => retryDelayMs(DEFAULT_BACKOFF, 42, a));
    expect(d[0]).toBeGreaterThanOrEqual(800);
    expect(d[0]).toBeLessThan(1200);
    expect(d[1]).toBeGreaterThanOrEqual(1600);
    expect(d[2]).toBeGreaterThanOrEqual(3200);
    expect(d[3]).toBeLessThan(360_000);
    expect(d[4]).toBeGreaterThanOrEqual(240_000);
  });
});
