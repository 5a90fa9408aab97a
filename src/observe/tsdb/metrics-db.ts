/**
 * The embedded time-series store: series identified by sorted label sets, samples in compressed
 * chunks (chunk.ts) stored as rows of a SQLite file of their own (e.g. `<stateDir>/metrics.db`,
 * WAL mode), downsampled and expired by a retention policy bounded by age and by size.
 *
 * Writes go to an in-memory head chunk per series. A head is written to the file when it holds
 * `chunkSamples` samples (batched) and, partially, by `flush()` (on a timer when `timers` is
 * given, and on close). A partial head is rewritten in place by the next flush, so chunks stay
 * full-sized. Every write is one SQLite transaction: a process killed at any point loses at most
 * what was appended since the last flush, and the file stays consistent.
 *
 * The file's `user_version` is its layout version (STORE_FORMAT). A file of an older format
 * (1: chunks of xor-chunk.ts and a by-age index; 2: chunks of chunk-v2.ts) is rewritten to the
 * current format when opened, in one transaction: a crash during the rewrite leaves the old file
 * as it was.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Timer, Timers } from '../../util/clock.js';
import {
  compileMatcher,
  labelsFromKey,
  labelsKey,
  matchesAll,
  type CompiledMatcher,
  type LabelMatcher,
  type Labels,
} from '../../promql/labels.js';
import { DEFAULT_RETENTION, validateRetention, type RetentionPolicy } from './retention.js';
import type { AppendOptions, AppendOutcome, MetricsSink } from './sink.js';
import { chunkCount, ChunkEncoder, decodeChunk, type ChunkSamples } from './chunk.js';
import { decodeChunkV2 } from './chunk-v2.js';
import { decodeXorChunk } from './xor-chunk.js';

export interface MetricsDbOptions {
  /** The SQLite file; created when missing. */
  path: string;
  /** Age and size bounds. Default DEFAULT_RETENTION (no size bound). */
  retention?: RetentionPolicy;
  /** Series a single target may create; new series beyond it are dropped and counted. Default 10,000. */
  maxSeriesPerTarget?: number;
  /**
   * Samples per chunk before it is sealed. Default 240: twice Prometheus's 120, which halves the
   * per-row cost of the file (key columns, index entry: 0.2 of ~1.8 bytes a sample at 120) for
   * 1.9 KB more memory per active series (a head holds its samples unpacked, 16 bytes each).
   */
  chunkSamples?: number;
  /** When given, heads are flushed every `flushIntervalMs` and maintenance runs every `maintainIntervalMs`. */
  timers?: Timers;
  /** Default 10 s: the most a crash can lose. */
  flushIntervalMs?: number;
  /** Default 15 min. */
  maintainIntervalMs?: number;
}

/** One series' samples in a time range, oldest first. */
export interface SeriesSamples {
  labels: Labels;
  t: number[];
  v: number[];
  /** Timestamps holding Prometheus's staleness marker (the series ended there); absent when none. */
  stale?: ReadonlySet<number>;
}

export interface MetricsDbStats {
  series: number;
  /** Samples rejected for being at or before their series' last sample. */
  droppedOutOfOrder: number;
  /** Samples of new series refused by the per-target series limit, by target. */
  droppedBySeriesLimit: Record<string, number>;
  /** Bytes of the database file and its WAL on disk. */
  bytesOnDisk: number;
  /** Bytes of database pages holding data (what the size bound applies to). */
  bytesInUse: number;
}

export interface MaintenanceReport {
  /** Chunks turned into rollups at the next level, per level step (ms). */
  rolledUp: number;
  /** Chunks dropped for age at the last level. */
  expired: number;
  /** Chunks dropped, oldest first, to fit the size bound. */
  droppedForSize: number;
  bytesInUse: number;
}

interface SeriesState {
  id: number;
  labels: Labels;
  target: string;
  head: ChunkEncoder | null;
  /** The head changed since it was last written. */
  dirty: boolean;
  /** Last timestamp appended or stored: later samples must be after it. */
  lastT: number;
}

interface ChunkRow {
  series_id: number;
  res: number;
  min_t: number;
  max_t: number;
  data: Buffer;
}

const SEALED_BATCH = 256;

/** The layout this build writes, kept in the file's user_version (files before it have 0). */
export const STORE_FORMAT = 3;

