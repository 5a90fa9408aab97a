/**
 * PromQL over the installation's metrics store (`<state>/metrics.db`, observe/tsdb): what
 * `groundwork query` and the Prometheus-compatible `/api/v1/query(_range)` answer. In the daemon
 * the store is the one it writes (unflushed samples included); without a daemon the file is
 * opened for this one query.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PromqlEngine, type Queryable } from '../observe/promql/engine.js';
import { answerPromApi, type PromApiAnswer } from '../observe/promql/http-api.js';

/** Prometheus's answer: the HTTP status and body of /api/v1/query(_range). */
export type PromAnswer = PromApiAnswer;
import { MetricsDb } from '../observe/tsdb/metrics-db.js';

export type PromQueryKind = 'query' | 'query_range';

export interface PromQueryParams {
  query?: string;
  time?: string;
  start?: string;
  end?: string;
  step?: string;
}

export function metricsFileOf(stateDir: string): string {
  return path.join(stateDir, 'metrics.db');
}

export function promQuery(
  store: Queryable,
  kind: PromQueryKind,
  params: PromQueryParams,
  nowMs: number,
): PromApiAnswer {
  return answerPromApi(new PromqlEngine(store), `/api/v1/${kind}`, { ...params }, nowMs);
}

/** Without a daemon: the store on disk, or an empty answer's reason when nothing was recorded yet. */
export function promQueryOnDisk(
  stateDir: string,
  kind: PromQueryKind,
  params: PromQueryParams,
  nowMs: number,
): PromApiAnswer {
  const file = metricsFileOf(stateDir);
  if (!existsSync(file)) {
    return {
      status: 422,
      body: {
        status: 'error',
        errorType: 'execution',
        error: 'no metrics recorded yet: the daemon (`groundwork up`) keeps them in .groundwork/metrics.db',
      },
    };
  }
  const db = MetricsDb.open({ path: file });
  try {
    return promQuery(db, kind, params, nowMs);
  } finally {
    db.close();
  }
}
