/**
 * Alert instances and silences in the state database: the synchronous core behind the store's
 * async AlertStore (store.ts; SqliteStore wraps it with asyncFacade).
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../util/clock.js';
import type { AlertRow, AlertState, LabelMatcher, OutboxEnqueue, SilenceRow } from '../store.js';
import type { SqliteOutbox } from './sqlite-outbox.js';

interface AlertDbRow {
  fingerprint: string;
  rule: string;
  labels: string;
  state: string;
  active_at: string;
  last_active_at: string;
  fired_at: string | null;
  resolved_at: string | null;
  value: number | null;
  notified_at: string | null;
  notifications: number;
  suppressed_by: string | null;
  acked_at: string | null;
  acked_by: string | null;
}

interface SilenceDbRow {
  id: number;
  matchers: string;
  starts_at: string;
  ends_at: string;
  author: string;
  comment: string;
  created_at: string;
}

function toAlert(r: AlertDbRow): AlertRow {
  return {
    fingerprint: r.fingerprint,
    rule: r.rule,
    labels: JSON.parse(r.labels) as Record<string, string>,
    state: r.state as AlertState,
    activeAt: r.active_at,
    lastActiveAt: r.last_active_at,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
    value: r.value,
    notifiedAt: r.notified_at,
    notifications: r.notifications,
    suppressedBy: r.suppressed_by,
    ackedAt: r.acked_at,
    ackedBy: r.acked_by,
  };
}

export class SqliteAlerts {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly outbox: SqliteOutbox,
  ) {}

  listAlerts(filter: { rule?: string; state?: AlertState } = {}): AlertRow[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.rule) {
      where.push('rule = ?');
      args.push(filter.rule);
    }
    if (filter.state) {
      where.push('state = ?');
      args.push(filter.state);
    }
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY active_at, fingerprint`;
    return (this.db.prepare(sql).all(...args) as AlertDbRow[]).map(toAlert);
  }

  tryGetAlert(fingerprint: string): AlertRow | undefined {
    const r = this.db.prepare('SELECT * FROM alerts WHERE fingerprint = ?').get(fingerprint) as AlertDbRow | undefined;
    return r ? toAlert(r) : undefined;
  }

  saveAlert(a: AlertRow, notifications: OutboxEnqueue[]): void {
    this.saveAlerts([a], notifications);
  }

  saveAlerts(rows: readonly AlertRow[], notifications: OutboxEnqueue[]): void {
    this.db.transaction(() => {
      for (const a of rows) this.upsert(a);
      if (notifications.length > 0) this.outbox.enqueue(notifications);
    })();
  }

  private upsert(a: AlertRow): void {
    this.db
      .prepare(
        `INSERT INTO alerts (fingerprint, rule, labels, state, active_at, last_active_at, fired_at, resolved_at, value,
             notified_at, notifications, suppressed_by, acked_at, acked_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (fingerprint) DO UPDATE SET rule = excluded.rule, labels = excluded.labels, state = excluded.state,
             active_at = excluded.active_at, last_active_at = excluded.last_active_at, fired_at = excluded.fired_at,
             resolved_at = excluded.resolved_at, value = excluded.value, notified_at = excluded.notified_at,
             notifications = excluded.notifications, suppressed_by = excluded.suppressed_by,
             acked_at = excluded.acked_at, acked_by = excluded.acked_by`,
      )
      .run(
        a.fingerprint,
        a.rule,
        JSON.stringify(a.labels),
        a.state,
        a.activeAt,
        a.lastActiveAt,
        a.firedAt,
        a.resolvedAt,
        a.value,
        a.notifiedAt,
        a.notifications,
        a.suppressedBy,
        a.ackedAt,
        a.ackedBy,
      );
  }

  deleteAlert(fingerprint: string): void {
    this.db.prepare('DELETE FROM alerts WHERE fingerprint = ?').run(fingerprint);
  }

  addSilence(s: Omit<SilenceRow, 'id' | 'createdAt'>): number {
    const r = this.db
      .prepare(
        'INSERT INTO silences (matchers, starts_at, ends_at, author, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(JSON.stringify(s.matchers), s.startsAt, s.endsAt, s.author, s.comment, this.clock.now().toISOString());
    return Number(r.lastInsertRowid);
  }

  expireSilence(id: number): boolean {
    const now = this.clock.now().toISOString();
    return (
      this.db.prepare('UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?').run(now, id, now).changes > 0
    );
  }

  listSilences(): SilenceRow[] {
    return (this.db.prepare('SELECT * FROM silences ORDER BY id').all() as SilenceDbRow[]).map((r) => ({
      id: r.id,
      matchers: JSON.parse(r.matchers) as LabelMatcher[],
      startsAt: r.starts_at,
      endsAt: r.ends_at,
      author: r.author,
      comment: r.comment,
      createdAt: r.created_at,
    }));
  }
}
