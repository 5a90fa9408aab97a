/**
 * Tokens and the audit log in the state database (store.ts, TokenStore and AuditStore). Same
 * connection as the rest of the store; an audit append is one IMMEDIATE transaction, so the CLI
 * and the daemon can both append without forking the chain.
 */
import type Database from 'better-sqlite3';
import type { AuditHead, AuditRow, TokenRecord } from '../store.js';

/** The synchronous core of TokenStore; sqlite-store.ts exposes it as the async contract. */
export class SqliteTokens {
  constructor(private readonly db: Database.Database) {}

  saveToken(t: TokenRecord): void {
    this.db
      .prepare(
        `INSERT INTO tokens (id, hash, role, services, user, label, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        t.id,
        t.hash,
        t.role,
        t.services === null ? null : JSON.stringify(t.services),
        t.user,
        t.label,
        t.createdAt,
        t.expiresAt,
        t.revokedAt,
      );
  }

  tryGetTokenByHash(hash: string): TokenRecord | undefined {
    const r = this.db.prepare('SELECT * FROM tokens WHERE hash = ?').get(hash) as TokenDbRow | undefined;
    return r && tokenOf(r);
  }

  tryGetToken(id: string): TokenRecord | undefined {
    const r = this.db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as TokenDbRow | undefined;
    return r && tokenOf(r);
  }

  listTokens(): TokenRecord[] {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY created_at, id').all() as TokenDbRow[]).map(tokenOf);
  }

  revokeToken(id: string, at: string): boolean {
    return (
      this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes > 0
    );
  }
}

/** The synchronous core of AuditStore; sqlite-store.ts exposes it as the async contract. */
export class SqliteAudit {
  constructor(private readonly db: Database.Database) {}

  appendAudit(make: (head: AuditHead | undefined) => AuditRow): AuditRow {
    return this.db
      .transaction((): AuditRow => {
        const head = this.auditHead();
        const row = make(head);
        this.db
          .prepare('INSERT INTO audit (seq, at, entry, prev_hash, hash) VALUES (?, ?, ?, ?, ?)')
          .run(row.seq, row.at, row.entry, row.prevHash, row.hash);
        this.db
          .prepare(
            `INSERT INTO meta (key, value) VALUES ('audit_head', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
          )
          .run(JSON.stringify({ seq: row.seq, hash: row.hash }));
        return row;
      })
      .immediate();
  }

  listAudit(afterSeq = 0, limit = 1_000_000): AuditRow[] {
    const rows = this.db
      .prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(afterSeq, limit) as AuditDbRow[];
    return rows.map((r) => ({ seq: r.seq, at: r.at, entry: r.entry, prevHash: r.prev_hash, hash: r.hash }));
  }

  auditHead(): AuditHead | undefined {
    const r = this.db.prepare(`SELECT value FROM meta WHERE key = 'audit_head'`).get() as { value: string } | undefined;
    if (!r) return undefined;
    const v: unknown = JSON.parse(r.value);
    if (
      typeof v === 'object' &&
      v !== null &&
      'seq' in v &&
      'hash' in v &&
      typeof v.seq === 'number' &&
      typeof v.hash === 'string'
    )
      return { seq: v.seq, hash: v.hash };
    throw new Error(`the audit head in the state store is damaged (${r.value}); run \`groundwork audit verify\``);
  }
}

interface TokenDbRow {
  id: string;
  hash: string;
  role: string;
  services: string | null;
  user: string | null;
  label: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

interface AuditDbRow {
  seq: number;
  at: string;
  entry: string;
  prev_hash: string;
  hash: string;
}

function tokenOf(r: TokenDbRow): TokenRecord {
  let services: string[] | null = null;
  if (r.services !== null) {
    const v: unknown = JSON.parse(r.services);
    // A damaged list must not read as "every service": refuse instead.
    if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string'))
      throw new Error(
        `token ${r.id} has a damaged service list in the state store (${r.services}); revoke it and make a new one`,
      );
    services = v;
  }
  return {
    id: r.id,
    hash: r.hash,
    role: r.role,
    services,
    user: r.user,
    label: r.label,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}
