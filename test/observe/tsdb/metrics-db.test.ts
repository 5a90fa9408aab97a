import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MetricsDb } from '../../../src/observe/tsdb/metrics-db.js';
import { ensureBuilt, ROOT } from '../../helpers/dist.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);

// The crash test's child process runs the compiled store from dist/ (built by CI before the tests).
beforeAll(() => void ensureBuilt(), 180_000);

let dir: string;
beforeEach(() => {
  dir = makeTempDir('tsdb');
});
afterEach(() => removeTempDir(dir));

describe('MetricsDb', () => {
  it('stores samples per series and selects them by label matchers across chunks and a reopen', () => {
    const file = path.join(dir, 'metrics.db');
    let db = MetricsDb.open({ path: file });
    for (let i = 0; i < 300; i++) {
      for (const job of ['api', 'web', 'db'])
        db.append({ __name__: 'reqs_total', job, zone: 'a' }, T0 + i * 15_000, i * 2);
    }
    expect(db.append({ __name__: 'reqs_total', job: 'api', zone: 'a' }, T0, 5)).toBe('out-of-order');
    const sel = db.select(
      [
        { name: '__name__', op: '=', value: 'reqs_total' },
        { name: 'job', op: '=~', value: 'a.*|w.b' },
      ],
      T0 + 15_000 * 100,
      T0 + 15_000 * 199,
    );
    expect(sel.map((s) => s.labels.job).sort()).toEqual(['api', 'web']);
    expect(sel[0]!.t).toHaveLength(100);
    expect(sel[0]!.v[0]).toBe(200);
    expect(
      db.select(
        [
          { name: 'job', op: '!=', value: 'api' },
          { name: 'zone', op: '!~', value: 'b' },
        ],
        0,
        Infinity,
      ),
    ).toHaveLength(2);
    expect(db.stats().droppedOutOfOrder).toBe(1);
    db.close();

    db = MetricsDb.open({ path: file });
    const all = db.select([{ name: 'job', op: '=', value: 'db' }], 0, Infinity);
    expect(all[0]!.t).toHaveLength(300);
    // Series continue after a reopen, and their order is still enforced.
    expect(db.append({ __name__: 'reqs_total', job: 'db', zone: 'a' }, T0 + 299 * 15_000, 1)).toBe('out-of-order');
    expect(db.append({ __name__: 'reqs_total', job: 'db', zone: 'a' }, T0 + 300 * 15_000, 600)).toBe('stored');
    expect(db.select([{ name: 'job', op: '=', value: 'db' }], 0, Infinity)[0]!.t).toHaveLength(301);
    db.close();
  });

  it('drops and counts new series beyond the per-target limit, other targets unaffected', () => {
    const db = MetricsDb.open({ path: path.join(dir, 'm.db'), maxSeriesPerTarget: 3 });
    for (let i = 0; i < 5; i++) db.append({ __name__: 'x', i: String(i) }, T0, 1, { target: 'noisy' });
    expect(db.append({ __name__: 'x', i: '0' }, T0 + 1, 1, { target: 'noisy' })).toBe('stored');
    expect(db.append({ __name__: 'y' }, T0, 1, { target: 'quiet' })).toBe('stored');
    expect(db.stats().droppedBySeriesLimit).toEqual({ noisy: 2 });
    expect(db.stats().series).toBe(4);
    db.close();
  });

  it('rolls raw data up to 1-minute and 1-hour samples as it ages, then expires it', () => {
    const db = MetricsDb.open({
      path: path.join(dir, 'm.db'),
      retention: {
        levels: [
          { stepMs: 0, retainMs: 2 * DAY },
          { stepMs: MIN, retainMs: 10 * DAY },
          { stepMs: HOUR, retainMs: 20 * DAY },
        ],
      },
    });
    const labels = { __name__: 'g' };
    // 15 s samples for 25 days; maintenance every simulated 6 hours.
    for (let t = T0; t < T0 + 25 * DAY; t += 15_000) {
      db.append(labels, t, (t - T0) / 15_000);
      if ((t - T0) % (6 * HOUR) === 0) db.maintain(t);
    }
    const now = T0 + 25 * DAY;
    db.maintain(now);
    const s = db.select([{ name: '__name__', op: '=', value: 'g' }], 0, Infinity)[0]!;
    const gaps = (from: number, to: number): number[] => {
      const out = new Set<number>();
      for (let i = 1; i < s.t.length; i++) if (s.t[i - 1]! >= from && s.t[i]! <= to) out.add(s.t[i]! - s.t[i - 1]!);
      return [...out];
    };
    // Nothing older than 20 days; hourly between 20 and 10 days ago; per minute to 2 days ago; raw after.
    expect(s.t[0]!).toBeGreaterThanOrEqual(now - 20 * DAY - HOUR);
    expect(gaps(now - 19 * DAY, now - 11 * DAY)).toEqual([HOUR]);
    expect(gaps(now - 9 * DAY, now - 3 * DAY)).toEqual([MIN]);
    expect(gaps(now - 1 * DAY, now)).toEqual([15_000]);
    // Rollups keep the last sample of each step: values stay those of the raw samples at those times.
    for (let i = 0; i < s.t.length; i += 97) expect(s.v[i]).toBe((s.t[i]! - T0) / 15_000);
    // Strictly increasing timestamps across the level boundaries.
    for (let i = 1; i < s.t.length; i++) expect(s.t[i]!).toBeGreaterThan(s.t[i - 1]!);
    db.close();
  });

  it('keeps the store within the byte bound by dropping the oldest data first', () => {
    const maxBytes = 256 * 1024;
    const db = MetricsDb.open({
      path: path.join(dir, 'm.db'),
      retention: { levels: [{ stepMs: 0, retainMs: 365 * DAY }], maxBytes },
    });
    let t = T0;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 2000; i++, t += 10_000) {
        for (let s = 0; s < 20; s++) db.append({ __name__: 'noise', s: String(s) }, t, Math.sin(i * s) * 1000);
      }
      const report = db.maintain(t);
      expect(report.bytesInUse).toBeLessThanOrEqual(maxBytes);
    }
    const kept = db.select([{ name: '__name__', op: '=', value: 'noise' }], 0, Infinity);
    expect(kept).toHaveLength(20);
    // The newest samples survive; the oldest went.
    expect(kept[0]!.t.at(-1)).toBe(t - 10_000);
    expect(kept[0]!.t[0]!).toBeGreaterThan(T0);
    expect(db.stats().bytesOnDisk).toBeLessThanOrEqual(maxBytes * 1.25);
    db.close();
  });

  it('survives SIGKILL while ingesting: the file opens cleanly, flushed samples are all there, series continue', async () => {
    const file = path.join(dir, 'metrics.db');
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'test/observe/fixtures/ingest-child.mjs'), file, String(T0)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let lastFlushed = 0;
    let flushes = 0;
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`ingest child exited early with ${code}`)));
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) {
          lastFlushed = Number(l.split(' ')[1]);
          // Kill in the middle of ingestion, after several flushes have been acknowledged.
          if (++flushes === 8) {
            child.removeAllListeners('exit');
            child.kill('SIGKILL');
            child.on('exit', () => resolve());
          }
        }
      });
    });
    expect(existsSync(file)).toBe(true);
    const raw = new Database(file);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();

    const db = MetricsDb.open({ path: file });
    const series = db.select([{ name: '__name__', op: '=', value: 'crash_total' }], 0, Infinity);
    expect(series).toHaveLength(20);
    for (const s of series) {
      const last = s.t.at(-1)!;
      expect(last).toBeGreaterThanOrEqual(lastFlushed);
      // Every sample up to the last durable one, none missing.
      expect(s.t.length).toBe((last - T0) / 1000 + 1);
      expect(s.v.at(-1)).toBe(last / 1000);
    }
    const next = Math.max(...series.map((s) => s.t.at(-1)!)) + 1000;
    expect(db.append({ __name__: 'crash_total', series: '3' }, next, next / 1000)).toBe('stored');
    db.close();
  });
});
