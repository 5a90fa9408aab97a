/**
 * From a failure to a notification: a real HTTP backend starts answering 500, and the time until
 * a real webhook receiver has the page is measured, for Groundwork (`groundwork up` from dist/)
 * with the example lab's settings, and, in the same run, for Debian's Prometheus 2.42 +
 * Alertmanager 0.25 on the same failure (`up == 0` of the backend's scrape, Alertmanager's
 * webhook receiver):
 *
 *   Groundwork: the check, alert rule and notify routes of examples/homelab/groundwork.yaml's
 *   `api-down` alert, read from that file (interval, timeout, thresholds, `for`, severity, routes,
 *   grouping as written there; only the check's URL and the channels' URLs point at the bench);
 *   (a) Prometheus + Alertmanager with their defaults: scrape and evaluation every 1 m,
 *       group_wait 30 s, group_interval 5 m;
 *   (b) their fastest sensible settings: scrape and evaluation every 1 s, group_wait 0 s.
 *
 * Every trial fails its own backend (20 backends, one target / check / alert each), so no trial
 * waits for the previous one to resolve and no Alertmanager group is reused (group_by
 * [alertname, instance]: each trial is a new group, which is what a first page is). Groundwork's
 * trials and (b)'s run one after another, each after a pause that spreads them over one check or
 * scrape interval (phaseDelay); (a)'s 20 failures are spread 3 s apart over a minute
 * and run together (each is its own target and group), which samples the scrape and evaluation
 * phases the way a real failure would meet them and keeps the run to minutes.
 *
 * p99 of 20 samples is the largest (nearest rank). Environment: GROUNDWORK_BENCH_ALERT_TRIALS
 * (default 20), GROUNDWORK_BENCH_ALERT_DEFAULTS=0 skips (a) (about 4 minutes).
 * Needs `prometheus` and `prometheus-alertmanager` (Debian packages); benches are not run in CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { CHECK_DEFAULTS } from '../src/config/schema.js';
import { Duration } from '../src/util/duration.js';
import { defineBench, type BenchContext, type BenchResult } from './harness/bench.js';
import { startBenchDaemon, stopBenchDaemon } from './harness/bench-daemon.js';
import { median } from './harness/median.js';

const TRIALS = Number(process.env.GROUNDWORK_BENCH_ALERT_TRIALS ?? 20);
const WITH_DEFAULTS = process.env.GROUNDWORK_BENCH_ALERT_DEFAULTS !== '0';
const PROMETHEUS = '/usr/bin/prometheus';
const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

/**
 * A pause before sequential trial i, spread over one check or scrape period (golden-ratio steps):
 * a trial that started right when the previous page arrived would meet the check cycle at the
 * same phase every time and measure one point of it instead of its spread.
 */
function phaseDelay(i: number, periodMs: number): Promise<void> {
  const ms = ((i * 0.6180339887) % 1) * periodMs;
  return new Promise((r) => setTimeout(r, ms));
}

/** The example lab's alert whose settings Groundwork's trials use: an alert on an http check. */
const EXAMPLE = 'examples/homelab/groundwork.yaml';
const EXAMPLE_ALERT = 'api-down';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface ExampleSettings {
  /** The check's settings as written (interval, timeout, failures, successes), without its target. */
  check: Obj;
  /** The check's http target as written; the bench replaces its url. */
  http: Obj;
  /** The alert rule as written, without its `check`. */
  alert: Obj;
  /** `notify:` as written, without its channels (routes, default, repeat and grouping settings). */
  notify: Obj;
  channelNames: string[];
  intervalMs: number;
  successes: number;
  /** e.g. `check every 2s, timeout 1s, failures 2; alert severity page; route severity="page"` */
  label: string;
}

