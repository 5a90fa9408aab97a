/** Releases of services in the state database (store.ts, ReleaseStore); the synchronous core behind `store.releases`. */
import type Database from 'better-sqlite3';
import type { JsonObject } from '../../model/resource.js';
import type { NewRelease, ReleasePatch, ReleaseRecord, ReleaseStatus } from '../store.js';

interface ReleaseDbRow {
  service: string;
  seq: number;
  hash: string;
  status: string;
  kind: string;
  source: string;
  spec: string;
  dir: string;
  build_log: string | null;
  message: string;
  author: string;
  created_at: string;
  finished_at: string | null;
  detail: string | null;
}

export class SqliteReleases {
  constructor(private readonly db: Database.Database) {}

  createRelease(r: NewRelease): number {
    // IMMEDIATE: the write lock is taken before MAX(seq) is read, so another process (a CLI next to
    // the daemon) cannot read the same maximum in between.
    return this.db
      .transaction(() => {
        const { m } = this.db.prepare('SELECT MAX(seq) AS m FROM releases WHERE service = ?').get(r.service) as {
          m: number | null;
        };
        const seq = (m ?? 0) + 1;
        this.db
          .prepare(
            `INSERT INTO releases (service, seq, hash, status, kind, source, spec, dir, build_log, message, author, created_at, finished_at, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            r.service,
            seq,
            r.hash,
            r.status,
            r.kind,
            r.source,
            JSON.stringify(r.spec),
            typeof r.dir === 'function' ? r.dir(seq) : r.dir,
            r.buildLog,
            r.message,
            r.author,
            r.createdAt,
            r.finishedAt,
            r.detail,
          );
        return seq;
      })
      .immediate();
  }

  updateRelease(service: string, seq: number, patch: ReleasePatch): void {
    const cols: Record<string, unknown> = {
      status: patch.status,
      detail: patch.detail,
      finished_at: patch.finishedAt,
      build_log: patch.buildLog,
      hash: patch.hash,
      spec: patch.spec === undefined ? undefined : JSON.stringify(patch.spec),
      source: patch.source,
    };
    const set = Object.entries(cols).filter(([, v]) => v !== undefined);
    if (set.length === 0) return;
    this.db
      .prepare(`UPDATE releases SET ${set.map(([k]) => `${k} = ?`).join(', ')} WHERE service = ? AND seq = ?`)
      .run(...set.map(([, v]) => v), service, seq);
  }

  settle(service: string, seq: number, patch: ReleasePatch, opts: { supersedeActive: boolean }): void {
    this.db
      .transaction(() => {
        if (opts.supersedeActive)
          this.db
            .prepare("UPDATE releases SET status = 'superseded' WHERE service = ? AND status = 'active' AND seq <> ?")
            .run(service, seq);
        this.updateRelease(service, seq, patch);
      })
      .immediate();
  }

  listReleases(service: string, limit = 50): ReleaseRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM releases WHERE service = ? ORDER BY seq DESC LIMIT ?')
        .all(service, limit) as ReleaseDbRow[]
    ).map(toRelease);
  }

  latestByService(): Map<string, ReleaseRecord> {
    // The primary key (service, seq) serves both the grouping and the join.
    const rows = this.db
      .prepare(
        `SELECT r.* FROM releases r
         JOIN (SELECT service, MAX(seq) AS seq FROM releases GROUP BY service) latest
           ON r.service = latest.service AND r.seq = latest.seq`,
      )
      .all() as ReleaseDbRow[];
    return new Map(rows.map((r) => [r.service, toRelease(r)]));
  }

  tryGetRelease(service: string, seq: number): ReleaseRecord | undefined {
    const r = this.db.prepare('SELECT * FROM releases WHERE service = ? AND seq = ?').get(service, seq) as
      ReleaseDbRow | undefined;
    return r && toRelease(r);
  }
}

function toRelease(r: ReleaseDbRow): ReleaseRecord {
  return {
    service: r.service,
    seq: r.seq,
    hash: r.hash,
    status: r.status as ReleaseStatus,
    kind: r.kind as ReleaseRecord['kind'],
    source: r.source,
    spec: JSON.parse(r.spec) as JsonObject,
    dir: r.dir,
    buildLog: r.build_log,
    message: r.message,
    author: r.author,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    detail: r.detail,
  };
}
