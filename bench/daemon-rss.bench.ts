/**
 * The daemon's memory while it supervises a stack of 50 services: `groundwork up` (dist/) on a
 * generated stack of 50 tiny Node HTTP servers, each with an HTTP health check every 2 s, 20
 * `checks:` (HTTP, every 2 s) and a `scrape:` target (a synthetic exporter in this process) sized
 * so that the metrics store holds 2,000 active series. Once every instance is healthy and the
 * store has its 2,000 series, the daemon's own VmRSS (not the services') is sampled once a second
 * for 60 s; median and max are judged against issue 12's target of 150 MB.
 *
 * A Prometheus 2.42 (Debian's) scrapes the same exporter and the daemon's /metrics (the same
 * series) during the same window; its VmRSS is the reference.
 *
 * References measured in the same run: a bare `node -e "setInterval(() => {}, 1000)"` (the floor
 * any Node daemon starts from) and the same daemon idling with a stack of 0 services (what the
 * 50 services add). The 60 s window is measured once whatever --repeat says
 * (GROUNDWORK_BENCH_RSS_SECONDS shortens it for a quick look).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { defineBench, type BenchContext, type BenchResult } from './harness/bench.js';
import { median } from './harness/median.js';
import {
  benchApi,
  processesUnder,
  sleep,
  startBenchDaemon,
  stopBenchDaemon,
  waitUntil,
  type BenchDaemon,
} from './harness/bench-daemon.js';

const SERVICES = 50;
const CHECKS = 20;
const ACTIVE_SERIES = 2000;
const TARGET_MB = 150;
const SAMPLE_SECONDS = Number(process.env.GROUNDWORK_BENCH_RSS_SECONDS ?? 60);
const IDLE_SAMPLE_SECONDS = Math.min(15, SAMPLE_SECONDS);
const MB = 1_000_000;
const MIB = 1024 * 1024;

/** The smallest useful service: answers /healthz, exits on SIGTERM. */
const SERVER = `const http = require('node:http');
http.createServer((req, res) => res.end(req.url === '/healthz' ? 'ok' : 'hello')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/** A Prometheus target serving `n` gauges; `n` is set once the daemon's own series are counted. */
class SyntheticExporter {
  n = 0;
  private tick = 0;
  private readonly server = http.createServer((req, res) => {
    if (req.url === '/healthz') return res.end('ok');
    this.tick++;
    let body = '# HELP bench_synthetic_value A synthetic gauge.\n# TYPE bench_synthetic_value gauge\n';
    for (let i = 0; i < this.n; i++) body += `bench_synthetic_value{series="${i}"} ${(i * 7 + this.tick) % 1000}\n`;
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(body);
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

function stackYaml(name: string, services: number, extra?: { checks: number; scrapeUrl: string }): string {
  const lines = [`stack: ${name}`];
  if (extra) {
    lines.push('scrape:', '  targets:', `    synth: { url: '${extra.scrapeUrl}', series_limit: ${ACTIVE_SERIES * 2} }`);
    lines.push('checks:');
    for (let i = 0; i < extra.checks; i++) {
      const svc = `svc-${String(i).padStart(2, '0')}`;
      lines.push(
        `  c${String(i).padStart(2, '0')}: { http: { url: "\${service.${svc}.url.http}/healthz" }, interval: 2s }`,
      );
    }
  }
  if (services > 0) lines.push('services:');
  for (let i = 0; i < services; i++) {
    lines.push(
      `  svc-${String(i).padStart(2, '0')}:`,
      '    command: node',
      '    args: [server.cjs]',
      '    ports: { http: auto }',
      "    env: { PORT: '${port.http}' }",
      '    health: { http: { path: /healthz }, interval: 2s, timeout: 1s }',
      '    stop_grace: 2s',
    );
  }
  return `${lines.join('\n')}\n`;
}

function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Status {
  services: { name: string; replicas: number; instances: { state: string; pid: number | null }[] }[];
}

/** Prometheus scraping the exporter and the daemon's /metrics (token in a file) every 15 s. */
async function startPrometheus(
  ctx: BenchContext,
  d: BenchDaemon,
  exporterPort: number,
): Promise<{ pid: number; seriesCount: () => Promise<number>; stop: () => Promise<void> }> {
  const dir = path.join(ctx.workDir, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const tokenFile = path.join(dir, 'daemon.token');
  writeFileSync(tokenFile, d.token, { mode: 0o600 });
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 15s }',
      'scrape_configs:',
      `  - { job_name: synth, static_configs: [{ targets: ['127.0.0.1:${exporterPort}'] }] }`,
      `  - { job_name: groundwork, authorization: { credentials_file: ${tokenFile} }, static_configs: [{ targets: ['${new URL(d.url).host}'] }] }`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  const seriesCount = async (): Promise<number> => {
    const res = (await (
      await fetch(`${url}/api/v1/query?query=${encodeURIComponent('count({__name__=~".+"})')}`)
    ).json()) as { data?: { result?: Array<{ value: [number, string] }> } };
    return Number(res.data?.result?.[0]?.value[1] ?? 0);
  };
  try {
    // Holding the series: both targets scraped at least once.
    await waitUntil('prometheus to scrape both targets', 60_000, async () => {
      const res = (await (await fetch(`${url}/api/v1/query?query=up`)).json()) as {
        data?: { result?: Array<{ value: [number, string] }> };
      };
      const up = res.data?.result ?? [];
      return up.length === 2 && up.every((s) => s.value[1] === '1') ? true : undefined;
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    pid: child.pid as number,
    seriesCount,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function sampleRss(pid: number, seconds: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < seconds; i++) {
    const rss = rssBytes(pid);
    if (rss === undefined) throw new Error(`pid ${pid} is gone while sampling its RSS`);
    samples.push(rss);
    await sleep(1000);
  }
  return samples;
}

function toMB(bytes: number): number {
  return Math.round((bytes / MB) * 10) / 10;
}

/** RSS of a bare Node process that does nothing, after it settled. */
async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(1500);
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssBytes(child.pid as number) ?? Number.NaN);
      await sleep(200);
    }
    return median(samples);
  } finally {
    child.kill('SIGKILL');
  }
}

export default defineBench({
  name: 'daemon-rss',
  description: `daemon VmRSS over ${SAMPLE_SECONDS} s supervising ${SERVICES} node services with HTTP checks every 2 s (target <= ${TARGET_MB} MB)`,
  async run(ctx) {
    const results: BenchResult[] = [];
    const bare = await bareNodeRss();
    ctx.log(`bare node process: ${toMB(bare)} MB RSS`);

    // The daemon with nothing to supervise.
    const idleDir = path.join(ctx.workDir, 'idle');
    mkdirSync(idleDir, { recursive: true });
    writeFileSync(path.join(idleDir, 'groundwork.yaml'), stackYaml('rss-idle', 0));
    const idle = await startBenchDaemon(ctx.root, idleDir);
    let idleSamples: number[];
    try {
      idleSamples = await sampleRss(idle.pid, IDLE_SAMPLE_SECONDS);
    } finally {
      await stopBenchDaemon(idle, idleDir, ctx.log);
    }
    ctx.log(`daemon with 0 services: median ${toMB(median(idleSamples))} MB over ${IDLE_SAMPLE_SECONDS} s`);

    // The daemon with 50 services.
    const dir = path.join(ctx.workDir, 'stack');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'server.cjs'), SERVER);
    const exporter = new SyntheticExporter();
    await exporter.start();
    writeFileSync(
      path.join(dir, 'groundwork.yaml'),
      stackYaml('rss', SERVICES, { checks: CHECKS, scrapeUrl: `http://127.0.0.1:${exporter.port}/metrics` }),
    );
    const t0 = performance.now();
    const d = await startBenchDaemon(ctx.root, dir);
    let samples: number[];
    let promSamples: number[] = [];
    let seriesCount = 0;
    let promSeries = 0;
    let cpu: number;
    let startMs: number;
    let servicesRss = 0;
    try {
      await waitUntil(`all ${SERVICES} services healthy`, 180_000, async () => {
        const r = await benchApi(d, 'GET', '/v1/status');
        if (r.status !== 200) throw new Error(`status answered ${r.status}`);
        const s = JSON.parse(r.text) as Status;
        const healthy = s.services.filter(
          (x) => x.instances.length === x.replicas && x.instances.every((i) => i.state === 'healthy'),
        ).length;
        return s.services.length === SERVICES && healthy === SERVICES ? s : undefined;
      });
      startMs = performance.now() - t0;
      // Fill the store to 2,000 active series: the daemon's own (host, instances, data plane,
      // checks, itself) plus as many synthetic ones as are missing.
      const count = async (): Promise<number> => {
        const r = await benchApi(d, 'GET', `/api/v1/query?query=${encodeURIComponent('count({__name__=~".+"})')}`);
        const body = JSON.parse(r.text) as { data?: { result?: Array<{ value: [number, string] }> } };
        return Number(body.data?.result?.[0]?.value[1] ?? 0);
      };
      const own = await waitUntil('the daemon to store its own series', 60_000, async () => {
        const n = await count();
        return n > 0 ? n : undefined;
      });
      exporter.n = Math.max(0, ACTIVE_SERIES - own);
      seriesCount = await waitUntil(`${ACTIVE_SERIES} active series in the store`, 90_000, async () => {
        const n = await count();
        return n >= ACTIVE_SERIES ? n : undefined;
      });
      ctx.log(
        `${SERVICES} services healthy ${(startMs / 1000).toFixed(1)} s after start; ${seriesCount} active series (${exporter.n} synthetic); sampling the daemon's and a Prometheus's RSS for ${SAMPLE_SECONDS} s`,
      );
      const prom = await startPrometheus(ctx, d, exporter.port);
      try {
        const cpu0 = cpuSeconds(d.pid);
        const both = await Promise.all([sampleRss(d.pid, SAMPLE_SECONDS), sampleRss(prom.pid, SAMPLE_SECONDS)]);
        samples = both[0];
        promSamples = both[1];
        cpu = cpuSeconds(d.pid) - cpu0;
        promSeries = await prom.seriesCount();
      } finally {
        await prom.stop();
      }
      for (const pid of processesUnder(dir)) if (pid !== d.pid) servicesRss += rssBytes(pid) ?? 0;
    } catch (e) {
      ctx.log(`daemon output (last 2000 characters):\n${d.output().slice(-2000)}`);
      throw e;
    } finally {
      await stopBenchDaemon(d, dir, ctx.log);
      await exporter.stop();
    }

    const mb = samples.map(toMB);
    const details = {
      'samples (1/s)': samples.length,
      services: SERVICES,
      'health interval': '2s',
      'start until all healthy (s)': Math.round(startMs / 100) / 10,
      'median MiB': Math.round((median(samples) / MIB) * 10) / 10,
      'max MiB': Math.round((Math.max(...samples) / MIB) * 10) / 10,
      'daemon CPU s over the window': Math.round(cpu * 100) / 100,
      'services + shims RSS MB (sum)': toMB(servicesRss),
      'idle daemon median MB': toMB(median(idleSamples)),
      checks: CHECKS,
      'active series (daemon)': seriesCount,
      'series (prometheus)': promSeries,
      'prometheus median MB': toMB(median(promSamples)),
      'ratio to the 150 MB target': Math.round((median(samples) / MB / TARGET_MB) * 100) / 100,
    };
    const reference = { name: 'bare node process', value: toMB(bare) };
    const name = `daemon, ${SERVICES} services, ${CHECKS} checks, ${seriesCount} series`;
    results.push(
      {
        name,
        metric: `VmRSS median over ${SAMPLE_SECONDS} s`,
        value: toMB(median(samples)),
        unit: 'MB',
        reference: { name: `Prometheus 2.42 holding ${promSeries} series`, value: toMB(median(promSamples)) },
        target: { kind: 'max', value: TARGET_MB },
        samples: mb,
        details,
      },
      {
        name,
        metric: `VmRSS max over ${SAMPLE_SECONDS} s`,
        value: toMB(Math.max(...samples)),
        unit: 'MB',
        reference,
        target: { kind: 'max', value: TARGET_MB },
      },
      {
        name: 'daemon, 0 services (idle)',
        metric: `VmRSS median over ${IDLE_SAMPLE_SECONDS} s`,
        value: toMB(median(idleSamples)),
        unit: 'MB',
        reference,
        samples: idleSamples.map(toMB),
      },
      {
        name,
        metric: `CPU time over ${SAMPLE_SECONDS} s`,
        value: Math.round(cpu * 100) / 100,
        unit: 's',
      },
    );
    ctx.log(
      `daemon RSS with ${SERVICES} services: median ${toMB(median(samples))} MB, max ${toMB(Math.max(...samples))} MB (${(median(samples) / bare).toFixed(2)}x a bare node process); ${cpu.toFixed(2)} s CPU over ${SAMPLE_SECONDS} s`,
    );
    return results;
  },
});