/** Reads the settings from the example's stack file, so the bench measures what the lab runs. */
function exampleSettings(root: string): ExampleSettings {
  const file = path.join(root, EXAMPLE);
  const doc: unknown = loadYaml(readFileSync(file, 'utf8'));
  const fail = (what: string): never => {
    throw new Error(`${EXAMPLE}: ${what}; the alerts bench measures that alert's settings (EXAMPLE_ALERT)`);
  };
  if (!isObj(doc) || !isObj(doc.alerts) || !isObj(doc.checks) || !isObj(doc.notify)) {
    return fail('expected checks:, alerts: and notify: sections');
  }
  const alertRaw = doc.alerts[EXAMPLE_ALERT];
  if (!isObj(alertRaw) || typeof alertRaw.check !== 'string') return fail(`expected alert ${EXAMPLE_ALERT} on a check`);
  const { check: checkName, ...alert } = alertRaw;
  const checkRaw = doc.checks[checkName];
  if (!isObj(checkRaw) || !isObj(checkRaw.http)) return fail(`expected check ${checkName} to be an http check`);
  const { http, ...check } = checkRaw;
  const { channels, ...notify } = doc.notify;
  if (!isObj(channels)) return fail('expected notify.channels');
  // Unset fields take Groundwork's defaults in the bench's stack as in the lab's; the bench only
  // needs the two that decide how long it waits.
  const interval = typeof check.interval === 'string' ? check.interval : CHECK_DEFAULTS.interval;
  const successes = typeof check.successes === 'number' ? check.successes : CHECK_DEFAULTS.successes;
  const routes = Array.isArray(notify.routes) ? notify.routes.filter(isObj) : [];
  const route = routes.map((r) => JSON.stringify(r.match ?? [])).join(' | ');
  const written = Object.entries(check)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
  return {
    check,
    http,
    alert,
    notify,
    channelNames: Object.keys(channels),
    intervalMs: Duration.parse(interval).toMilliseconds(),
    successes,
    label: `${EXAMPLE_ALERT} of examples/homelab (check ${written}; severity ${String(alert.severity ?? 'warning')}; routes ${route || 'none'})`,
  };
}

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] as number;
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Backends that answer 200 (and a Prometheus exposition on /metrics) until told to fail: then 500 for everything. */
class Backends {
  readonly failing = new Set<number>();
  readonly ports: number[] = [];
  private readonly servers: http.Server[] = [];

  async start(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const index = i;
      const server = http.createServer((req, res) => {
        if (this.failing.has(index)) return void res.writeHead(500).end('failing\n');
        if (req.url === '/metrics')
          return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('backend_ok 1\n');
        res.writeHead(200).end('ok\n');
      });
      this.servers.push(server);
      this.ports.push(await listen(server));
    }
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}

interface Arrival {
  path: string;
  at: number;
  body: string;
}

/** The webhook receiver: records when each request arrived (performance.now of this process). */
class Receiver {
  readonly arrivals: Arrival[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.arrivals.push({ path: req.url ?? '', at: performance.now(), body: Buffer.concat(chunks).toString() });
      res.writeHead(200).end('ok');
    });
  });
  port = 0;

  async start(): Promise<void> {
    this.port = await listen(this.server);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function startProcess(
  cmd: string,
  args: string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): { child: ChildProcess; out: () => string } {
  let out = '';
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20_000)));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20_000)));
  return { child, out: () => out };
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Groundwork: one check + alert per backend, with the example lab's settings; its channels all post to the receiver. */
async function groundworkTrials(
  ctx: BenchContext,
  backends: Backends,
  rx: Receiver,
  ex: ExampleSettings,
): Promise<number[]> {
  const dir = path.join(ctx.workDir, 'groundwork');
  mkdirSync(dir, { recursive: true });
  const checks: Obj = {};
  const alerts: Obj = {};
  backends.ports.forEach((p, i) => {
    checks[`b${i}`] = { ...ex.check, http: { ...ex.http, url: `http://127.0.0.1:${p}/` } };
    alerts[`${EXAMPLE_ALERT}-b${i}`] = { ...ex.alert, check: `b${i}` };
  });
  const channels = Object.fromEntries(
    ex.channelNames.map((n) => [n, { webhook: { url: `http://127.0.0.1:${rx.port}/gw` } }]),
  );
  // JSON is YAML: the stack file is written as JSON so nothing is lost in quoting.
  const stack = { stack: 'bench-alerts', checks, alerts, notify: { ...ex.notify, channels } };
  writeFileSync(path.join(dir, 'groundwork.yaml'), `${JSON.stringify(stack, null, 2)}\n`);
  const gw = await startBenchDaemon(ctx.root, dir, { readyTimeoutMs: 60_000 });
  const samples: number[] = [];
  try {
    // Every check has left `pending` for `up` (successes runs in a row), with one interval to spare.
    await new Promise((r) => setTimeout(r, ex.intervalMs * (ex.successes + 1) + 1000));
    for (let i = 0; i < TRIALS; i++) {
      await phaseDelay(i, ex.intervalMs);
      const t0 = performance.now();
      backends.failing.add(i);
      const got = await until(`Groundwork's page for backend ${i}`, 60_000, () =>
        rx.arrivals.find((a) => a.path === '/gw' && a.at >= t0 && a.body.includes(`"alert":"${EXAMPLE_ALERT}-b${i}"`)),
      );
      samples.push(got.at - t0);
      ctx.log(`  groundwork trial ${i + 1}/${TRIALS}: ${(got.at - t0).toFixed(0)} ms`);
    }
  } finally {
    await stopBenchDaemon(gw, dir, ctx.log);
  }
  return samples;
}

