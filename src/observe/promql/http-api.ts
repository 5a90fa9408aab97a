/**
 * Prometheus's query API (`/api/v1/query`, `/api/v1/query_range`) over the engine, independent
 * of the HTTP framework: the daemon maps a request's path and parameters (query string or form
 * body) to `answerPromApi` and sends back the status and JSON body. Grafana's Prometheus data
 * source and promtool-style clients then work against Groundwork unchanged.
 *
 * Parameters as Prometheus reads them: `time`, `start`, `end` as Unix seconds (fractions allowed)
 * or RFC 3339; `step` as seconds or a duration (`15s`, `1m`). A missing `time` is now.
 */
import { PromqlEngine, type ApiResponse } from './engine.js';
import { parseDurationMs } from '../../promql/parse.js';

export interface PromApiAnswer {
  /** 200; 400 for bad parameters or a query that does not parse; 422 when evaluation fails. */
  status: number;
  body: ApiResponse;
}

export const PROM_API_PATHS = ['/api/v1/query', '/api/v1/query_range'] as const;

class BadParam extends Error {}

function parseTime(name: string, text: string | undefined, nowMs: number): number {
  if (text === undefined || text === '') {
    if (name === 'time') return nowMs;
    throw new BadParam(`parameter ${name} is missing; give Unix seconds (e.g. 1700000000.5) or RFC 3339`);
  }
  if (/^-?\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadParam(`parameter ${name}="${text}" is not a time; give Unix seconds or RFC 3339`);
  return ms;
}

function parseStep(text: string | undefined): number {
  if (text === undefined || text === '') throw new BadParam('parameter step is missing; e.g. step=15s or step=15');
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  try {
    return parseDurationMs(text);
  } catch {
    throw new BadParam(`parameter step="${text}" is not a duration; e.g. step=15s or step=15`);
  }
}

/** Answers one API request; never throws. `params` holds query-string and form parameters. */
export function answerPromApi(
  engine: PromqlEngine,
  path: string,
  params: Readonly<Record<string, string | undefined>>,
  nowMs: number,
): PromApiAnswer {
  try {
    const query = params.query;
    if (!query) throw new BadParam('parameter query is missing; e.g. query=up');
    let body: ApiResponse;
    if (path.endsWith('/query')) {
      body = engine.instantQuery(query, parseTime('time', params.time, nowMs));
    } else if (path.endsWith('/query_range')) {
      body = engine.rangeQuery(
        query,
        parseTime('start', params.start, nowMs),
        parseTime('end', params.end, nowMs),
        parseStep(params.step),
      );
    } else {
      return {
        status: 404,
        body: {
          status: 'error',
          errorType: 'bad_data',
          error: `no Prometheus API at ${path}; served: ${PROM_API_PATHS.join(', ')}`,
        },
      };
    }
    const status = body.status === 'success' ? 200 : body.errorType === 'bad_data' ? 400 : 422;
    return { status, body };
  } catch (e) {
    if (e instanceof BadParam)
      return { status: 400, body: { status: 'error', errorType: 'bad_data', error: e.message } };
    throw e;
  }
}
