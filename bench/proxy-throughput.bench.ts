/**
 * Proxy throughput and p99 latency: the built-in NodeProxy against HAProxy and nginx, measured
 * in the same run over the same backends with the same wrk settings, on loopback.
 *
 * - Backends: two nginx processes (worker_processes 1) answering a 64-byte static body.
 * - Reference "direct": wrk straight to one backend (what the backends can do without a proxy).
 * - HAProxy (nbthread 1), nginx (worker_processes 1, upstream keepalive) and the NodeProxy
 *   (one process, compiled from dist/, alone in its own child process) each proxy round-robin
 *   over both backends with keep-alive connections to them.
 * - Two more Node rows: the data-plane process as `groundwork up` runs it (the same NodeProxy,
 *   configured over its control socket through RemoteDataPlane: a check that the control
 *   channel costs nothing on the request path), and a plain `node:http` proxy
 *   (serve-node-http-proxy.ts: http.request + pipe through a keep-alive agent), which keeps the
 *   raw-socket design of the built-in proxy justified by a number.
 * - Fairness: every proxy runs one thread. wrk, the backends and the proxy share the machine's
 *   cores (the count is printed); nothing is pinned. Targets are measured in turn, round after
 *   round (`--repeat`, default 3), each after a short warm-up; the median of the rounds is
 *   reported, so drift on a shared machine hits every target alike.
 *
 * Targets against HAProxy: builtin requests/s >= 0.8x, p99 latency <= 1.5x, CPU time per request
 * <= 1.2x. builtin ÷ nginx is reported. So is each proxy's
 * CPU time per request (user + system, from /proc, over the measured runs): unlike requests/s
 * it does not depend on how a busy machine shares its cores, so it shows the proxies'
 * efficiency even when other work competes with the bench.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineBench, type BenchContext, type BenchResult } from './harness/bench.js';
import { importDist } from './harness/dist.js';
import { median } from './harness/median.js';
import { haproxyConfig, nginxBackendConfig, nginxProxyConfig } from './proxy/configs.js';
import { freePort, startDaemon, waitListening, type Daemon } from './proxy/daemons.js';
import { cpuSeconds, withChildren } from './proxy/cpu-time.js';
import { ensureTools, openFileLimit, toolPath } from './proxy/tools.js';
import { describeWrk, runWrk, type WrkResult, type WrkSettings } from './proxy/wrk.js';

const SERVE_NODE_PROXY = fileURLToPath(new URL('./proxy/serve-node-proxy.ts', import.meta.url));
const SERVE_NODE_HTTP_PROXY = fileURLToPath(new URL('./proxy/serve-node-http-proxy.ts', import.meta.url));
/** Read by harness/child.ts startCpuProfile() in the child. */
const CPU_PROFILE_ENV = 'GROUNDWORK_BENCH_CPU_PROFILE';

const WRK: WrkSettings = { threads: 2, connections: 64, seconds: 10 };
const WARMUP: WrkSettings = { threads: 2, connections: 64, seconds: 2 };
/** 64 bytes. */
const BODY = `${'groundwork proxy bench: a static body from a backend'.padEnd(63, '.')}\n`;
const TARGETS = ['direct', 'haproxy', 'nginx', 'builtin', 'dataplane', 'nodehttp'] as const;
type TargetName = (typeof TARGETS)[number];
const LABEL: Record<TargetName, string> = {
  direct: 'direct to one backend (no proxy)',
  haproxy: 'HAProxy, nbthread 1',
  nginx: 'nginx, worker_processes 1',
  builtin: 'built-in NodeProxy, 1 process',
  dataplane: 'data-plane process (NodeProxy behind its control socket, as `groundwork up` runs it)',
  nodehttp: 'plain node:http proxy (http.request + pipe, keep-alive agent), 1 process',
};

interface Setup {
  ports: Record<TargetName, number>;
  /** Processes whose CPU time a target's requests cost (the proxy; none for direct). */
  pids: Record<TargetName, number[]>;
  daemons: Daemon[];
  builtin: Daemon;
  /** The data-plane process, configured over its socket like the daemon does. */
  dataplane: { close(): Promise<void> };
}

