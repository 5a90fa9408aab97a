/** Change requests and their approvals in the state database (store.ts, ChangeRequestStore). */
import type Database from 'better-sqlite3';
import type { JsonObject } from '../../model/resource.js';
import type { Clock } from '../../util/clock.js';
import type { ChangeApproval, ChangeRequestKind, ChangeRequestRefusal, ChangeRequestRow } from '../store.js';

interface RequestDbRow {
  id: number;
  kind: string;
  service: string | null;
  subject: string;
  hash: string;
  author: string;
  message: string;
  decisions: string;
  created_at: string;
  applied_change: number | null;
  refused_by: string | null;
  refused_at: string | null;
  refused_reason: string | null;
}

interface ApprovalDbRow {
  by: string;
  at: string;
  comment: string;
}

/** The synchronous core of ChangeRequestStore; sqlite-store.ts exposes it as the async contract. */
export class SqliteChangeRequests {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {}

  saveRequest(r: Omit<ChangeRequestRow, 'id' | 'createdAt' | 'appliedChange' | 'approvals' | 'refusal'>): number {
    const res = this.db
      .prepare(
        `INSERT INTO change_requests (kind, service, subject, hash, author, message, decisions, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.kind,
        r.service,
        JSON.stringify(r.subject),
        r.hash,
        r.author,
        r.message,
        JSON.stringify(r.decisions),
        this.clock.now().toISOString(),
      );
    return Number(res.lastInsertRowid);
  }

  tryGetRequest(id: number): ChangeRequestRow | undefined {
    const r = this.db.prepare('SELECT * FROM change_requests WHERE id = ?').get(id) as RequestDbRow | undefined;
    return r && this.toRow(r);
  }

  listRequests(limit = 50): ChangeRequestRow[] {
    return (this.db.prepare('SELECT * FROM change_requests ORDER BY id DESC LIMIT ?').all(limit) as RequestDbRow[]).map(
      (r) => this.toRow(r),
    );
  }

  addApproval(id: number, a: ChangeApproval): boolean {
    const res = this.db
      .prepare('INSERT OR IGNORE INTO change_approvals (request_id, by, at, comment) VALUES (?, ?, ?, ?)')
      .run(id, a.by, a.at, a.comment);
    return res.changes === 1;
  }

  claimRequest(id: number, changeId: number): boolean {
    const res = this.db
      .prepare(
        'UPDATE change_requests SET applied_change = ? WHERE id = ? AND applied_change IS NULL AND refused_at IS NULL',
      )
      .run(changeId, id);
    return res.changes === 1;
  }

  releaseRequest(id: number, changeId: number): void {
    this.db
      .prepare('UPDATE change_requests SET applied_change = NULL WHERE id = ? AND applied_change = ?')
      .run(id, changeId);
  }

  refuseRequest(id: number, f: ChangeRequestRefusal): boolean {
    const res = this.db
      .prepare(
        `UPDATE change_requests SET refused_by = ?, refused_at = ?, refused_reason = ?
         WHERE id = ? AND applied_change IS NULL AND refused_at IS NULL`,
      )
      .run(f.by, f.at, f.reason, id);
    return res.changes === 1;
  }

  private toRow(r: RequestDbRow): ChangeRequestRow {
    const approvals = this.db
      .prepare('SELECT by, at, comment FROM change_approvals WHERE request_id = ? ORDER BY at, by')
      .all(r.id) as ApprovalDbRow[];
    return {
      id: r.id,
      kind: r.kind as ChangeRequestKind,
      service: r.service,
      subject: JSON.parse(r.subject) as JsonObject,
      hash: r.hash,
      author: r.author,
      message: r.message,
      decisions: JSON.parse(r.decisions) as number[],
      createdAt: r.created_at,
      appliedChange: r.applied_change,
      approvals: approvals.map((a) => ({ by: a.by, at: a.at, comment: a.comment })),
      refusal:
        r.refused_at !== null
          ? { by: r.refused_by ?? 'unknown', at: r.refused_at, reason: r.refused_reason ?? '' }
          : null,
    };
  }
}
