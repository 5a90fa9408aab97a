import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PromqlEngine } from '../../../src/observe/promql/engine.js';
import { answerPromApi } from '../../../src/observe/promql/http-api.js';
import { MetricsDb } from '../../../src/observe/tsdb/metrics-db.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
let dir: string;
let db: MetricsDb;
let engine: PromqlEngine;

beforeEach(() => {
  dir = makeTempDir('promapi');
  db = MetricsDb.open({ path: path.join(dir, 'm.db') });
  for (let i = 0; i <= 40; i++) {
    db.append({ __name__: 'http_requests_total', route: 'web' }, T0 + i * 15_000, i * 30);
    db.append({ __name__: 'http_requests_total', route: 'api' }, T0 + i * 15_000, i * 15);
  }
  engine = new PromqlEngine(db);
});
afterEach(() => {
  db.close();
  removeTempDir(dir);
});

describe('Prometheus query API', () => {
  it('answers an instant query at a Unix-seconds or RFC 3339 time, and at now without one', () => {
    const at = T0 + 600_000;
    for (const time of [String(at / 1000), new Date(at).toISOString()]) {
      const r = answerPromApi(engine, '/api/v1/query', { query: 'sum(rate(http_requests_total[1m]))', time }, 0);
      expect(r).toEqual({
        status: 200,
        body: { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [at / 1000, '3'] }] } },
      });
    }
    const now = answerPromApi(engine, '/api/v1/query', { query: 'http_requests_total{route="api"}' }, T0 + 40 * 15_000);
    expect(now.body).toMatchObject({ data: { result: [{ value: [(T0 + 600_000) / 1000, '600'] }] } });
  });

  it('answers a range query with a step in seconds or as a duration', () => {
    for (const step of ['60', '1m']) {
      const r = answerPromApi(
        engine,
        '/api/v1/query_range',
        {
          query: 'rate(http_requests_total{route="web"}[1m])',
          start: String((T0 + 60_000) / 1000),
          end: String((T0 + 240_000) / 1000),
          step,
        },
        0,
      );
      expect(r.status).toBe(200);
      const values = [60_000, 120_000, 180_000, 240_000].map((ms) => [(T0 + ms) / 1000, '2']);
      expect(r.body).toEqual({
        status: 'success',
        data: { resultType: 'matrix', result: [{ metric: { route: 'web' }, values }] },
      });
    }
  });

  it('answers errors as Prometheus does: 400 bad_data for parameters and syntax, 422 for evaluation', () => {
    expect(answerPromApi(engine, '/api/v1/query', {}, 0)).toMatchObject({
      status: 400,
      body: { errorType: 'bad_data', error: expect.stringMatching(/query is missing/) },
    });
    expect(answerPromApi(engine, '/api/v1/query_range', { query: 'up', start: '1', end: '2' }, 0)).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/step is missing/) },
    });
    expect(answerPromApi(engine, '/api/v1/query', { query: 'rate(x[5m]', time: '1' }, 0)).toMatchObject({
      status: 400,
      body: { errorType: 'bad_data' },
    });
    expect(
      answerPromApi(
        engine,
        '/api/v1/query',
        { query: 'http_requests_total + on() http_requests_total', time: String(T0 / 1000) },
        0,
      ),
    ).toMatchObject({
      status: 422,
      body: { errorType: 'execution', error: expect.stringMatching(/many-to-many matching not allowed/) },
    });
  });
});