/** Prometheus's staleness marker, read from a typed array each time so its NaN payload survives. */
const STALE_BITS = new Float64Array(new Uint32Array([0x00000002, 0x7ff00000]).buffer);

export class MetricsStoreFormatError extends Error {}

export class MetricsDb implements MetricsSink {
  private readonly db: Database.Database;
  private readonly byKey = new Map<string, SeriesState>();
  private readonly keyCache = new WeakMap<Labels, string>();
  private readonly byId = new Map<number, SeriesState>();
  /** Postings: label name → value → series. */
  private readonly postings = new Map<string, Map<string, Set<SeriesState>>>();
  private readonly seriesPerTarget = new Map<string, number>();
  private readonly sealed: Array<{ s: SeriesState; enc: ChunkEncoder }> = [];
  private readonly retention: RetentionPolicy;
  private readonly maxSeriesPerTarget: number;
  private readonly chunkSamples: number;
  private readonly timers: Timer[] = [];
  private droppedOutOfOrder = 0;
  private readonly droppedBySeriesLimit: Record<string, number> = {};
  private closed = false;
  private readonly stmt: {
    insertSeries: Database.Statement<[string, string]>;
    upsertChunk: Database.Statement<[number, number, number, number, Buffer]>;
    chunksInRange: Database.Statement<[number, number, number], ChunkRow>;
    firstChunkPerRes: Database.Statement<[number], { res: number; first: number }>;
  };

