/**
 * The notification outbox in the state database: the synchronous core behind the store's async
 * OutboxStore (store.ts; SqliteStore wraps it with asyncFacade). Same connection as the rest of
 * the store, so the alerts and incidents cores call it inside their own transactions and an
 * alert's state change and its rows commit in one transaction.
 */
import type Database from 'better-sqlite3';
import type { JsonObject } from '../../model/resource.js';
import type { Clock } from '../../util/clock.js';
import type { OutboxAttempt, OutboxEnqueue, OutboxRow, OutboxStatus } from '../store.js';

interface OutboxDbRow {
  id: number;
  channel: string;
  stream: string;
  dedup_key: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

interface AttemptDbRow {
  id: number;
  notification_id: number;
  at: string;
  ok: number;
  detail: string;
  duration_ms: number;
}

function toRow(r: OutboxDbRow): OutboxRow {
  return {
    id: r.id,
    channel: r.channel,
    stream: r.stream,
    dedupKey: r.dedup_key,
    payload: JSON.parse(r.payload) as JsonObject,
    status: r.status as OutboxStatus,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

export class SqliteOutbox {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {}

  private now(): string {
    return this.clock.now().toISOString();
  }

  enqueue(rows: OutboxEnqueue[]): number[] {
    const insert = this.db.prepare(
      `INSERT INTO outbox (channel, stream, dedup_key, payload, status, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (channel, dedup_key) DO NOTHING`,
    );
    return this.db.transaction(() => {
      const now = this.now();
      const ids: number[] = [];
      for (const r of rows) {
        const res = insert.run(r.channel, r.stream, r.dedupKey, JSON.stringify(r.payload), now, now);
        if (res.changes > 0) ids.push(Number(res.lastInsertRowid));
      }
      return ids;
    })();
  }

  claimDue(limit: number, busy: ReadonlySet<string>): OutboxRow[] {
    return this.db
      .transaction(() => {
        // The head of each (channel, stream): the oldest row not yet delivered. Only a due head is
        // sent, so a later notification of an alert never overtakes an earlier one.
        const heads = this.db
          .prepare(
            `SELECT o.* FROM outbox o
             JOIN (SELECT MIN(id) AS id FROM outbox WHERE status != 'delivered' GROUP BY channel, stream) h ON h.id = o.id
             WHERE o.status = 'pending' AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.id`,
          )
          .all(this.now()) as OutboxDbRow[];
        const claimed: OutboxRow[] = [];
        const mark = this.db.prepare(`UPDATE outbox SET status = 'sending' WHERE id = ?`);
        for (const h of heads) {
          if (claimed.length >= limit) break;
          if (busy.has(`${h.channel}\u0000${h.stream}`)) continue;
          mark.run(h.id);
          claimed.push(toRow({ ...h, status: 'sending' }));
        }
        return claimed;
      })
      .immediate();
  }

  finishAttempt(
    id: number,
    result: { ok: true } | { ok: false; error: string; retryAt: Date },
    durationMs: number,
  ): void {
    this.db.transaction(() => {
      const now = this.now();
      this.db
        .prepare('INSERT INTO outbox_attempts (notification_id, at, ok, detail, duration_ms) VALUES (?, ?, ?, ?, ?)')
        .run(id, now, result.ok ? 1 : 0, result.ok ? 'delivered' : result.error, Math.round(durationMs));
      if (result.ok) {
        this.db
          .prepare(
            `UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?`,
          )
          .run(now, id);
      } else {
        this.db
          .prepare(
            `UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?`,
          )
          .run(result.error, result.retryAt.toISOString(), id);
      }
    })();
  }

  recoverSending(): number {
    return this.db.prepare(`UPDATE outbox SET status = 'pending' WHERE status = 'sending'`).run().changes;
  }

  listOutbox(filter: { status?: OutboxStatus; channel?: string; limit?: number } = {}): OutboxRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.status) {
      where.push('status = ?');
      args.push(filter.status);
    }
    if (filter.channel) {
      where.push('channel = ?');
      args.push(filter.channel);
    }
    const sql = `SELECT * FROM outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, filter.limit ?? 100) as OutboxDbRow[];
    return rows.reverse().map(toRow);
  }

  attemptsOf(id: number): OutboxAttempt[] {
    const rows = this.db
      .prepare('SELECT * FROM outbox_attempts WHERE notification_id = ? ORDER BY id')
      .all(id) as AttemptDbRow[];
    return rows.map((r) => ({
      id: r.id,
      notificationId: r.notification_id,
      at: r.at,
      ok: r.ok === 1,
      detail: r.detail,
      durationMs: r.duration_ms,
    }));
  }

  nextDueAt(): Date | undefined {
    // Only heads of streams can be sent; a later row's time says nothing about when to look again.
    const r = this.db
      .prepare(
        `SELECT MIN(o.next_attempt_at) AS at FROM outbox o
         JOIN (SELECT MIN(id) AS id FROM outbox WHERE status != 'delivered' GROUP BY channel, stream) h ON h.id = o.id
         WHERE o.status = 'pending'`,
      )
      .get() as { at: string | null };
    return r.at ? new Date(r.at) : undefined;
  }

  cancelPending(stream: string, dedupKeys: readonly string[]): OutboxRow[] {
    if (dedupKeys.length === 0) return [];
    return this.db.transaction(() => {
      const keys = dedupKeys.map(() => '?').join(', ');
      const rows = this.db
        .prepare(`SELECT * FROM outbox WHERE stream = ? AND status = 'pending' AND dedup_key IN (${keys}) ORDER BY id`)
        .all(stream, ...dedupKeys) as OutboxDbRow[];
      const drop = this.db.prepare('DELETE FROM outbox_attempts WHERE notification_id = ?');
      const del = this.db.prepare(`DELETE FROM outbox WHERE id = ? AND status = 'pending'`);
      for (const r of rows) {
        drop.run(r.id);
        del.run(r.id);
      }
      return rows.map(toRow);
    })();
  }

  pruneDelivered(before: Date): number {
    return this.db.transaction(() => {
      const cut = before.toISOString();
      this.db
        .prepare(
          `DELETE FROM outbox_attempts WHERE notification_id IN
             (SELECT id FROM outbox WHERE status = 'delivered' AND delivered_at < ?)`,
        )
        .run(cut);
      return this.db.prepare(`DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < ?`).run(cut).changes;
    })();
  }
}
