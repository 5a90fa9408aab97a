import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetricsDb, MetricsStoreFormatError, STORE_FORMAT } from '../../../src/observe/tsdb/metrics-db.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');
// The retention the fixture was written with (raw 2 h, then 1-minute rollups).
const RETENTION = {
  levels: [
    { stepMs: 0, retainMs: 2 * HOUR },
    { stepMs: MIN, retainMs: 30 * DAY },
  ],
};

interface Expected {
  labels: Record<string, string>;
  t: number[];
  v: Array<number | 'NaN'>;
  stale: number[];
}

let dir: string;
beforeEach(() => {
  dir = makeTempDir('tsdb-migrate');
});
afterEach(() => removeTempDir(dir));

describe('MetricsDb file formats', () => {
  // metrics-v1.db was written by the format-1 store (commit 992e8e8): three series over 3 hours,
  // the first hour rolled up to 1-minute samples, a staleness marker, a partial head.
  // metrics-v2.db was written by the format-2 store (commit 42247d1): a counter, a two-decimal
  // gauge, page-sized memory bytes and an xor-coded ratio with a staleness marker, 3 hours at
  // 15 s, the first hour rolled up to 1-minute samples, a partial head. Each JSON holds what that
  // store's select() returned for its file.
  it.each([
    { fixture: 'metrics-v1', userVersion: 0 },
    { fixture: 'metrics-v2', userVersion: 2 },
  ])(
    'rewrites a $fixture file to the current format on open, every sample and marker kept',
    ({ fixture, userVersion }) => {
      const file = path.join(dir, 'metrics.db');
      copyFileSync(path.join(FIXTURES, `${fixture}.db`), file);
      const expected = JSON.parse(readFileSync(path.join(FIXTURES, `${fixture}.expected.json`), 'utf8')) as Expected[];
      const before = new Database(file, { readonly: true });
      expect(before.pragma('user_version', { simple: true })).toBe(userVersion);
      const oldChunks = (before.prepare('SELECT COUNT(*) AS n FROM chunks').get() as { n: number }).n;
      before.close();

      const db = MetricsDb.open({ path: file, retention: RETENTION });
      const got = db.select([{ name: '__name__', op: '=~', value: 'fx_.*' }], 0, Date.UTC(2027, 0, 1));
      expect(got.map((s) => s.labels)).toEqual(expected.map((s) => s.labels));
      for (const [i, s] of got.entries()) {
        const e = expected[i]!;
        expect(s.t).toEqual(e.t);
        expect(s.v.map((x) => (Number.isNaN(x) ? 'NaN' : x))).toEqual(e.v);
        expect([...(s.stale ?? [])]).toEqual(e.stale);
      }
      expect(expected.find((s) => s.labels.__name__ === 'fx_ratio')!.stale).toHaveLength(1);
      // Series continue after the migration, their order still enforced.
      const counter = { __name__: 'fx_requests_total', job: 'a' };
      const last = expected[0]!.t.at(-1)!;
      expect(db.append(counter, last, 1)).toBe('out-of-order');
      expect(db.append(counter, last + 15_000, 721 * 7)).toBe('stored');
      db.close();

      const after = new Database(file, { readonly: true });
      expect(after.pragma('user_version', { simple: true })).toBe(STORE_FORMAT);
      expect((after.prepare('SELECT COUNT(*) AS n FROM chunks').get() as { n: number }).n).toBe(oldChunks + 1);
      const indexes = (
        after.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as Array<{ name: string }>
      )
        .map((r) => r.name)
        .sort();
      expect(indexes).toEqual(['sqlite_autoindex_chunks_1', 'sqlite_autoindex_series_1']);
      after.close();

      // A second open finds the current format and leaves the file alone.
      const again = MetricsDb.open({ path: file, retention: RETENTION });
      expect(again.select([{ name: '__name__', op: '=', value: 'fx_requests_total' }], 0, Infinity)[0]!.t).toHaveLength(
        expected[0]!.t.length + 1,
      );
      again.close();
    },
  );

  it('refuses a file from a newer Groundwork, naming the file and what to do', () => {
    const file = path.join(dir, 'metrics.db');
    const raw = new Database(file);
    raw.pragma(`user_version = ${STORE_FORMAT + 1}`);
    raw.close();
    expect(() => MetricsDb.open({ path: file })).toThrow(MetricsStoreFormatError);
    expect(() => MetricsDb.open({ path: file })).toThrow(/metrics\.db has format 4, newer .* upgrade Groundwork/);
  });
});