  private constructor(private readonly options: MetricsDbOptions) {
    this.retention = options.retention ?? DEFAULT_RETENTION;
    const problems = validateRetention(this.retention);
    if (problems.length > 0) throw new Error(problems.join('\n'));
    this.maxSeriesPerTarget = options.maxSeriesPerTarget ?? 10_000;
    this.chunkSamples = options.chunkSamples ?? 240;
    // Private like the state store (0600): SQLite gives its -wal and -shm files the main file's mode.
    fs.closeSync(fs.openSync(options.path, 'a', 0o600));
    fs.chmodSync(options.path, 0o600);
    this.db = new Database(options.path);
    // Must precede the first table so freed pages can be returned to the file system later.
    this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL loses nothing on a process crash (only on power loss, the last commits).
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
    for (const f of [`${options.path}-wal`, `${options.path}-shm`]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
    this.stmt = {
      insertSeries: this.db.prepare('INSERT INTO series (labels, target) VALUES (?, ?)'),
      upsertChunk: this.db.prepare(
        'INSERT OR REPLACE INTO chunks (series_id, res, min_t, max_t, data) VALUES (?, ?, ?, ?, ?)',
      ),
      chunksInRange: this.db.prepare(
        'SELECT series_id, res, min_t, max_t, data FROM chunks WHERE series_id = ? AND max_t >= ? AND min_t <= ? ORDER BY res, min_t',
      ),
      firstChunkPerRes: this.db.prepare('SELECT res, MIN(min_t) AS first FROM chunks WHERE series_id = ? GROUP BY res'),
    };
    this.load();
    const timers = options.timers;
    if (timers) {
      this.timers.push(timers.setInterval(() => this.flush(), options.flushIntervalMs ?? 10_000, { background: true }));
      this.timers.push(
        timers.setInterval(() => this.maintain(), options.maintainIntervalMs ?? 15 * 60_000, { background: true }),
      );
    }
  }

  /** Opens (or creates) the store. The clock of the samples is the caller's: timestamps are passed in. */
  static open(options: MetricsDbOptions): MetricsDb {
    return new MetricsDb(options);
  }

  /**
   * Creates the tables of a new file, or brings a file of an older format to STORE_FORMAT.
   * Throws MetricsStoreFormatError for a file from a newer Groundwork.
   */
  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > STORE_FORMAT) {
      throw new MetricsStoreFormatError(
        `metrics store ${this.options.path} has format ${version}, newer than this Groundwork's ${STORE_FORMAT}; ` +
          'upgrade Groundwork, or move the file away to start an empty store',
      );
    }
    if (version === STORE_FORMAT) return;
    const hasChunks = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks'").get();
    // Format 1 (user_version 0): chunks of xor-chunk.ts, a count column and an index by age.
    // Format 2: chunks of chunk-v2.ts. Both are re-packed into chunk format 3.
    const decodeOld = version === 0 ? decodeXorChunk : decodeChunkV2;
    this.db.transaction(() => {
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS series (
          id INTEGER PRIMARY KEY,
          labels TEXT NOT NULL UNIQUE,
          target TEXT NOT NULL
        );
        -- A rowid table, not WITHOUT ROWID: the latter keeps under ~1,000 bytes of a row in its
        -- page and moves the rest of a chunk to an overflow page of its own (4 KiB per chunk), and
        -- rows appended in rowid order fill their pages. No index by age: maintenance scans.
        CREATE TABLE chunks_new (
          id INTEGER PRIMARY KEY,
          series_id INTEGER NOT NULL,
          res INTEGER NOT NULL,
          min_t INTEGER NOT NULL,
          max_t INTEGER NOT NULL,
          data BLOB NOT NULL,
          UNIQUE (series_id, res, min_t)
        );
      `);
      if (hasChunks) {
        const insert = this.db.prepare(
          'INSERT INTO chunks_new (series_id, res, min_t, max_t, data) VALUES (?, ?, ?, ?, ?)',
        );
        // In pages: a connection cannot write while it iterates, and a large file should not be read whole.
        const page = this.db.prepare(
          'SELECT id, series_id, res, min_t, max_t, data FROM chunks WHERE id > ? ORDER BY id LIMIT 1000',
        );
        for (let after = -1; ;) {
          const rows = page.all(after) as Array<ChunkRow & { id: number }>;
          if (rows.length === 0) break;
          for (const r of rows) {
            const d = decodeOld(r.data);
            const enc = new ChunkEncoder(d.t.length);
            for (let i = 0; i < d.t.length; i++) {
              const t = d.t[i]!;
              enc.append(t, d.stale?.has(t) ? STALE_BITS[0]! : d.v[i]!);
            }
            insert.run(r.series_id, r.res, r.min_t, r.max_t, Buffer.from(enc.bytes()));
          }
          after = rows.at(-1)!.id;
        }
        this.db.exec('DROP INDEX IF EXISTS chunks_by_age; DROP TABLE chunks;');
      }
      this.db.exec('ALTER TABLE chunks_new RENAME TO chunks');
      this.db.pragma(`user_version = ${STORE_FORMAT}`);
    })();
    // The old table's pages are free now; give them back to the file system.
    if (hasChunks) this.db.pragma('incremental_vacuum');
  }

  private load(): void {
    const lastT = new Map<number, number>();
    for (const r of this.db.prepare('SELECT series_id, MAX(max_t) AS t FROM chunks GROUP BY series_id').all() as Array<{
      series_id: number;
      t: number;
    }>) {
      lastT.set(r.series_id, r.t);
    }
    for (const r of this.db.prepare('SELECT id, labels, target FROM series').all() as Array<{
      id: number;
      labels: string;
      target: string;
    }>) {
      this.index(
        {
          id: r.id,
          labels: labelsFromKey(r.labels),
          target: r.target,
          head: null,
          dirty: false,
          lastT: lastT.get(r.id) ?? -Infinity,
        },
        r.labels,
      );
    }
  }

  private index(s: SeriesState, key: string): void {
    this.byKey.set(key, s);
    this.byId.set(s.id, s);
    this.seriesPerTarget.set(s.target, (this.seriesPerTarget.get(s.target) ?? 0) + 1);
    for (const [name, value] of Object.entries(s.labels)) {
      let values = this.postings.get(name);
      if (!values) this.postings.set(name, (values = new Map()));
      let set = values.get(value);
      if (!set) values.set(value, (set = new Set()));
      set.add(s);
    }
  }

  private unindex(s: SeriesState): void {
    this.byKey.delete(labelsKey(s.labels));
    this.byId.delete(s.id);
    this.seriesPerTarget.set(s.target, (this.seriesPerTarget.get(s.target) ?? 1) - 1);
    for (const [name, value] of Object.entries(s.labels)) this.postings.get(name)?.get(value)?.delete(s);
  }

  append(labels: Labels, timestampMs: number, value: number, options: AppendOptions = {}): AppendOutcome {
    this.assertOpen();
    // Producers that keep their label objects (collectors, the bench) skip sorting them each time.
    let key = this.keyCache.get(labels);
    if (key === undefined) {
      key = labelsKey(labels);
      this.keyCache.set(labels, key);
    }
    let s = this.byKey.get(key);
    if (!s) {
      const target = options.target ?? '';
      if ((this.seriesPerTarget.get(target) ?? 0) >= (options.seriesLimit ?? this.maxSeriesPerTarget)) {
        this.droppedBySeriesLimit[target] = (this.droppedBySeriesLimit[target] ?? 0) + 1;
        return 'series-limit';
      }
      const id = Number(this.stmt.insertSeries.run(key, target).lastInsertRowid);
      s = { id, labels: labelsFromKey(key), target, head: null, dirty: false, lastT: -Infinity };
      this.index(s, key);
    }
    if (!(timestampMs > s.lastT)) {
      this.droppedOutOfOrder++;
      return 'out-of-order';
    }
    const head = s.head ?? (s.head = new ChunkEncoder());
    head.append(timestampMs, value);
    s.lastT = timestampMs;
    s.dirty = true;
    if (head.count >= this.chunkSamples) {
      this.sealed.push({ s, enc: head });
      s.head = null;
      s.dirty = false;
      if (this.sealed.length >= SEALED_BATCH) this.writeSealed();
    }
    return 'stored';
  }

  private writeSealed(): void {
    this.db.transaction(() => {
      for (const { s, enc } of this.sealed) this.writeChunk(s.id, 0, enc);
    })();
    this.sealed.length = 0;
  }

  private writeChunk(seriesId: number, res: number, enc: ChunkEncoder): void {
    this.stmt.upsertChunk.run(seriesId, res, enc.minT, enc.maxT, Buffer.from(enc.bytes()));
  }

  /** Writes sealed chunks and every changed head, in one transaction. */
  flush(): void {
    if (this.closed) return;
    this.db.transaction(() => {
      for (const { s, enc } of this.sealed) this.writeChunk(s.id, 0, enc);
      for (const s of this.byId.values()) {
        if (s.dirty && s.head) this.writeChunk(s.id, 0, s.head);
        s.dirty = false;
      }
    })();
    this.sealed.length = 0;
  }

  /** Series matching every matcher (names and labels only). */
  series(matchers: readonly LabelMatcher[]): Labels[] {
    return this.candidates(matchers.map(compileMatcher)).map((s) => s.labels);
  }

  private candidates(matchers: readonly CompiledMatcher[]): SeriesState[] {
    // Start from the smallest posting list of an equality matcher, then filter by all matchers.
    let base: Iterable<SeriesState> = this.byId.values();
    let smallest = Infinity;
    for (const m of matchers) {
      if (m.op !== '=' || m.value === '') continue;
      const set = this.postings.get(m.name)?.get(m.value);
      if (!set) return [];
      if (set.size < smallest) {
        smallest = set.size;
        base = set;
      }
    }
    const out: SeriesState[] = [];
    for (const s of base) if (matchesAll(s.labels, matchers)) out.push(s);
    return out;
  }

  /**
   * Samples of the series matching every matcher with timestamps in [minT, maxT]. Where raw data
   * has aged into rollups, the rollups fill the time before the first raw sample.
   */
  select(matchers: readonly LabelMatcher[], minT: number, maxT: number): SeriesSamples[] {
    this.assertOpen();
    this.flush();
    const out: SeriesSamples[] = [];
    for (const s of this.candidates(matchers.map(compileMatcher))) {
      const samples = this.readSeries(s.id, minT, maxT);
      if (samples.t.length > 0) {
        out.push({ labels: s.labels, t: samples.t, v: samples.v, ...(samples.stale ? { stale: samples.stale } : {}) });
      }
    }
    return out;
  }

  private readSeries(seriesId: number, minT: number, maxT: number): ChunkSamples {
    const rows = this.stmt.chunksInRange.all(seriesId, minT, maxT);
    const out: ChunkSamples = { t: [], v: [] };
    if (rows.length === 0) return out;
    if (rows.every((r) => r.res === 0)) {
      // Raw data only (the common case): chunks wholly inside the range decode straight into the result.
      for (const r of rows) {
        if (r.min_t >= minT && r.max_t <= maxT) {
          decodeChunk(r.data, out);
          continue;
        }
        const d = decodeChunk(r.data);
        for (let i = 0; i < d.t.length; i++) {
          const t = d.t[i]!;
          if (t < minT || t > maxT) continue;
          out.t.push(t);
          out.v.push(d.v[i]!);
          if (d.stale?.has(t)) (out.stale ??= new Set()).add(t);
        }
      }
      return out;
    }
    const firstByRes = new Map<number, number>();
    {
      for (const r of this.stmt.firstChunkPerRes.all(seriesId)) firstByRes.set(r.res, r.first);
    }
    // Each level covers the time before the first sample of every finer level.
    const steps = this.retention.levels.map((l) => l.stepMs);
    const parts: ChunkSamples[] = [];
    for (let li = steps.length - 1; li >= 0; li--) {
      const res = steps[li]!;
      let limit = Infinity;
      for (let f = 0; f < li; f++) limit = Math.min(limit, firstByRes.get(steps[f]!) ?? Infinity);
      const part: ChunkSamples = { t: [], v: [] };
      for (const r of rows) {
        if (r.res !== res) continue;
        const d = decodeChunk(r.data);
        for (let i = 0; i < d.t.length; i++) {
          const t = d.t[i]!;
          if (t >= minT && t <= maxT && t < limit) {
            part.t.push(t);
            part.v.push(d.v[i]!);
            if (d.stale?.has(t)) (out.stale ??= new Set()).add(t);
          }
        }
      }
      parts.push(part);
    }
    for (const p of parts) {
      for (let i = 0; i < p.t.length; i++) {
        out.t.push(p.t[i]!);
        out.v.push(p.v[i]!);
      }
    }
    return out;
  }

  /**
   * Rolls aged chunks up into the next level, drops what is past the last level, then drops the
   * oldest chunks until the store fits `maxBytes`, and returns freed pages to the file system.
   * Each step is one transaction.
   */
  maintain(nowMs: number = this.options.timers?.now().getTime() ?? Date.now()): MaintenanceReport {
    this.assertOpen();
    this.flush();
    const report: MaintenanceReport = { rolledUp: 0, expired: 0, droppedForSize: 0, bytesInUse: 0 };
    const levels = this.retention.levels;
    // Heads older than the raw cutoff belong to the rollup now; the next sample starts a new chunk.
    const rawCutoff = nowMs - levels[0]!.retainMs;
    for (const s of this.byId.values()) if (s.head && s.head.maxT < rawCutoff) s.head = null;

    for (let li = 0; li < levels.length; li++) {
      const level = levels[li]!;
      const cutoff = nowMs - level.retainMs;
      const next = levels[li + 1];
      this.db.transaction(() => {
        const rows = this.db
          .prepare(
            'SELECT series_id, res, min_t, max_t, data FROM chunks WHERE res = ? AND max_t < ? ORDER BY series_id, min_t',
          )
          .all(level.stepMs, cutoff) as ChunkRow[];
        if (rows.length === 0) return;
        if (next) {
          let i = 0;
          while (i < rows.length) {
            const seriesId = rows[i]!.series_id;
            const samples: ChunkSamples = { t: [], v: [] };
            for (; i < rows.length && rows[i]!.series_id === seriesId; i++) decodeChunk(rows[i]!.data, samples);
            this.appendRollup(seriesId, next.stepMs, samples);
          }
          report.rolledUp += rows.length;
        } else {
          report.expired += rows.length;
        }
        this.db.prepare('DELETE FROM chunks WHERE res = ? AND max_t < ?').run(level.stepMs, cutoff);
      })();
      if (!next) this.trimChunks(level.stepMs, cutoff);
    }

    const maxBytes = this.retention.maxBytes;
    if (maxBytes !== undefined) {
      for (let guard = 0; guard < 1000 && this.bytesInUse() > maxBytes; guard++) {
        const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM chunks').get() as { n: number };
        if (n === 0) break;
        const used = this.bytesInUse();
        const perChunk = used / n;
        const drop = Math.max(1, Math.ceil((used - maxBytes) / perChunk));
        const dropped = this.db
          .prepare(
            'DELETE FROM chunks WHERE (series_id, res, min_t) IN (SELECT series_id, res, min_t FROM chunks ORDER BY max_t LIMIT ?)',
          )
          .run(drop).changes;
        report.droppedForSize += dropped;
      }
    }
    this.dropEmptySeries();
    this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    report.bytesInUse = this.bytesInUse();
    return report;
  }

  /**
   * Drops the samples before `cutoff` from the chunks of level `res` that straddle it: a chunk of
   * a coarse level spans days (240 hourly samples: 10), so whole-chunk expiry would keep that much
   * past the retention.
   */
  private trimChunks(res: number, cutoff: number): void {
    this.db.transaction(() => {
      const rows = this.db
        .prepare('SELECT series_id, res, min_t, max_t, data FROM chunks WHERE res = ? AND min_t < ? AND max_t >= ?')
        .all(res, cutoff, cutoff) as ChunkRow[];
      const del = this.db.prepare('DELETE FROM chunks WHERE series_id = ? AND res = ? AND min_t = ?');
      for (const r of rows) {
        const d = decodeChunk(r.data);
        const enc = new ChunkEncoder(d.t.length);
        for (let i = 0; i < d.t.length; i++) {
          const t = d.t[i]!;
          if (t >= cutoff) enc.append(t, d.stale?.has(t) ? STALE_BITS[0]! : d.v[i]!);
        }
        del.run(r.series_id, res, r.min_t);
        this.writeChunk(r.series_id, res, enc);
      }
    })();
  }

  /** Merges samples into the series' rollup at `stepMs`: the last sample of each step is kept. */
  private appendRollup(seriesId: number, stepMs: number, samples: ChunkSamples): void {
    const last = this.db
      .prepare(
        'SELECT series_id, res, min_t, max_t, data FROM chunks WHERE series_id = ? AND res = ? ORDER BY min_t DESC LIMIT 1',
      )
      .get(seriesId, stepMs) as ChunkRow | undefined;
    const merged: ChunkSamples = { t: [], v: [] };
    const lastFull = last !== undefined && chunkCount(last.data) >= this.chunkSamples;
    if (last && !lastFull) {
      decodeChunk(last.data, merged);
      this.db
        .prepare('DELETE FROM chunks WHERE series_id = ? AND res = ? AND min_t = ?')
        .run(seriesId, stepMs, last.min_t);
    }
    const floor = last && lastFull ? last.max_t : -Infinity;
    for (let i = 0; i < samples.t.length; i++) {
      const t = samples.t[i]!;
      if (t <= floor) continue;
      const lastIdx = merged.t.length - 1;
      if (lastIdx >= 0 && t <= merged.t[lastIdx]!) continue;
      if (lastIdx >= 0 && Math.floor(t / stepMs) === Math.floor(merged.t[lastIdx]! / stepMs)) {
        merged.t[lastIdx] = t;
        merged.v[lastIdx] = samples.v[i]!;
      } else {
        merged.t.push(t);
        merged.v.push(samples.v[i]!);
      }
    }
    let enc = new ChunkEncoder();
    for (let i = 0; i < merged.t.length; i++) {
      enc.append(merged.t[i]!, merged.v[i]!);
      if (enc.count >= this.chunkSamples) {
        this.writeChunk(seriesId, stepMs, enc);
        enc = new ChunkEncoder();
      }
    }
    if (enc.count > 0) this.writeChunk(seriesId, stepMs, enc);
  }

  private dropEmptySeries(): void {
    const withData = new Set(
      (this.db.prepare('SELECT DISTINCT series_id AS id FROM chunks').all() as Array<{ id: number }>).map((r) => r.id),
    );
    const gone = [...this.byId.values()].filter((s) => !s.head && !withData.has(s.id));
    if (gone.length === 0) return;
    const del = this.db.prepare('DELETE FROM series WHERE id = ?');
    this.db.transaction(() => {
      for (const s of gone) del.run(s.id);
    })();
    for (const s of gone) this.unindex(s);
  }

  private bytesInUse(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  stats(): MetricsDbStats {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    let wal = 0;
    try {
      wal = fs.statSync(`${this.options.path}-wal`).size;
    } catch {
      // No WAL file right after a truncating checkpoint.
    }
    return {
      series: this.byId.size,
      droppedOutOfOrder: this.droppedOutOfOrder,
      droppedBySeriesLimit: { ...this.droppedBySeriesLimit },
      bytesOnDisk: pages * pageSize + wal,
      bytesInUse: this.bytesInUse(),
    };
  }

  /** Flushes, stops the timers, closes the file. Idempotent. */
  close(): void {
    if (this.closed) return;
    for (const t of this.timers) t.cancel();
    this.flush();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`metrics store ${this.options.path} is closed; open it again with MetricsDb.open`);
  }
}
