/**
 * `AuditLog.verify` reads the head and the entries in two calls of the asynchronous store. An
 * append landing between them (the daemon auditing a request while `audit verify` runs) must not
 * read as tampering; a real deletion from the end still must.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditEntry } from '../../src/security/audit.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AuditStore } from '../../src/store/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const entry = (n: number): AuditEntry => ({
  token: 'admin',
  user: null,
  remote: '127.0.0.1',
  method: 'POST',
  path: `/v1/services/web/restart?n=${n}`,
  route: 'POST /v1/services/:name/restart',
  operation: 'service.operate',
  service: 'web',
  decision: 'allowed',
  status: 200,
});

describe('audit verify while appends go on', () => {
  let dir: string;
  let store: SqliteStore;
  const clock = new ManualClock();
  beforeEach(() => {
    dir = makeTempDir('audit-race');
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  /** The store, with `between` run once between verify's two reads, whichever order they come in. */
  function interleaved(between: () => Promise<void>): AuditStore {
    let calls = 0;
    const once = async () => {
      if (++calls === 1) await between();
    };
    return {
      ...store.audit,
      auditHead: async () => {
        const h = await store.audit.auditHead();
        await once();
        return h;
      },
      listAudit: async (after, limit) => {
        const rows = await store.audit.listAudit(after, limit);
        await once();
        return rows;
      },
    };
  }

  it('an append between the reads is not reported (nor the very first entries appended then)', async () => {
    const writer = new AuditLog(store.audit, clock);
    const first = new AuditLog(
      interleaved(async () => void (await writer.append(entry(1)))),
      clock,
    );
    // Empty log: the head is read as missing, then the entry appears.
    expect(await first.verify()).toMatchObject({ ok: true, problems: [] });
    for (let n = 2; n <= 3; n++) await writer.append(entry(n));
    const racing = new AuditLog(
      interleaved(async () => void (await writer.append(entry(4)))),
      clock,
    );
    const v = await racing.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect((await new AuditLog(store.audit, clock).verify()).entries).toBe(4);
  });

  it('entries deleted from the end are still reported', async () => {
    const writer = new AuditLog(store.audit, clock);
    for (let n = 1; n <= 3; n++) await writer.append(entry(n));
    // As someone with the file would: another connection, not the store.
    const db = new Database(path.join(dir, 'state.db'));
    db.prepare('DELETE FROM audit WHERE seq = 3').run();
    db.close();
    const v = await new AuditLog(store.audit, clock).verify();
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.kind)).toEqual(['missing']);
  });
});
