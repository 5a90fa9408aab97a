/**
 * The migration that makes one open incident per key a database rule must open a store written
 * before it, even one where two processes raced and left two open incidents of a key.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('migration: one open incident per key', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) removeTempDir(dir);
  });

  it('resolves all but the newest open incident of a key, says so on its timeline, then refuses a second', async () => {
    dir = makeTempDir('incident-migration');
    const file = path.join(dir, 'state.db');
    const clock = new ManualClock();
    await SqliteStore.open(file, clock).close();
    // The store as the version before this migration left it, with a race's two open incidents.
    const raw = new Database(file);
    raw.exec('DROP INDEX incidents_one_open');
    const insert = raw.prepare(
      `INSERT INTO incidents (key, title, severity, status, created_at, step, loop, step_started_at)
       VALUES (?, 'down', 'page', ?, '2026-12-01T09:00:00.000Z', 0, 0, '2026-12-01T09:00:00.000Z')`,
    );
    insert.run('service:web', 'triggered');
    insert.run('service:web', 'acknowledged');
    insert.run('service:db', 'triggered');
    insert.run('service:db', 'resolved');
    raw.pragma(`user_version = ${MIGRATIONS.length - 1}`);
    raw.close();

    const store = SqliteStore.open(file, clock);
    try {
      const rows = await store.incidents.listIncidents();
      expect(rows.map((r) => `${r.id} ${r.key} ${r.status}`)).toEqual([
        '4 service:db resolved',
        '3 service:db triggered',
        '2 service:web acknowledged',
        '1 service:web resolved',
      ]);
      expect((await store.incidents.timeline(1)).map((e) => e.text)).toEqual([
        'resolved on upgrade: incident #2 is open for the same key, and only one may be',
      ]);
      expect(await store.incidents.timeline(3)).toEqual([]);
      const web = await store.incidents.tryGetIncident(2);
      if (!web) throw new Error('incident #2 is gone');
      await expect(store.incidents.saveIncident({ ...web, id: undefined }, [], [])).rejects.toThrow(/UNIQUE/);
    } finally {
      await store.close();
    }
  });
});