interface Sample extends WrkResult {
  /** CPU microseconds the proxy process(es) spent per request in this run. */
  cpuUsPerRequest: number;
}

async function startNginx(
  ctx: BenchContext,
  name: string,
  config: (dir: string) => string,
  port: number,
): Promise<Daemon> {
  const dir = path.join(ctx.workDir, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, config(dir));
  const d = startDaemon(name, toolPath('nginx'), ['-p', dir, '-c', file, '-g', 'daemon off;']);
  await waitListening(d, port);
  return d;
}

async function setUp(ctx: BenchContext, profile: string | undefined): Promise<Setup> {
  const daemons: Daemon[] = [];
  try {
    const backendPorts = [await freePort(), await freePort()];
    for (const [i, port] of backendPorts.entries()) {
      daemons.push(
        await startNginx(ctx, `backend-${i}`, (dir) => nginxBackendConfig(dir, port, BODY.replace('\n', '\\n')), port),
      );
    }
    const haproxyPort = await freePort();
    const haproxyFile = path.join(ctx.workDir, 'haproxy.cfg');
    writeFileSync(haproxyFile, haproxyConfig(haproxyPort, backendPorts, openFileLimit()));
    const haproxy = startDaemon('haproxy', toolPath('haproxy'), ['-f', haproxyFile, '-db']);
    daemons.push(haproxy);
    await waitListening(haproxy, haproxyPort);
    const nginxPort = await freePort();
    daemons.push(
      await startNginx(ctx, 'nginx-proxy', (dir) => nginxProxyConfig(dir, nginxPort, backendPorts), nginxPort),
    );
    const builtinPort = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (profile) env[CPU_PROFILE_ENV] = profile;
    else delete env[CPU_PROFILE_ENV];
    const builtin = startDaemon(
      'builtin',
      process.execPath,
      [
        '--import',
        'tsx',
        SERVE_NODE_PROXY,
        JSON.stringify({ root: ctx.root, port: builtinPort, backends: backendPorts }),
      ],
      { cwd: ctx.root, env },
    );
    daemons.push(builtin);
    await waitListening(builtin, builtinPort);
    const nodeHttpPort = await freePort();
    const nodeHttp = startDaemon(
      'nodehttp',
      process.execPath,
      ['--import', 'tsx', SERVE_NODE_HTTP_PROXY, JSON.stringify({ port: nodeHttpPort, backends: backendPorts })],
      { cwd: ctx.root },
    );
    daemons.push(nodeHttp);
    await waitListening(nodeHttp, nodeHttpPort);
    const dataplanePort = await freePort();
    const dataplane = await startDataPlane(ctx, dataplanePort, backendPorts);
    const pid = (d: Daemon) => d.child.pid as number;
    const nginxProxy = daemons.find((d) => d.name === 'nginx-proxy') as Daemon;
    return {
      ports: {
        direct: backendPorts[0] as number,
        haproxy: haproxyPort,
        nginx: nginxPort,
        builtin: builtinPort,
        dataplane: dataplanePort,
        nodehttp: nodeHttpPort,
      },
      pids: {
        direct: [],
        haproxy: [pid(haproxy)],
        nginx: withChildren(pid(nginxProxy)),
        builtin: [pid(builtin)],
        dataplane: [dataplane.pid],
        nodehttp: [pid(nodeHttp)],
      },
      daemons,
      builtin,
      dataplane: dataplane.plane,
    };
  } catch (e) {
    await Promise.all(daemons.map((d) => d.stop()));
    throw e;
  }
}

