/**
 * Where the bytes of the TSDB bench's files go: chunk data, the rest of the table's pages (row
 * headers, keys and free space), and indexes, per sample. Same samples as tsdb.bench.ts.
 *
 *   npx tsx bench/tsdb-breakdown.ts [chunkSamples]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MetricsDb } from '../src/observe/tsdb/metrics-db.js';
import { dataset, exporterDataset, type Dataset } from './tsdb-data.js';

const HOUR = 3_600_000;

function breakdown(name: string, data: Dataset, dir: string, chunkSamples: number | undefined): void {
  const file = path.join(dir, `${name}.db`);
  const db = MetricsDb.open({
    path: file,
    retention: { levels: [{ stepMs: 0, retainMs: 3650 * 24 * HOUR }] },
    ...(chunkSamples ? { chunkSamples } : {}),
  });
  const cpu0 = process.cpuUsage();
  data.forEach((i, t, v) => db.append(data.series[i]!, t, v));
  db.flush();
  const cpu = process.cpuUsage(cpu0);
  db.close();
  const raw = new Database(file, { readonly: true });
  const chunkBytes = (raw.prepare('SELECT SUM(LENGTH(data)) AS n FROM chunks').get() as { n: number }).n;
  const rows = raw
    .prepare('SELECT name, SUM(pgsize) AS bytes, SUM(unused) AS unused FROM dbstat GROUP BY name ORDER BY bytes DESC')
    .all() as Array<{ name: string; bytes: number; unused: number }>;
  raw.close();
  const total = statSync(file).size;
  const per = (b: number): string => (b / data.samples).toFixed(3);
  const chunkPages = rows.find((r) => r.name === 'chunks')?.bytes ?? 0;
  console.log(
    `${name}: ${per(total)} B/sample (${total} bytes, ${data.samples} samples); ingest ${(((cpu.user + cpu.system) / data.samples) * 1).toFixed(2)} µs CPU/sample`,
  );
  console.log(`  chunk data ${per(chunkBytes)}, rest of the chunks table's pages ${per(chunkPages - chunkBytes)}`);
  for (const r of rows) console.log(`  ${r.name}: ${per(r.bytes)} (unused ${per(r.unused)})`);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'tsdb-breakdown-'));
const chunkSamples = process.argv[2] ? Number(process.argv[2]) : undefined;
const end = Math.floor(Date.UTC(2026, 11, 1) / HOUR) * HOUR;
try {
  breakdown('noisy', dataset(200, end - 12 * HOUR, 12 * HOUR, 15_000, 5), dir, chunkSamples);
  breakdown('exporter', exporterDataset(200, end - 12 * HOUR, 12 * HOUR, 15_000), dir, chunkSamples);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
