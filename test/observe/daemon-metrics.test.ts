/**
 * The daemon's own metrics (src/core/metrics.ts): host numbers from the real /proc, per-instance
 * usage from one pass over /proc, and end to end a daemon with the built-in proxy whose
 * collections land in the metrics store, where PromQL finds requests through the proxy by
 * service and status class, latency buckets, instance memory and the daemon's own numbers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromAnswer } from '../../src/core/metrics-query.js';
import { Daemon, tokenFile } from '../../src/daemon/daemon.js';
import { readHostMetrics, readProcessGroups } from '../../src/observe/host-metrics.js';
import type { MetricFamily } from '../../src/observe/exposition.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { systemClock } from '../../src/util/clock.js';
import { Duration } from '../../src/util/duration.js';
import { silentLogger } from '../../src/util/logger.js';
import { Api, cleanEnv, footprintOf, request } from '../daemon/daemon-harness.js';
import { freePort, writeLabStack, writeServer } from '../helpers/lab-daemon.js';
import { settlesWithin, TeardownFailures } from '../helpers/leftovers.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { startPrometheus } from './prometheus-process.js';

function familyOf(families: MetricFamily[], name: string): MetricFamily {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no family ${name} among ${families.map((x) => x.name).join(', ')}`);
  return f;
}

describe('host metrics from /proc', () => {
  it('reads CPU per mode, memory, load, network and file systems in node_exporter names', () => {
    const families = readHostMetrics();
    const cpu = familyOf(families, 'node_cpu_seconds_total');
    expect(cpu.type).toBe('counter');
    const idle0 = cpu.samples.find((s) => s.labels?.cpu === '0' && s.labels.mode === 'idle');
    expect(idle0?.value).toBeGreaterThan(0);
    expect(familyOf(families, 'node_memory_total_bytes').samples[0]?.value).toBeGreaterThan(1024 * 1024);
    expect(familyOf(families, 'node_memory_available_bytes').samples[0]?.value).toBeGreaterThan(0);
    expect(familyOf(families, 'node_load1').samples[0]?.value).toBeGreaterThanOrEqual(0);
    const lo = familyOf(families, 'node_network_receive_bytes_total').samples.find((s) => s.labels?.device === 'lo');
    expect(lo?.value).toBeGreaterThanOrEqual(0);
    const size = familyOf(families, 'node_filesystem_size_bytes');
    expect(size.samples.length).toBeGreaterThan(0);
    for (const s of size.samples) {
      expect(s.value).toBeGreaterThan(0);
      expect(s.labels?.mountpoint).not.toMatch(/^\/(proc|sys|dev)(\/|$)/);
    }
    const avail = familyOf(families, 'node_filesystem_avail_bytes').samples;
    avail.forEach((s, i) => expect(s.value).toBeLessThanOrEqual(size.samples[i]?.value ?? 0));
  });

  it('sums CPU and memory over a process group in one pass', async () => {
    // A group leader with a child of its own: the group's RSS is both of theirs.
    const child = spawn(
      process.execPath,
      [
        '-e',
        "require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' }); setInterval(() => {}, 1000)",
      ],
      { detached: true, stdio: 'ignore' },
    );
    try {
      const pid = child.pid;
      if (pid === undefined) throw new Error('the test process did not start');
      const groups = await waitFor(
        () => {
          const g = readProcessGroups();
          const members = [...g.groupOf.entries()].filter(([, pgid]) => pgid === pid).length;
          return members >= 2 ? g : undefined;
        },
        { what: 'the group leader and its child in /proc', timeoutMs: 10_000, intervalMs: 20 },
      );
      expect(groups.groupOf.get(pid)).toBe(pid);
      const usage = groups.usage.get(pid);
      // Two node processes hold well over 20 MB between them.
      expect(usage?.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
      expect(usage?.cpuSeconds).toBeGreaterThanOrEqual(0);
    } finally {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }
  });
});

describe('metrics in the daemon', () => {
  const dir = makeTempDir('daemon-metrics');
  let daemon: Daemon | undefined;
  let api: Api;
  let webUrl = '';

  const query = async (expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const a = await api.json<PromAnswer['body'] & { data?: { result?: unknown } }>(
      'GET',
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    return (a.data?.result ?? []) as Array<{ metric: Record<string, string>; value: [number, string] }>;
  };

  beforeAll(async () => {
    const listenerPort = await freePort();
    writeServer(dir, 'v1');
    writeLabStack(dir, { listenerPort });
    webUrl = `http://127.0.0.1:${listenerPort}/`;
    const stateDir = path.join(dir, '.groundwork');
    daemon = new Daemon({
      stackFile: path.join(dir, 'groundwork.yaml'),
      stateDir,
      host: '127.0.0.1',
      port: 0,
      vars: {},
      env: cleanEnv(),
      clock: systemClock,
      logger: silentLogger,
      applyOnStart: true,
      dataPlane: new NodeProxy({ logger: silentLogger, clock: systemClock }),
      // Short, so the test sees a collection after its requests without waiting 15 s.
      metricsInterval: Duration.milliseconds(200),
    });
    await daemon.start();
    api = new Api(daemon.url, readFileSync(tokenFile(stateDir), 'utf8').trim());
    await api.waitAllHealthy(['web']);
  }, 60_000);

  afterAll(async () => {
    if (daemon) {
      const t = new TeardownFailures(`the daemon in ${dir}`);
      const d = daemon;
      await t.step('POST /v1/down', () => api.down(false));
      await t.step('daemon.stop()', () => settlesWithin(d.stop(), 15_000, 'daemon.stop()'));
      await t.sweep(footprintOf(dir), 'down and stop');
      t.throwIfAny();
    }
    removeTempDir(dir);
  });

  it('keeps requests by service and status class, latency buckets, instance and daemon numbers in the store', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await request(webUrl, 'GET', '/');
      expect(r.status).toBe(200);
    }
    const ok = await waitFor(
      async () => {
        const r = await query('groundwork_service_requests_total{service="web",status_class="2xx"}');
        return Number(r[0]?.value[1] ?? 0) >= 20 ? r : undefined;
      },
      { what: '20 requests to web in the store', timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(ok).toHaveLength(1);
    const route = await query('sum(groundwork_route_requests_total{status_class="2xx"})');
    expect(Number(route[0]?.value[1])).toBeGreaterThanOrEqual(20);
    const buckets = await query('groundwork_service_request_duration_seconds_bucket{service="web",le="+Inf"}');
    expect(Number(buckets[0]?.value[1])).toBeGreaterThanOrEqual(20);
    // Buckets are cumulative: histogram_quantile gives a latency within the buckets' range.
    const p50 = await query(
      'histogram_quantile(0.5, groundwork_service_request_duration_seconds_bucket{service="web"})',
    );
    expect(Number(p50[0]?.value[1])).toBeGreaterThan(0);
    expect(Number(p50[0]?.value[1])).toBeLessThanOrEqual(30);

    const rss = await query('groundwork_instance_resident_memory_bytes{service="web"}');
    expect(rss.map((r) => r.metric.replica).sort()).toEqual(['0', '1']);
    for (const r of rss) expect(Number(r.value[1])).toBeGreaterThan(5 * 1024 * 1024);
    const restarts = await query('groundwork_instance_restarts_total{service="web"}');
    expect(restarts.map((r) => r.value[1])).toEqual(['0', '0']);
    expect(Number((await query('groundwork_daemon_resident_memory_bytes'))[0]?.value[1])).toBeGreaterThan(0);
    expect(Number((await query('groundwork_daemon_heap_used_bytes'))[0]?.value[1])).toBeGreaterThan(0);
    expect(await query('groundwork_daemon_event_loop_lag_p99_seconds')).toHaveLength(1);
    expect(Number((await query('node_memory_total_bytes'))[0]?.value[1])).toBeGreaterThan(0);
    expect((await query('node_cpu_seconds_total{mode="idle"}')).length).toBeGreaterThan(0);
    expect(Number((await query('groundwork_tsdb_series'))[0]?.value[1])).toBeGreaterThan(50);
  }, 40_000);

  it('serves /metrics in the exposition format that promtool accepts, to a token only', async () => {
    const a = await request(api.url, 'GET', '/metrics', { token: api.token });
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toMatch(/^text\/plain/);
    for (const name of [
      'node_cpu_seconds_total',
      'groundwork_service_request_duration_seconds_bucket{service="web",le="+Inf"}',
      'groundwork_instance_resident_memory_bytes{service="web",replica="0"}',
      'groundwork_daemon_resident_memory_bytes',
    ])
      expect(a.text).toContain(name);
    // promtool's lint: exit 0 and nothing said (names, types, HELP, units, counters' _total).
    const check = spawnSync('promtool', ['check', 'metrics'], { input: a.text, encoding: 'utf8' });
    expect({ status: check.status, out: check.stdout + check.stderr }).toEqual({ status: 0, out: '' });
    expect((await request(api.url, 'GET', '/metrics')).status).toBe(401);
  });

  it('is scraped by a real Prometheus with the token in a credentials file, as the README shows', async () => {
    const promDir = path.join(dir, 'prometheus');
    mkdirSync(promDir);
    const good = path.join(promDir, 'daemon.token');
    const bad = path.join(promDir, 'wrong.token');
    writeFileSync(good, api.token + '\n', { mode: 0o600 });
    writeFileSync(bad, 'not-the-token\n', { mode: 0o600 });
    const target = new URL(api.url).host;
    const prom = await startPrometheus(promDir, [
      { job: 'groundwork', target, authorization: `authorization: { credentials_file: ${good} }` },
      // The same target with a wrong token: its scrapes fail, so `up` says 0.
      { job: 'wrong-token', target, authorization: `authorization: { credentials_file: ${bad} }` },
    ]);
    const promQuery = async (
      expr: string,
    ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
      const res = (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      return res.data.result;
    };
    try {
      // Prometheus's own view: `up` per job, after its first scrapes (1 s interval).
      const up = await waitFor(
        async () => {
          const r = await promQuery('up');
          return r.length === 2 ? r : undefined;
        },
        { timeoutMs: 15_000, what: `prometheus to scrape ${target} under both jobs` },
      );
      expect(Object.fromEntries(up.map((s) => [s.metric.job, s.value[1]]))).toEqual({
        groundwork: '1',
        'wrong-token': '0',
      });
      const rss = await promQuery('groundwork_daemon_resident_memory_bytes{job="groundwork"}');
      expect(Number(rss[0]?.value[1])).toBeGreaterThan(1_000_000);
      const web = await promQuery('groundwork_instance_resident_memory_bytes{job="groundwork",service="web"}');
      expect(web.length).toBeGreaterThan(0);
    } finally {
      await prom.stop();
    }
  });
});