/** The data-plane process from dist/, started and configured through RemoteDataPlane (its control socket). */
async function startDataPlane(
  ctx: BenchContext,
  port: number,
  backends: number[],
): Promise<{ pid: number; plane: { close(): Promise<void> } }> {
  const { RemoteDataPlane } = await importDist<typeof import('../src/proxy/process/remote-data-plane.js')>(
    ctx.root,
    'proxy/process/remote-data-plane.js',
  );
  const { Duration } = await importDist<typeof import('../src/util/duration.js')>(ctx.root, 'util/duration.js');
  const stateDir = path.join(ctx.workDir, 'dataplane');
  mkdirSync(stateDir, { recursive: true });
  const { plane } = await RemoteDataPlane.attach({ launch: { stateDir } });
  plane.setPool(
    'backends',
    backends.map((p, i) => ({ id: `b${i}`, host: '127.0.0.1', port: p, weight: 1 })),
  );
  plane.setRoutes([
    {
      id: 'all',
      host: null,
      pathPrefix: '/',
      listeners: [],
      pool: 'backends',
      balance: 'round-robin',
      connectTimeout: Duration.seconds(5),
      idleTimeout: Duration.seconds(60),
      totalTimeout: Duration.minutes(5),
      maxBodyBytes: 10 * 1024 * 1024,
    },
  ]);
  await plane.setListeners([{ name: 'bench', protocol: 'http', host: '127.0.0.1', port }]);
  return { pid: plane.pid as number, plane };
}