interface PromSettings {
  name: string;
  scrape: string | undefined;
  evaluation: string | undefined;
  groupWait: string | undefined;
  groupInterval: string | undefined;
}

/** Prometheus + Alertmanager with the given settings (undefined: theirs by default); returns the latencies. */
async function prometheusTrials(
  ctx: BenchContext,
  backends: Backends,
  rx: Receiver,
  s: PromSettings,
  run: (failAt: (i: number) => number) => Promise<number[]>,
): Promise<number[]> {
  const dir = path.join(ctx.workDir, s.name);
  mkdirSync(dir, { recursive: true });
  const [promPort, amPort, amCluster] = [await freePort(), await freePort(), await freePort()];
  const amYaml = [
    'route:',
    '  receiver: hook',
    '  group_by: [alertname, instance]',
    ...(s.groupWait ? [`  group_wait: ${s.groupWait}`] : []),
    ...(s.groupInterval ? [`  group_interval: ${s.groupInterval}`] : []),
    'receivers:',
    '  - name: hook',
    '    webhook_configs:',
    `      - { url: "http://127.0.0.1:${rx.port}/am-${s.name}", send_resolved: false }`,
  ];
  writeFileSync(path.join(dir, 'alertmanager.yml'), `${amYaml.join('\n')}\n`);
  const rules = [
    'groups:',
    '  - name: bench',
    '    rules:',
    '      - alert: BackendDown',
    '        expr: up{job="backends"} == 0',
    '        labels: { severity: page }',
  ];
  writeFileSync(path.join(dir, 'rules.yml'), `${rules.join('\n')}\n`);
  const global = [
    ...(s.scrape ? [`  scrape_interval: ${s.scrape}`, `  scrape_timeout: ${s.scrape}`] : []),
    ...(s.evaluation ? [`  evaluation_interval: ${s.evaluation}`] : []),
  ];
  const prom = [
    ...(global.length ? ['global:', ...global] : []),
    'rule_files: [rules.yml]',
    'alerting:',
    '  alertmanagers:',
    `    - static_configs: [ { targets: ["127.0.0.1:${amPort}"] } ]`,
    'scrape_configs:',
    '  - job_name: backends',
    '    static_configs:',
    `      - targets: [${backends.ports.map((p) => `"127.0.0.1:${p}"`).join(', ')}]`,
  ];
  writeFileSync(path.join(dir, 'prometheus.yml'), `${prom.join('\n')}\n`);
  const am = startProcess(
    ALERTMANAGER,
    [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'am-data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      `--cluster.listen-address=127.0.0.1:${amCluster}`,
    ],
    dir,
  );
  const p = startProcess(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'prom-data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    dir,
  );
  try {
    await until(`${s.name}: Prometheus and Alertmanager to be ready`, 60_000, () => {
      if (am.child.exitCode !== null) throw new Error(`alertmanager exited:\n${am.out().slice(-2000)}`);
      if (p.child.exitCode !== null) throw new Error(`prometheus exited:\n${p.out().slice(-2000)}`);
      return p.out().includes('Server is ready to receive web requests') && am.out().includes('Listening')
        ? true
        : undefined;
    });
    return await run((i) => {
      const instance = `127.0.0.1:${backends.ports[i]}`;
      const a = rx.arrivals.find((x) => x.path === `/am-${s.name}` && x.body.includes(`"instance":"${instance}"`));
      return a ? a.at : NaN;
    });
  } finally {
    await stopProcess(p.child);
    await stopProcess(am.child);
  }
}

