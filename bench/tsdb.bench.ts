/**
 * The embedded TSDB and PromQL engine against Prometheus 2.42 (Debian's package) on the same samples.
 *
 * - Bytes per sample at rest: 200 series (half counters, half gauges with two decimals) scraped
 *   every 15 s (±5 ms jitter) for 12 hours, 576,000 samples: deliberately noisy, every value
 *   moves by a random amount. Then 200 exporter-like series for 12 hours (a third each: counters
 *   growing by 0..20, byte gauges that change now and then in pages, load-average-like gauges
 *   with two decimals drifting slowly; ±2 ms jitter). Groundwork: the SQLite file after
 *   flush and checkpoint. Prometheus: the same samples written as OpenMetrics and turned into
 *   blocks by `promtool tsdb create-blocks-from openmetrics` (2-hour blocks; chunks, index, meta).
 * - Ingestion CPU per sample: process CPU time of the appends (Groundwork, in-process) and of the
 *   promtool import (Prometheus: it also parses the OpenMetrics text, so it is an upper bound).
 * - Query latency: `sum by (job) (rate(bench_requests_total[5m]))` over 24 hours at a 15 s step
 *   (5,761 steps) over 1,000 series sampled every 60 s (1.44 M samples). Groundwork: the engine
 *   in-process; Prometheus: its HTTP API on loopback, serving the imported blocks.
 * - 30-day simulation: 50 series every 60 s for 30 simulated days, default rollups (raw 2 days,
 *   1 min 30 days, 1 h 2 years) and a 1.5 MiB bound, maintenance every simulated hour: the disk
 *   use per day levels off at the bound.
 *
 * Targets: bytes per sample <= 2; disk use at day 30 <= the bound.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { PromqlEngine } from '../src/observe/promql/engine.js';
import { MetricsDb } from '../src/observe/tsdb/metrics-db.js';
import { defineBench, type BenchContext, type BenchResult } from './harness/bench.js';
import { median } from './harness/median.js';
import { dataset, exporterDataset, lcg, type Dataset } from './tsdb-data.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

function fileBytes(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // absent after a truncating checkpoint
    }
  }
  return total;
}

function ingest(file: string, data: Dataset): { cpuMs: number } {
  const db = MetricsDb.open({ path: file, retention: { levels: [{ stepMs: 0, retainMs: 3650 * DAY }] } });
  const cpu0 = process.cpuUsage();
  data.forEach((i, t, v) => db.append(data.series[i]!, t, v));
  db.flush();
  const cpu = process.cpuUsage(cpu0);
  db.close();
  return { cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function writeOpenMetrics(file: string, data: Dataset): Promise<void> {
  const out = createWriteStream(file);
  const byName = new Map<string, number[]>();
  data.series.forEach((s, i) => byName.set(s.__name__!, [...(byName.get(s.__name__!) ?? []), i]));
  let buf = '';
  const flush = async (): Promise<void> => {
    if (!out.write(buf)) await once(out, 'drain');
    buf = '';
  };
  // OpenMetrics wants each family's samples together, under one TYPE line.
  for (const [name, indexes] of byName) {
    buf += `# TYPE ${name.replace(/_total$/, '')} ${name.endsWith('_total') ? 'counter' : 'gauge'}\n`;
    const wanted = new Set(indexes);
    data.forEach((i, t, v) => {
      if (!wanted.has(i)) return;
      const s = data.series[i]!;
      buf += `${name}{job="${s.job}",instance="${s.instance}"} ${v} ${(t / 1000).toFixed(3)}\n`;
    });
    await flush();
  }
  buf += '# EOF\n';
  await flush();
  out.end();
  await once(out, 'finish');
}

/** Runs promtool's import under bash so `times` reports the child's CPU time. */
function promtoolImport(omFile: string, outDir: string): { cpuMs: number } {
  const out = execFileSync(
    'bash',
    ['-c', 'promtool tsdb create-blocks-from openmetrics --quiet "$1" "$2" >/dev/null && times', '_', omFile, outDir],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  );
  // `times` prints the shell's then its children's user and system time: "0m1.234s 0m0.100s".
  const children = out.trim().split('\n').at(-1)!;
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { cpuMs: (secs[0]! + secs[1]!) * 1000 };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function withPrometheus<T>(dataDir: string, ctx: BenchContext, fn: (url: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const config = path.join(ctx.workDir, 'prometheus.yml');
  writeFileSync(config, 'global:\n  scrape_interval: 1m\n');
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=30d',
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/-/ready`)).ok) break;
      } catch {
        // starting
      }
      if (Date.now() > deadline) throw new Error(`prometheus on ${url} not ready within 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return await fn(url);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export default defineBench({
  name: 'tsdb',
  description:
    'TSDB bytes/sample, ingest CPU, PromQL range-query latency vs Prometheus 2.42; 30-day size-bounded simulation',
  async run(ctx) {
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error('promtool not found: install the Debian package prometheus (apt-get install prometheus)');
    }
    const results: BenchResult[] = [];
    const end = Math.floor(Date.now() / HOUR) * HOUR;

    // 1. Bytes per sample and ingestion CPU.
    const a = dataset(200, end - 12 * HOUR, 12 * HOUR, 15_000, 5);
    const ourFile = path.join(ctx.workDir, 'a-metrics.db');
    ctx.log(`tsdb: ingesting ${a.samples.toLocaleString('en-US')} samples into Groundwork`);
    const ours = ingest(ourFile, a);
    const ourBytes = fileBytes(ourFile);
    const omFile = path.join(ctx.workDir, 'a.om');
    await writeOpenMetrics(omFile, a);
    const promDir = path.join(ctx.workDir, 'a-prometheus');
    mkdirSync(promDir);
    ctx.log('tsdb: importing the same samples with promtool');
    const prom = promtoolImport(omFile, promDir);
    const promBytes = dirBytes(promDir);
    results.push({
      name: '200 series × 12 h at 15 s (576k samples)',
      metric: 'bytes per sample at rest',
      value: ourBytes / a.samples,
      unit: 'B',
      reference: { name: 'Prometheus 2.42 blocks', value: promBytes / a.samples },
      target: { kind: 'max', value: 2 },
      details: { groundworkBytes: ourBytes, prometheusBytes: promBytes },
    });
    results.push({
      name: '200 series × 12 h at 15 s (576k samples)',
      metric: 'ingestion CPU per sample',
      value: (ours.cpuMs * 1000) / a.samples,
      unit: 'µs',
      reference: { name: 'promtool import (incl. text parsing)', value: (prom.cpuMs * 1000) / a.samples },
    });

    // 1b. Bytes per sample on exporter-like series.
    const e = exporterDataset(200, end - 12 * HOUR, 12 * HOUR, 15_000);
    const eFile = path.join(ctx.workDir, 'e-metrics.db');
    ingest(eFile, e);
    const eOm = path.join(ctx.workDir, 'e.om');
    await writeOpenMetrics(eOm, e);
    const eProm = path.join(ctx.workDir, 'e-prometheus');
    mkdirSync(eProm);
    promtoolImport(eOm, eProm);
    results.push({
      name: '200 exporter-like series × 12 h at 15 s (576k samples)',
      metric: 'bytes per sample at rest',
      value: fileBytes(eFile) / e.samples,
      unit: 'B',
      reference: { name: 'Prometheus 2.42 blocks', value: dirBytes(eProm) / e.samples },
      target: { kind: 'max', value: 2 },
      details: { groundworkBytes: fileBytes(eFile), prometheusBytes: dirBytes(eProm) },
    });

    // 2. Range query latency over 1,000 series.
    const b = dataset(1000, end - DAY, DAY, 60_000, 5);
    const bFile = path.join(ctx.workDir, 'b-metrics.db');
    ctx.log(`tsdb: ingesting ${b.samples.toLocaleString('en-US')} samples (1,000 series, 24 h) into both`);
    ingest(bFile, b);
    const bOm = path.join(ctx.workDir, 'b.om');
    await writeOpenMetrics(bOm, b);
    const bProm = path.join(ctx.workDir, 'b-prometheus');
    mkdirSync(bProm);
    promtoolImport(bOm, bProm);
    const query = 'sum by (job) (rate(bench_requests_total[5m]))';
    const [start, stop, step] = [end - DAY, end, 15_000];
    const db = MetricsDb.open({ path: bFile, retention: { levels: [{ stepMs: 0, retainMs: 3650 * DAY }] } });
    const engine = new PromqlEngine(db);
    const ourTimes: number[] = [];
    let ourResult = '';
    for (let r = 0; r < ctx.repeat; r++) {
      ourTimes.push(
        await timed(() => {
          const res = engine.rangeQuery(query, start, stop, step);
          ourResult = res.status === 'success' ? `${res.data.result.length} series` : res.error;
        }),
      );
    }
    db.close();
    const promTimes = await withPrometheus(bProm, ctx, async (url) => {
      const times: number[] = [];
      const params = new URLSearchParams({ query, start: String(start / 1000), end: String(stop / 1000), step: '15' });
      for (let r = 0; r < ctx.repeat; r++) {
        times.push(
          await timed(async () => {
            const res = (await (await fetch(`${url}/api/v1/query_range?${params.toString()}`)).json()) as {
              status: string;
              data?: { result: unknown[] };
            };
            if (res.status !== 'success' || res.data?.result.length !== 10)
              throw new Error(`prometheus answered ${JSON.stringify(res).slice(0, 200)}`);
          }),
        );
      }
      return times;
    });
    results.push({
      name: `${query}, 24 h at 15 s step, 1,000 series (${ourResult})`,
      metric: 'range query latency (median)',
      value: median(ourTimes),
      unit: 'ms',
      reference: { name: 'Prometheus 2.42 HTTP API', value: median(promTimes) },
      samples: ourTimes,
    });

    // 3. 30 simulated days against a size bound.
    const bound = 1.5 * 1024 * 1024;
    const simFile = path.join(ctx.workDir, 'sim-metrics.db');
    const sim = MetricsDb.open({
      path: simFile,
      retention: {
        levels: [
          { stepMs: 0, retainMs: 2 * DAY },
          { stepMs: MIN, retainMs: 30 * DAY },
          { stepMs: HOUR, retainMs: 730 * DAY },
        ],
        maxBytes: bound,
      },
    });
    const simStart = end - 30 * DAY;
    const rnd = lcg(7);
    const values = Array.from({ length: 50 }, () => rnd() * 100);
    const perDay: number[] = [];
    for (let t = simStart; t < end; t += MIN) {
      for (let s = 0; s < 50; s++) {
        values[s] = Math.round((values[s]! + rnd() - 0.5) * 100) / 100;
        sim.append({ __name__: 'sim_value', series: String(s) }, t, values[s]!);
      }
      if ((t - simStart) % HOUR === 0 && t > simStart) sim.maintain(t);
      if ((t - simStart) % DAY === 0 && t > simStart) perDay.push(fileBytes(simFile));
    }
    sim.maintain(end);
    perDay.push(fileBytes(simFile));
    sim.close();
    ctx.log(`tsdb: disk use per simulated day (KiB): ${perDay.map((b) => Math.round(b / 1024)).join(' ')}`);
    results.push({
      name: '30 simulated days, 50 series at 60 s, bound 1.5 MiB',
      metric: 'disk use at day 30',
      value: perDay.at(-1)! / 1024 / 1024,
      unit: 'MiB',
      target: { kind: 'max', value: bound / 1024 / 1024 },
      details: {
        perDayKiB: perDay.map((b) => Math.round(b / 1024)).join(' '),
        day10MiB: (perDay[9]! / 1024 / 1024).toFixed(2),
        day20MiB: (perDay[19]! / 1024 / 1024).toFixed(2),
      },
    });
    return results;
  },
});
