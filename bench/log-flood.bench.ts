/**
 * A `yes` flood through the process driver's log writer, with the default limits (10 MiB × 3
 * files, 1 MiB/s after a 4 MiB burst). Shows that log work happens in the writer, not in the
 * process that supervises (this bench process stands in for the daemon: it starts the instance
 * through the driver, as the daemon does, and then only waits), and that disk stays bounded.
 *
 * Measured over GROUNDWORK_BENCH_FLOOD_SECONDS (default 20):
 *   - p50/p99 of 200 sequential HTTP requests to a small node server (a stand-in for an event
 *     loop on the same host), before and during the flood;
 *   - CPU seconds of the log writer, of the `yes` service, and of this (daemon-like) process;
 *   - peak log disk (N.log + parts, sampled every 50 ms) against the bound max_size × max_files
 *     plus one line; dropped lines counted by the writer; the writer's own (anonymous) memory.
 * Then the same under `groundwork up` (dist/): p50/p99 of 200 sequential `GET /v1/status` with a
 * quiet service and during a `yes` service (target p99 ≤ 500 ms, issue 10), p50/p99 of 200
 * sequential requests through the daemon's listener (its built-in proxy) to a web service of the
 * same stack, quiet and during the flood, the daemon's CPU seconds during the flood, and the log
 * disk at its end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { defineBench, type BenchResult } from './harness/bench.js';
import { importDist } from './harness/dist.js';
import { startBenchDaemon, stopBenchDaemon, waitUntil } from './harness/bench-daemon.js';

const SECONDS = Number(process.env.GROUNDWORK_BENCH_FLOOD_SECONDS ?? 20);
const REQUESTS = 200;
const MIB = 1024 * 1024;
const LINE = 'some-line-of-a-chatty-service';

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Anonymous resident memory: what one more writer costs (the node binary's pages are shared). */
function rssAnonMiB(pid: number): number {
  try {
    const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

async function latencies(port: number, urlPath = '/', token?: string, n = REQUESTS): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: false });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port, path: urlPath, agent, headers: token ? { authorization: `Bearer ${token}` } : {} },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${urlPath}: ${res.statusCode}`)),
            );
          },
        )
        .on('error', reject);
    });
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** A free TCP port on loopback (for the listener). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const WEB = `import http from 'node:http';
import net from 'node:net';
http.createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * `groundwork up` (dist/) in `dir` on a stack of `svc` (running `command`) and `web`, a small node
 * server behind the daemon's listener on `listener` (route `/`); resolves once the API serves and
 * a request through the listener reached web.
 */
async function startUp(root: string, dir: string, command: string, listener: number, log: (l: string) => void) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'web.mjs'), WEB);
  writeFileSync(
    path.join(dir, 'groundwork.yaml'),
    [
      'stack: flood',
      'services:',
      '  svc:',
      `    command: ${JSON.stringify(command)}`,
      '    stop_grace: 2s',
      '  web:',
      '    command: node',
      '    args: [web.mjs]',
      '    ports: { http: auto }',
      '    env: { PORT: "${port.http}" }',
      '    health: { http: { path: / }, interval: 500ms, timeout: 1s }',
      '    stop_grace: 2s',
      'listeners:',
      `  http: { port: ${listener} }`,
      'routes:',
      '  - { match: { path: / }, service: web, port: http }',
      '',
    ].join('\n'),
  );
  const d = await startBenchDaemon(root, dir, { readyTimeoutMs: 60_000 });
  const down = () => stopBenchDaemon(d, dir, log);
  try {
    await waitUntil(
      `a request through the listener on ${listener} to reach web`,
      60_000,
      async () => {
        await latencies(listener, '/', undefined, 1);
        return true;
      },
      100,
    );
  } catch (e) {
    await down();
    throw e;
  }
  return { pid: d.pid, port: Number(new URL(d.url).port), token: d.token, down };
}

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s = require('node:http').createServer((q, r) => r.end('ok')).listen(0, '127.0.0.1', () => console.log(s.address().port))",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
    child.once('exit', () => reject(new Error('the HTTP server child exited before listening')));
  });
  return { child, port };
}