export default defineBench({
  name: 'alerts',
  description:
    'check failure → webhook notification: Groundwork vs Prometheus 2.42 + Alertmanager 0.25 (defaults, and 1 s scrape/eval with group_wait 0s)',
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    for (const bin of [PROMETHEUS, ALERTMANAGER])
      if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install -y prometheus prometheus-alertmanager`);
    const rx = new Receiver();
    await rx.start();
    const out: BenchResult[] = [];
    try {
      // Groundwork, then (b), then (a): each on fresh backends (all up) so no state carries over.
      const gwBackends = new Backends();
      await gwBackends.start(TRIALS);
      const ex = exampleSettings(ctx.root);
      ctx.log(`  groundwork: ${ex.label}`);
      const gw = await groundworkTrials(ctx, gwBackends, rx, ex);
      await gwBackends.stop();

      const fastBackends = new Backends();
      await fastBackends.start(TRIALS);
      const fast = await prometheusTrials(
        ctx,
        fastBackends,
        rx,
        { name: 'fast', scrape: '1s', evaluation: '1s', groupWait: '0s', groupInterval: '1s' },
        async (arrival) => {
          await new Promise((r) => setTimeout(r, 5000)); // every target scraped up
          const samples: number[] = [];
          for (let i = 0; i < TRIALS; i++) {
            await phaseDelay(i, 1000);
            const t0 = performance.now();
            fastBackends.failing.add(i);
            const at = await until(`Alertmanager's page for backend ${i} (fast)`, 60_000, () => {
              const a = arrival(i);
              return Number.isNaN(a) ? undefined : a;
            });
            samples.push(at - t0);
            ctx.log(`  prometheus+alertmanager (1 s) trial ${i + 1}/${TRIALS}: ${(at - t0).toFixed(0)} ms`);
          }
          return samples;
        },
      );
      await fastBackends.stop();

      const gwMedian = median(gw);
      const gwP99 = percentile(gw, 99);
      const label = `Groundwork: ${ex.label}`;
      const fastRef = 'Prometheus + Alertmanager, 1s scrape/eval, group_wait 0s';
      out.push(
        {
          name: `${label} (vs ${fastRef})`,
          metric: `failure → receiver, median of ${gw.length}`,
          value: Math.round(gwMedian),
          unit: 'ms',
          reference: { name: fastRef, value: Math.round(median(fast)) },
          target: { kind: 'max', value: 5000 },
          samples: gw.map(Math.round),
          details: { referenceSamples: fast.map(Math.round).join(' ') },
        },
        {
          name: `${label} (vs ${fastRef})`,
          metric: `failure → receiver, p99 of ${gw.length}`,
          value: Math.round(gwP99),
          unit: 'ms',
          reference: { name: fastRef, value: Math.round(percentile(fast, 99)) },
          target: { kind: 'max', value: 5000 },
        },
      );

      if (WITH_DEFAULTS) {
        const slowBackends = new Backends();
        await slowBackends.start(TRIALS);
        const defaults = await prometheusTrials(
          ctx,
          slowBackends,
          rx,
          {
            name: 'defaults',
            scrape: undefined,
            evaluation: undefined,
            groupWait: undefined,
            groupInterval: undefined,
          },
          async (arrival) => {
            ctx.log(
              '  prometheus+alertmanager (defaults): 70 s for every target to be scraped up, then 20 failures 3 s apart',
            );
            await new Promise((r) => setTimeout(r, 70_000));
            const started: number[] = [];
            for (let i = 0; i < TRIALS; i++) {
              started.push(performance.now());
              slowBackends.failing.add(i);
              await new Promise((r) => setTimeout(r, 3000));
            }
            // Scrape 1 m + evaluation 1 m + group_wait 30 s, plus margin.
            await until("Alertmanager's pages (defaults)", 6 * 60_000, () =>
              started.every((_t, i) => !Number.isNaN(arrival(i))) ? true : undefined,
            );
            return started.map((t0, i) => arrival(i) - t0);
          },
        );
        await slowBackends.stop();
        const slowRef = 'Prometheus + Alertmanager, default settings';
        out.push(
          {
            name: `${label} (vs ${slowRef})`,
            metric: `failure → receiver, median of ${gw.length}`,
            value: Math.round(gwMedian),
            unit: 'ms',
            reference: { name: slowRef, value: Math.round(median(defaults)) },
            details: { referenceSamples: defaults.map(Math.round).join(' ') },
          },
          {
            name: `${label} (vs ${slowRef})`,
            metric: `failure → receiver, p99 of ${gw.length}`,
            value: Math.round(gwP99),
            unit: 'ms',
            reference: { name: slowRef, value: Math.round(percentile(defaults, 99)) },
          },
        );
      }
      ctx.log(`  uptime: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    } finally {
      await rx.stop();
    }
    return out;
  },
});
