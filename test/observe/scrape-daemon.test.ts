/**
 * The `scrape:` section: validated with located errors; applied as `scrape.NAME` resources; the
 * daemon scrapes a real HTTP server publishing exposition text and Debian's
 * prometheus-node-exporter into its store, with the target's labels, `up`, a per-target series
 * limit whose drops are counted, and a change of targets taking effect at the next apply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/config/load.js';
import { freePort } from '../helpers/ports.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { request, startInProcess, type InProcessDaemon } from '../daemon/daemon-harness.js';

type Series = Array<{ metric: Record<string, string>; value: [number, string] }>;

describe('scrape: in the stack file', () => {
  it('reports each mistake where it is, with what was expected and a fix', () => {
    const text = [
      'stack: s',
      'scrape:',
      '  interval: 10s',
      '  targets:',
      '    app:',
      '      url: http://',
      '      timeout: 20s',
      '      labels: { job: x, env: lab }',
      '    node:',
      '      url: ftp://127.0.0.1:9100/metrics',
      '      series_limit: 0',
      '    Bad_Name: { url: http://127.0.0.1:1/metrics }',
      '    other: { url: http://127.0.0.1:2/metrics, intervall: 5s }',
      '',
    ].join('\n');
    const loaded = parseStackText(text, '/tmp/s/groundwork.yaml');
    expect(loaded.config).toBeUndefined();
    const at = (path: string) => loaded.diagnostics.filter((d) => d.path === path);
    const url = at('scrape.targets.app.url')[0];
    expect(url).toMatchObject({ line: 6, message: expect.stringContaining('not a valid URL') });
    expect(at('scrape.targets.app.timeout')[0]).toMatchObject({
      line: 7,
      expected: 'at most the interval (10s)',
      fix: expect.stringContaining('shorten the timeout'),
    });
    expect(at('scrape.targets.app.labels.job')[0]).toMatchObject({
      line: 8,
      message: expect.stringContaining('set by the scraper'),
    });
    expect(at('scrape.targets.node.url')[0]?.line).toBe(10);
    expect(at('scrape.targets.node.series_limit')[0]?.line).toBe(11);
    expect(loaded.diagnostics.some((d) => d.line === 12 && d.path.includes('Bad_Name'))).toBe(true);
    expect(loaded.diagnostics.some((d) => d.line === 13 && d.message.includes('intervall'))).toBe(true);
    for (const d of loaded.diagnostics) expect(d.fix, JSON.stringify(d)).toBeTruthy();
  });
});

describe('scraping in the daemon', () => {
  const dir = makeTempDir('scrape-daemon');
  let app: http.Server;
  let appPort = 0;
  let exporter: ChildProcess | undefined;
  let exporterPort = 0;
  let d: InProcessDaemon | undefined;
  let hits = 0;

  const query = async (expr: string): Promise<Series> => {
    const a = await d!.api.json<{ data?: { result?: Series } }>(
      'GET',
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    return a.data?.result ?? [];
  };
  const waitSeries = (expr: string, ok: (s: Series) => boolean, what: string) =>
    waitFor(
      async () => {
        const s = await query(expr);
        return ok(s) ? s : undefined;
      },
      { what, timeoutMs: 20_000, intervalMs: 100 },
    );

  beforeAll(async () => {
    // A service's own /metrics: a counter that grows per scrape and 30 series of one family.
    app = http.createServer((_req, res) => {
      hits++;
      const lines = [
        '# HELP app_requests_total Requests served.',
        '# TYPE app_requests_total counter',
        `app_requests_total{path="/"} ${hits * 10}`,
        '# HELP app_shard_items Items per shard.',
        '# TYPE app_shard_items gauge',
        ...Array.from({ length: 30 }, (_, i) => `app_shard_items{shard="${i}"} ${i}`),
      ];
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(lines.join('\n') + '\n');
    });
    appPort = await new Promise<number>((r) =>
      app.listen(0, '127.0.0.1', () => r((app.address() as net.AddressInfo).port)),
    );
    exporterPort = await freePort();
    // Debian's node exporter with two cheap collectors: a real exporter's output, fast to produce.
    exporter = spawn(
      'prometheus-node-exporter',
      [
        `--web.listen-address=127.0.0.1:${exporterPort}`,
        '--collector.disable-defaults',
        '--collector.loadavg',
        '--collector.meminfo',
      ],
      { stdio: 'ignore' },
    );
    writeStack(dir, {
      stack: 'scrape',
      scrape: {
        interval: '1h',
        targets: {
          app: {
            url: `http://127.0.0.1:${appPort}/metrics`,
            interval: '200ms',
            labels: { env: 'lab' },
            series_limit: 20,
          },
          node: { url: `http://127.0.0.1:${exporterPort}/metrics`, interval: '200ms' },
        },
      },
    });
    d = await startInProcess(dir);
  }, 60_000);

  afterAll(async () => {
    await d?.close();
    exporter?.kill('SIGTERM');
    await new Promise<void>((r) => app.close(() => r()));
    removeTempDir(dir);
  });

  it('scrapes a service with its labels, up, and the series limit, and a real node exporter', async () => {
    const instance = `127.0.0.1:${appPort}`;
    const requests = await waitSeries(
      'app_requests_total',
      (s) => Number(s[0]?.value[1] ?? 0) >= 20,
      'two scrapes of the app in the store',
    );
    expect(requests[0]?.metric).toEqual({
      __name__: 'app_requests_total',
      job: 'app',
      instance,
      env: 'lab',
      path: '/',
    });
    expect((await query('up{job="app"}'))[0]?.value[1]).toBe('1');
    expect(Number((await query('rate(app_requests_total[10s])'))[0]?.value[1])).toBeGreaterThan(0);
    // 31 series offered, 20 allowed: the rest are dropped and counted against this target only.
    const shards = await query('app_shard_items');
    expect(shards.length).toBeLessThan(20);
    expect(shards.length).toBeGreaterThan(0);
    // The store's count of them, as /metrics shows it now (the daemon's own collection runs hourly here).
    const exposition = await request(d!.api.url, 'GET', '/metrics', { token: d!.api.token });
    const dropped = new RegExp(
      `^groundwork_tsdb_series_limit_samples_total\\{target="app/${instance}"\\} (\\d+)$`,
      'm',
    ).exec(exposition.text);
    expect(Number(dropped?.[1])).toBeGreaterThan(0);

    const load = await waitSeries('node_load1{job="node"}', (s) => s.length === 1, 'node_load1 from the exporter');
    expect(Number(load[0]?.value[1])).toBeGreaterThanOrEqual(0);
    expect((await query('node_memory_MemTotal_bytes{job="node"}')).length).toBe(1);
    expect((await query('up{job="node"}'))[0]?.value[1]).toBe('1');
  }, 40_000);

  it('follows the applied stack: a removed target stops, a new one starts, a dead one is up 0', async () => {
    const dead = await freePort();
    writeStack(dir, {
      stack: 'scrape',
      scrape: { targets: { gone: { url: `http://127.0.0.1:${dead}/metrics`, interval: '200ms', timeout: '100ms' } } },
    });
    await d!.api.lines('POST', '/v1/apply', { message: 'scrape change', author: 'test' });
    await waitSeries('up{job="gone"}', (s) => s[0]?.value[1] === '0', 'up 0 for a target nobody serves');
    const before = hits;
    // The app's target was removed: after the change, its scrapes stop (one in flight may land).
    await waitSeries('up{job="gone"}', (s) => s.length === 1, 'another scrape of the dead target');
    await waitSeries('scrape_samples_scraped{job="gone"}', (s) => s.length === 1, 'its meta series');
    expect(hits - before).toBeLessThanOrEqual(1);
  }, 30_000);
});