export default defineBench({
  name: 'log-flood',
  description:
    '`yes` service: disk bound, dropped lines, CPU of the log writer vs the supervising process, HTTP latency',
  async run(ctx) {
    type Driver = typeof import('../src/runtime/process/process-driver.js');
    type Parts = typeof import('../src/runtime/process/log-parts.js');
    type Writer = typeof import('../src/runtime/process/log-writer.js');
    type Dur = typeof import('../src/util/duration.js');
    const { ProcessDriver } = await importDist<Driver>(ctx.root, 'runtime/process/process-driver.js');
    const { DEFAULT_LOG_LIMITS } = await importDist<typeof import('../src/runtime/process/log-limits.js')>(
      ctx.root,
      'runtime/process/log-limits.js',
    );
    const { logParts } = await importDist<Parts>(ctx.root, 'runtime/process/log-parts.js');
    const { tryReadLogStats } = await importDist<Writer>(ctx.root, 'runtime/process/log-writer.js');
    const { Duration } = await importDist<Dur>(ctx.root, 'util/duration.js');

    const stateDir = path.join(ctx.workDir, '.groundwork');
    mkdirSync(stateDir, { recursive: true });
    const driver = new ProcessDriver({ stateDir });
    const server = await startServer();
    try {
      ctx.log('log-flood: 200 requests without a flood');
      const quiet = await latencies(server.port);
      const selfCpu0 = process.cpuUsage();
      const serverCpu0 = cpuSeconds(server.child.pid as number);
      const h = await driver.start({
        id: `flood-${process.pid}`,
        stack: 'bench',
        service: 'flood',
        index: 0,
        command: `exec yes ${LINE}`,
        args: null,
        cwd: ctx.workDir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        user: null,
        memoryBytes: null,
        cpuCores: null,
        ports: {},
        specHash: 'bench',
      });
      const record = JSON.parse(readFileSync(path.join(stateDir, 'instances', `${h.id}.json`), 'utf8')) as {
        logWriter: { pid: number };
      };
      const writer = record.logWriter.pid;
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(
          peak,
          logParts(h.logFile).reduce((n, p) => n + p.size, 0),
        );
      }, 50);
      ctx.log(`log-flood: flooding for ${SECONDS}s; 200 requests during it`);
      const started = Date.now();
      const loud = await latencies(server.port);
      await new Promise((r) => setTimeout(r, Math.max(0, SECONDS * 1000 - (Date.now() - started))));
      clearInterval(sampler);
      const writerCpu = cpuSeconds(writer);
      const yesCpu = cpuSeconds(driver.describe(h).pid ?? 0);
      const writerRss = rssAnonMiB(writer);
      const self = process.cpuUsage(selfCpu0);
      const serverCpu = cpuSeconds(server.child.pid as number) - serverCpu0;
      const stats = tryReadLogStats(h.logFile);
      await driver.stop(h, Duration.seconds(2));
      await driver.forget(h);
      const bound = DEFAULT_LOG_LIMITS.maxBytes * DEFAULT_LOG_LIMITS.maxFiles + LINE.length + 1;
      const results: BenchResult[] = [
        {
          name: 'HTTP p50, no flood',
          metric: `${REQUESTS} sequential requests`,
          value: percentile(quiet, 50),
          unit: 'ms',
        },
        {
          name: 'HTTP p99, no flood',
          metric: `${REQUESTS} sequential requests`,
          value: percentile(quiet, 99),
          unit: 'ms',
        },
        {
          name: 'HTTP p50, yes flood',
          metric: `${REQUESTS} sequential requests`,
          value: percentile(loud, 50),
          unit: 'ms',
        },
        {
          name: 'HTTP p99, yes flood',
          metric: `${REQUESTS} sequential requests`,
          value: percentile(loud, 99),
          unit: 'ms',
        },
        {
          name: 'peak log disk',
          metric: `N.log + parts, bound ${(bound / MIB).toFixed(1)} MiB`,
          value: peak / MIB,
          unit: 'MiB',
          target: { kind: 'max', value: bound / MIB },
        },
        {
          name: 'lines dropped (rate limit)',
          metric: `over ${SECONDS}s`,
          value: stats?.droppedLines ?? 0,
          unit: 'lines',
        },
        { name: 'lines written', metric: `over ${SECONDS}s`, value: stats?.writtenLines ?? 0, unit: 'lines' },
        { name: 'log writer CPU', metric: `over ${SECONDS}s`, value: writerCpu, unit: 's' },
        { name: '`yes` CPU', metric: `over ${SECONDS}s`, value: yesCpu, unit: 's' },
        {
          name: 'supervising process CPU (daemon stand-in)',
          metric: `over ${SECONDS}s, incl. start and the HTTP client`,
          value: (self.user + self.system) / 1e6,
          unit: 's',
        },
        { name: 'HTTP server CPU', metric: `${REQUESTS} requests during the flood`, value: serverCpu, unit: 's' },
        {
          name: 'log writer RssAnon',
          metric: 'at the end of the flood (idle: ~6.5 MiB)',
          value: writerRss,
          unit: 'MiB',
        },
      ];
      // The same under `groundwork up`: the daemon's own status latency and CPU, and requests
      // through its listener (the built-in proxy, in the daemon) to a web service, quiet and flooded.
      const listener = await freePort();
      ctx.log('log-flood: groundwork up with a quiet service; 200 status requests, 200 through the listener');
      const quietUp = await startUp(ctx.root, path.join(ctx.workDir, 'up-quiet'), 'exec sleep 600', listener, ctx.log);
      const statusQuiet = await latencies(quietUp.port, '/v1/status', quietUp.token);
      const routedQuiet = await latencies(listener, '/');
      await quietUp.down();
      ctx.log(
        `log-flood: groundwork up with a \`yes\` service for ${SECONDS}s; 200 status requests and 200 through the listener during it`,
      );
      const loudDir = path.join(ctx.workDir, 'up-flood');
      const loudUp = await startUp(ctx.root, loudDir, `exec yes ${LINE}`, listener, ctx.log);
      const daemonCpu0 = cpuSeconds(loudUp.pid);
      const t1 = Date.now();
      const statusLoud = await latencies(loudUp.port, '/v1/status', loudUp.token);
      const routedLoud = await latencies(listener, '/');
      await new Promise((r) => setTimeout(r, Math.max(0, SECONDS * 1000 - (Date.now() - t1))));
      const daemonCpu = cpuSeconds(loudUp.pid) - daemonCpu0;
      const upLog = path.join(loudDir, '.groundwork', 'logs', 'svc', '0.log');
      const upDisk = logParts(upLog).reduce((n, p) => n + p.size, 0);
      const upStats = tryReadLogStats(upLog);
      await loudUp.down();
      results.push(
        {
          name: 'status p50, quiet service',
          metric: `groundwork up, ${REQUESTS} requests`,
          value: percentile(statusQuiet, 50),
          unit: 'ms',
        },
        {
          name: 'status p99, quiet service',
          metric: `groundwork up, ${REQUESTS} requests`,
          value: percentile(statusQuiet, 99),
          unit: 'ms',
        },
        {
          name: 'status p50, yes flood',
          metric: `groundwork up, ${REQUESTS} requests`,
          value: percentile(statusLoud, 50),
          unit: 'ms',
        },
        {
          name: 'status p99, yes flood',
          metric: `groundwork up, ${REQUESTS} requests`,
          value: percentile(statusLoud, 99),
          unit: 'ms',
          target: { kind: 'max', value: 500 },
        },
        {
          name: 'listener p50, quiet service',
          metric: `groundwork up, ${REQUESTS} requests through the proxy`,
          value: percentile(routedQuiet, 50),
          unit: 'ms',
        },
        {
          name: 'listener p99, quiet service',
          metric: `groundwork up, ${REQUESTS} requests through the proxy`,
          value: percentile(routedQuiet, 99),
          unit: 'ms',
        },
        {
          name: 'listener p50, yes flood',
          metric: `groundwork up, ${REQUESTS} requests through the proxy`,
          value: percentile(routedLoud, 50),
          unit: 'ms',
        },
        {
          name: 'listener p99, yes flood',
          metric: `groundwork up, ${REQUESTS} requests through the proxy`,
          value: percentile(routedLoud, 99),
          unit: 'ms',
        },
        { name: 'daemon CPU, yes flood', metric: `groundwork up, over ${SECONDS}s`, value: daemonCpu, unit: 's' },
        {
          name: 'log disk at the end, under up',
          metric: `bound ${(bound / MIB).toFixed(1)} MiB`,
          value: upDisk / MIB,
          unit: 'MiB',
          target: { kind: 'max', value: bound / MIB },
        },
        {
          name: 'lines dropped, under up',
          metric: `over ${SECONDS}s`,
          value: upStats?.droppedLines ?? 0,
          unit: 'lines',
        },
      );
      return results;
    } finally {
      server.child.kill('SIGKILL');
    }
  },
});
