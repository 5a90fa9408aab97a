/**
 * Incidents, their timelines and action items in the state database: the synchronous core behind
 * the store's async IncidentStore (store.ts; SqliteStore wraps it with asyncFacade).
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../util/clock.js';
import type { ActionItem, IncidentEvent, IncidentRow, IncidentStatus, OutboxEnqueue, OverrideRow } from '../store.js';
import type { SqliteOutbox } from './sqlite-outbox.js';

interface IncidentDbRow {
  id: number;
  key: string;
  title: string;
  severity: string;
  service: string | null;
  status: string;
  created_at: string;
  acked_at: string | null;
  acked_by: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  assignee: string | null;
  policy: string | null;
  step: number;
  loop: number;
  step_started_at: string;
}

function toIncident(r: IncidentDbRow): IncidentRow {
  return {
    id: r.id,
    key: r.key,
    title: r.title,
    severity: r.severity,
    service: r.service,
    status: r.status as IncidentStatus,
    createdAt: r.created_at,
    ackedAt: r.acked_at,
    ackedBy: r.acked_by,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    assignee: r.assignee,
    policy: r.policy,
    step: r.step,
    loop: r.loop,
    stepStartedAt: r.step_started_at,
  };
}

const STATUS_RANK: Record<IncidentStatus, number> = { triggered: 0, acknowledged: 1, resolved: 2 };
const RANK_SQL = `(CASE status WHEN 'triggered' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END)`;

export class SqliteIncidents {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly outbox: SqliteOutbox,
  ) {}

  openIncidentByKey(key: string): IncidentRow | undefined {
    const r = this.db
      .prepare(`SELECT * FROM incidents WHERE key = ? AND status != 'resolved' ORDER BY id DESC LIMIT 1`)
      .get(key) as IncidentDbRow | undefined;
    return r ? toIncident(r) : undefined;
  }

  tryGetIncident(id: number): IncidentRow | undefined {
    const r = this.db.prepare('SELECT * FROM incidents WHERE id = ?').get(id) as IncidentDbRow | undefined;
    return r ? toIncident(r) : undefined;
  }

  listIncidents(filter: { status?: IncidentStatus; limit?: number } = {}): IncidentRow[] {
    const rows = filter.status
      ? this.db
          .prepare('SELECT * FROM incidents WHERE status = ? ORDER BY id DESC LIMIT ?')
          .all(filter.status, filter.limit ?? 100)
      : this.db.prepare('SELECT * FROM incidents ORDER BY id DESC LIMIT ?').all(filter.limit ?? 100);
    return (rows as IncidentDbRow[]).map(toIncident);
  }

  saveIncident(
    row: Omit<IncidentRow, 'id'> & { id?: number },
    events: Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>[],
    notifications: OutboxEnqueue[],
  ): number {
    return this.db.transaction(() => {
      const values = [
        row.key,
        row.title,
        row.severity,
        row.service,
        row.status,
        row.createdAt,
        row.ackedAt,
        row.ackedBy,
        row.resolvedAt,
        row.resolvedBy,
        row.assignee,
        row.policy,
        row.step,
        row.loop,
        row.stepStartedAt,
      ];
      let id = row.id;
      if (id === undefined) {
        const r = this.db
          .prepare(
            `INSERT INTO incidents (key, title, severity, service, status, created_at, acked_at, acked_by, resolved_at,
               resolved_by, assignee, policy, step, loop, step_started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(...values);
        id = Number(r.lastInsertRowid);
      } else {
        // Status only moves forward (triggered → acknowledged → resolved). A writer that read the
        // row before someone else acknowledged or resolved it (the daemon's tick, while the CLI
        // acknowledges from another process) must not put it back: its whole save is dropped.
        const r = this.db
          .prepare(
            `UPDATE incidents SET key = ?, title = ?, severity = ?, service = ?, status = ?, created_at = ?, acked_at = ?,
               acked_by = ?, resolved_at = ?, resolved_by = ?, assignee = ?, policy = ?, step = ?, loop = ?,
               step_started_at = ? WHERE id = ? AND ${RANK_SQL} <= ?`,
          )
          .run(...values, id, STATUS_RANK[row.status]);
        if (r.changes === 0) return id;
      }
      this.appendEvents(id, events);
      if (notifications.length > 0) this.outbox.enqueue(notifications);
      return id;
    })();
  }

  openIncident(
    row: Omit<IncidentRow, 'id'>,
    events: Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>[],
    joinEvents: Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>[],
  ): { id: number; opened: boolean } {
    // Immediate: the look for the open one and the insert hold the write lock together, so
    // another process cannot open one in between (the unique index would refuse it anyway).
    return this.db
      .transaction(() => {
        const open = this.openIncidentByKey(row.key);
        if (open) {
          this.appendEvents(open.id, joinEvents);
          return { id: open.id, opened: false };
        }
        return { id: this.saveIncident(row, events, []), opened: true };
      })
      .immediate();
  }

  private appendEvents(id: number, events: Omit<IncidentEvent, 'id' | 'incidentId' | 'at'>[]): void {
    const at = this.clock.now().toISOString();
    const add = this.db.prepare(
      'INSERT INTO incident_events (incident_id, at, kind, actor, text) VALUES (?, ?, ?, ?, ?)',
    );
    for (const e of events) add.run(id, at, e.kind, e.actor, e.text);
  }

  timeline(id: number): IncidentEvent[] {
    const rows = this.db.prepare('SELECT * FROM incident_events WHERE incident_id = ? ORDER BY id').all(id) as {
      id: number;
      incident_id: number;
      at: string;
      kind: string;
      actor: string;
      text: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      incidentId: r.incident_id,
      at: r.at,
      kind: r.kind,
      actor: r.actor,
      text: r.text,
    }));
  }

  queuedKeys(id: number): Set<string> {
    const rows = this.db.prepare(`SELECT dedup_key FROM outbox WHERE stream = ?`).all(`incident-${id}`) as {
      dedup_key: string;
    }[];
    return new Set(rows.map((r) => r.dedup_key));
  }

  addActionItem(item: Omit<ActionItem, 'id' | 'done'>): number {
    const r = this.db
      .prepare('INSERT INTO action_items (incident_id, text, owner, due) VALUES (?, ?, ?, ?)')
      .run(item.incidentId, item.text, item.owner, item.due);
    return Number(r.lastInsertRowid);
  }

  setActionItemDone(id: number, done: boolean): boolean {
    return this.db.prepare('UPDATE action_items SET done = ? WHERE id = ?').run(done ? 1 : 0, id).changes > 0;
  }

  tryGetActionItem(id: number): ActionItem | undefined {
    const r = this.db.prepare('SELECT * FROM action_items WHERE id = ?').get(id) as
      { id: number; incident_id: number; text: string; owner: string; due: string | null; done: number } | undefined;
    return r
      ? { id: r.id, incidentId: r.incident_id, text: r.text, owner: r.owner, due: r.due, done: r.done === 1 }
      : undefined;
  }

  actionItems(incidentId: number): ActionItem[] {
    const rows = this.db.prepare('SELECT * FROM action_items WHERE incident_id = ? ORDER BY id').all(incidentId) as {
      id: number;
      incident_id: number;
      text: string;
      owner: string;
      due: string | null;
      done: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      incidentId: r.incident_id,
      text: r.text,
      owner: r.owner,
      due: r.due,
      done: r.done === 1,
    }));
  }

  addOverride(o: Omit<OverrideRow, 'id' | 'createdAt'>): number {
    const r = this.db
      .prepare(
        `INSERT INTO oncall_overrides (schedule, who, from_at, to_at, reason, author, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(o.schedule, o.who, o.from, o.to, o.reason, o.author, this.clock.now().toISOString());
    return Number(r.lastInsertRowid);
  }

  listOverrides(filter: { schedule?: string; endingAfter?: string } = {}): OverrideRow[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM oncall_overrides WHERE (? IS NULL OR schedule = ?) AND (? IS NULL OR to_at > ?) ORDER BY id`,
      )
      .all(
        filter.schedule ?? null,
        filter.schedule ?? null,
        filter.endingAfter ?? null,
        filter.endingAfter ?? null,
      ) as {
      id: number;
      schedule: string;
      who: string;
      from_at: string;
      to_at: string;
      reason: string;
      author: string;
      created_at: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      schedule: r.schedule,
      who: r.who,
      from: r.from_at,
      to: r.to_at,
      reason: r.reason,
      author: r.author,
      createdAt: r.created_at,
    }));
  }

  removeOverride(id: number): boolean {
    return this.db.prepare('DELETE FROM oncall_overrides WHERE id = ?').run(id).changes > 0;
  }
}