export default defineBench({
  name: 'proxy-throughput',
  description:
    'requests/s and p99 of the built-in proxy vs HAProxy and nginx (same backends, same wrk, one thread each)',
  async run(ctx) {
    ensureTools(ctx.log);
    const cores = os.cpus().length;
    const fairness = `each proxy runs one thread (haproxy nbthread 1, nginx worker_processes 1, each Node proxy one process); wrk ${WRK.threads} threads, 2 nginx backends and the proxy share ${cores} cores, nothing pinned`;
    ctx.log(fairness);
    ctx.log(
      `load: ${describeWrk(WRK)} --latency after a ${WARMUP.seconds}s warm-up, ${ctx.repeat} rounds, targets in turn`,
    );
    const profile = ctx.cpuProfileDir ? path.join(ctx.cpuProfileDir, 'node-proxy.cpuprofile') : undefined;
    const setup = await setUp(ctx, profile);
    const samples: Record<TargetName, Sample[]> = {
      direct: [],
      haproxy: [],
      nginx: [],
      builtin: [],
      dataplane: [],
      nodehttp: [],
    };
    try {
      for (let round = 0; round < ctx.repeat; round++) {
        for (const t of TARGETS) {
          const url = `http://127.0.0.1:${setup.ports[t]}/`;
          await runWrk(url, WARMUP);
          const cpu0 = cpuSeconds(setup.pids[t]);
          const w = await runWrk(url, WRK);
          const r: Sample = {
            ...w,
            cpuUsPerRequest: w.requests ? ((cpuSeconds(setup.pids[t]) - cpu0) * 1e6) / w.requests : 0,
          };
          samples[t].push(r);
          const cpu = t === 'direct' ? '' : `  cpu ${r.cpuUsPerRequest.toFixed(1)} us/req`;
          ctx.log(
            `round ${round + 1} ${t.padEnd(9)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}${cpu}`,
          );
        }
      }
    } finally {
      await Promise.all([...setup.daemons.map((d) => d.stop()), setup.dataplane.close()]);
      const report = /@@bench-report (.*)/.exec(setup.builtin.output())?.[1];
      if (report) ctx.log(`NodeProxy metrics at exit: ${report.slice(0, 400)}`);
    }

    const rps = (t: TargetName) => round(median(samples[t].map((s) => s.requestsPerSecond)));
    const p99 = (t: TargetName) => round(median(samples[t].map((s) => s.p99Ms)), 2);
    const cpu = (t: TargetName) => round(median(samples[t].map((s) => s.cpuUsPerRequest)), 1);
    const cpuMetric = `CPU time per request (median of ${ctx.repeat})`;
    const details = (t: TargetName): Record<string, number | string> => ({
      fairness,
      load: describeWrk(WRK),
      cores,
      'p50 ms (median)': round(median(samples[t].map((s) => s.p50Ms)), 3),
      'requests (all rounds)': samples[t].reduce((a, s) => a + s.requests, 0),
      'errors (all rounds)': samples[t].reduce((a, s) => a + s.errors, 0),
    });
    const metric = `requests/s (median of ${ctx.repeat})`;
    const p99Metric = `p99 latency (median of ${ctx.repeat})`;
    const results: BenchResult[] = [];
    for (const t of ['direct', 'haproxy', 'nginx'] as const) {
      results.push({
        name: LABEL[t],
        metric,
        value: rps(t),
        unit: 'req/s',
        samples: samples[t].map((s) => round(s.requestsPerSecond)),
        details: details(t),
      });
      results.push({
        name: LABEL[t],
        metric: p99Metric,
        value: p99(t),
        unit: 'ms',
        samples: samples[t].map((s) => round(s.p99Ms, 2)),
      });
      if (t !== 'direct')
        results.push({
          name: LABEL[t],
          metric: cpuMetric,
          value: cpu(t),
          unit: 'us',
          samples: samples[t].map((s) => round(s.cpuUsPerRequest, 1)),
        });
    }
    const b = samples.builtin;
    results.push({
      name: LABEL.builtin,
      metric,
      value: rps('builtin'),
      unit: 'req/s',
      reference: { name: 'HAProxy', value: rps('haproxy') },
      target: { kind: 'min-ratio', value: 0.8 },
      samples: b.map((s) => round(s.requestsPerSecond)),
      details: details('builtin'),
    });
    results.push({
      name: LABEL.builtin,
      metric: `${metric} vs nginx`,
      value: rps('builtin'),
      unit: 'req/s',
      reference: { name: 'nginx', value: rps('nginx') },
    });
    results.push({
      name: LABEL.builtin,
      metric: p99Metric,
      value: p99('builtin'),
      unit: 'ms',
      reference: { name: 'HAProxy', value: p99('haproxy') },
      target: { kind: 'max-ratio', value: 1.5 },
      samples: b.map((s) => round(s.p99Ms, 2)),
    });
    results.push({
      name: LABEL.builtin,
      metric: cpuMetric,
      value: cpu('builtin'),
      unit: 'us',
      reference: { name: 'HAProxy', value: cpu('haproxy') },
      target: { kind: 'max-ratio', value: 1.2 },
      samples: b.map((s) => round(s.cpuUsPerRequest, 1)),
    });
    results.push({
      name: LABEL.builtin,
      metric: `${cpuMetric} vs nginx`,
      value: cpu('builtin'),
      unit: 'us',
      reference: { name: 'nginx', value: cpu('nginx') },
    });
    // Same code as builtin, configured over the control socket: should match it.
    // The plain node:http proxy: what the raw-socket design is worth.
    for (const t of ['dataplane', 'nodehttp'] as const) {
      results.push({
        name: LABEL[t],
        metric: `${metric} vs built-in`,
        value: rps(t),
        unit: 'req/s',
        reference: { name: 'built-in NodeProxy', value: rps('builtin') },
        samples: samples[t].map((s) => round(s.requestsPerSecond)),
        details: details(t),
      });
      results.push({
        name: LABEL[t],
        metric: `${metric} vs HAProxy`,
        value: rps(t),
        unit: 'req/s',
        reference: { name: 'HAProxy', value: rps('haproxy') },
      });
      results.push({
        name: LABEL[t],
        metric: p99Metric,
        value: p99(t),
        unit: 'ms',
        reference: { name: 'built-in NodeProxy', value: p99('builtin') },
        samples: samples[t].map((s) => round(s.p99Ms, 2)),
      });
      results.push({
        name: LABEL[t],
        metric: cpuMetric,
        value: cpu(t),
        unit: 'us',
        reference: { name: 'built-in NodeProxy', value: cpu('builtin') },
        samples: samples[t].map((s) => round(s.cpuUsPerRequest, 1)),
      });
    }
    results.push({
      name: LABEL.dataplane,
      metric: 'failed requests (all rounds)',
      value: samples.dataplane.reduce((a, s) => a + s.errors, 0),
      unit: 'requests',
      target: { kind: 'max', value: 0 },
    });
    results.push({
      name: LABEL.builtin,
      metric: 'failed requests (all rounds)',
      value: b.reduce((a, s) => a + s.errors, 0),
      unit: 'requests',
      target: { kind: 'max', value: 0 },
    });
    return results;
  },
});

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
