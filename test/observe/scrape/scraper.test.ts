import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PromqlEngine } from '../../../src/observe/promql/engine.js';
import { Scraper } from '../../../src/observe/scrape/scraper.js';
import { MetricsDb } from '../../../src/observe/tsdb/metrics-db.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';

let dir: string;
let server: http.Server;
let body: string | null;
let url: string;

beforeEach(async () => {
  dir = makeTempDir('scrape');
  body = '';
  server = http.createServer((_req, res) => {
    if (body === null) {
      res.statusCode = 503;
      return res.end('down for maintenance');
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});
afterEach(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  removeTempDir(dir);
});

describe('Scraper', () => {
  it('stores samples with job and instance, the per-scrape series, and staleness as Prometheus does', async () => {
    const clock = new ManualClock();
    const db = MetricsDb.open({ path: path.join(dir, 'm.db'), maxSeriesPerTarget: 8 });
    const scraper = new Scraper(db, clock);
    const engine = new PromqlEngine(db);
    const target = { job: 'app', url, intervalMs: 15_000 };
    const instance = new URL(url).host;

    const t1 = clock.now().getTime();
    body = `# TYPE jobs_total counter\njobs_total{job="batch",queue="a"} 5\njobs_total{job="batch",queue="b"} 7\nfixed 3 ${t1 + 1000}\n`;
    expect(await scraper.scrape(target)).toMatchObject({ up: true, samples: 3 });
    // The target's own job label is kept as exported_job; the scrape's job and instance win.
    expect(engine.instantQuery('jobs_total', t1)).toMatchObject({
      data: {
        result: [
          {
            metric: { __name__: 'jobs_total', job: 'app', instance, exported_job: 'batch', queue: 'a' },
            value: [t1 / 1000, '5'],
          },
          {},
        ],
      },
    });
    expect(engine.instantQuery('fixed', t1 + 1000)).toMatchObject({
      data: { result: [{ value: [t1 / 1000 + 1, '3'] }] },
    });
    for (const [name, value] of [
      ['up', '1'],
      ['scrape_samples_scraped', '3'],
    ]) {
      expect(engine.instantQuery(`${name}{job="app"}`, t1)).toMatchObject({
        data: { result: [{ metric: { instance }, value: [t1 / 1000, value] }] },
      });
    }
    expect(engine.instantQuery('scrape_duration_seconds >= 0', t1)).toMatchObject({ data: { result: [{}] } });

    // queue="b" disappears: it is marked stale and no longer answers, though within the lookback.
    await clock.advance(15_000);
    body = '# TYPE jobs_total counter\njobs_total{job="batch",queue="a"} 6\n';
    await scraper.scrape(target);
    const t2 = clock.now().getTime();
    const r = engine.instantQuery('jobs_total', t2);
    expect(
      r.status === 'success' && r.data.resultType === 'vector' && r.data.result.map((s) => s.metric.queue),
    ).toEqual(['a']);

    // The target fails: up is 0, the report says why, every series of the target goes stale.
    await clock.advance(15_000);
    body = null;
    const down = await scraper.scrape(target);
    expect(down.up).toBe(false);
    expect(down.error).toMatch(/scrape of http:\/\/127\.0\.0\.1:\d+\/metrics \(job app\) failed: HTTP 503/);
    const t3 = clock.now().getTime();
    expect(engine.instantQuery('up', t3)).toMatchObject({ data: { result: [{ value: [t3 / 1000, '0'] }] } });
    expect(engine.instantQuery('jobs_total', t3)).toMatchObject({ data: { result: [] } });

    // The series limit of the target: 8 series at most, the rest dropped and counted.
    await clock.advance(15_000);
    body = Array.from({ length: 10 }, (_, i) => `many{i="${i}"} ${i}`).join('\n');
    await scraper.scrape(target);
    expect(db.stats().droppedBySeriesLimit[`app/${instance}`]).toBeGreaterThan(0);
    db.close();
  });
});
