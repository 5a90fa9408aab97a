/**
 * A sender SIGKILLed in the middle of delivering: after a restart every notification arrives, in
 * order per alert, and a repeat is only ever the request that was in flight at the kill, carrying
 * the same idempotency key (so the receiver keeps exactly one of each).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../src/notify/notification.js';
import { enqueueNotification } from '../../src/notify/outbox.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { ensureBuilt, ROOT } from '../helpers/dist.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { Receiver } from './receiver.js';

function alert(i: number, status: 'firing' | 'resolved'): Notification {
  return {
    alert: 'api-down',
    fingerprint: `api-down/${i}`,
    status,
    severity: 'page',
    summary: `api ${i}`,
    description: '',
    labels: {},
    annotations: {},
    startsAt: '2026-12-01T09:00:00.000Z',
    endsAt: status === 'resolved' ? '2026-12-01T09:01:00.000Z' : null,
    links: {},
  };
}

describe('outbox sender killed mid-delivery', () => {
  const children: ChildProcess[] = [];
  let dir = '';
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL');
    if (dir) removeTempDir(dir);
  });

  async function startChild(db: string, url: string): Promise<ChildProcess> {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'test/notify/fixtures/outbox-sender.mjs'), path.join(ROOT, 'dist'), db, url],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`sender exited with ${code}`)));
    });
    return child;
  }

  it('nothing lost; a repeat only for the request in flight, with the same key', async () => {
    ensureBuilt();
    dir = makeTempDir('outbox-kill');
    const db = path.join(dir, 'state.db');
    const store = SqliteStore.open(db, systemClock);
    const rx = new Receiver();
    rx.delayMs = 60;
    const url = `${await rx.start()}/hook`;
    try {
      const first = await startChild(db, url);
      for (let i = 0; i < 10; i++) await enqueueNotification(store.outbox, ['hook'], alert(i, 'firing'), 'firing');
      for (let i = 0; i < 10; i++) await enqueueNotification(store.outbox, ['hook'], alert(i, 'resolved'), 'resolved');
      await waitFor(() => rx.received.length >= 6, { timeoutMs: 20_000, what: '6 notifications before the kill' });
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const beforeRestart = rx.received.length;
      await startChild(db, url);
      await waitFor(async () => (await store.outbox.listOutbox({ status: 'delivered' })).length === 20, {
        timeoutMs: 30_000,
        what: 'all 20 delivered after the restart',
      });
      const keys = rx.received.map((r) => String(r.headers['idempotency-key']));
      const unique = [...new Set(keys)];
      expect(unique).toHaveLength(20);
      // Repeats: at most the rows that were in flight at the kill (the sender sends up to 4 at once).
      expect(keys.length - unique.length).toBeLessThanOrEqual(4);
      expect(beforeRestart).toBeLessThan(20);
      // Order per alert, by first arrival.
      for (let i = 0; i < 10; i++) {
        const f = keys.indexOf(`api-down/${i}/firing`);
        const r = keys.indexOf(`api-down/${i}/resolved`);
        expect(f).toBeGreaterThanOrEqual(0);
        expect(r).toBeGreaterThan(f);
      }
    } finally {
      await rx.stop();
      store.closeNow();
    }
  }, 90_000);
});
