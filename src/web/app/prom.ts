/**
 * PromQL queries against the daemon's Prometheus-style API (/api/v1/query and query_range). A query
 * the engine refuses comes back as Prometheus does it (a 400 with `{ status: 'error', error }`),
 * not as the /v1 error shape: read here, so the page can show the message and where it points.
 */
import { ApiFailure, toLogin } from './api.js';
import type { PromMatrix } from './api-types.js';
import type { QueryWindow } from './time-range.js';

export class PromQueryError extends Error {
  constructor(
    message: string,
    /** 0-based offset into the query that the message points at, when it names one. */
    readonly position: number | undefined,
  ) {
    super(message);
  }
}

/** The engine writes "at character N" (1-based) into syntax errors (src/promql/parse.ts). */
export function errorPosition(message: string): number | undefined {
  const m = /at character (\d+)/.exec(message);
  return m ? Number(m[1]) - 1 : undefined;
}

/** One series over a range, as query_range answers it. */
export type MatrixResult = NonNullable<PromMatrix['data']>['result'];

/** What the two Prometheus query endpoints answer on success: which shape depends on the expression. */
export type PromData =
  | { resultType: 'matrix'; result: MatrixResult }
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] };

/**
 * GET /api/v1/<endpoint> and the `data` of a success. A 401 goes back to the login page; a body
 * that is not JSON is an ApiFailure; the engine's refusal (or the /v1 error shape of a role check)
 * is a PromQueryError with the place in the query it points at.
 */
export async function promGet(
  endpoint: 'query' | 'query_range',
  params: Record<string, string>,
  signal: AbortSignal,
): Promise<PromData> {
  const res = await fetch(`/api/v1/${endpoint}?${new URLSearchParams(params)}`, {
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
    signal,
  });
  if (res.status === 401) {
    toLogin();
    throw new ApiFailure(401, 'the session ended: log in again');
  }
  let body: { status: string; data?: PromData; error?: unknown };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new ApiFailure(res.status, `the metrics query failed: ${res.status} ${res.statusText}`);
  }
  if (body.status !== 'success' || !body.data) {
    // The /v1 error shape (a 403 of the role check, say) has `error` as an object.
    const raw = body.error;
    const message =
      typeof raw === 'string'
        ? raw
        : typeof raw === 'object' && raw !== null && 'message' in raw
          ? String(raw.message)
          : `${res.status} ${res.statusText}`;
    throw new PromQueryError(message, errorPosition(message));
  }
  return body.data;
}

export async function queryRange(query: string, w: QueryWindow, signal: AbortSignal): Promise<MatrixResult> {
  const params = { query, start: String(w.start), end: String(w.end), step: String(w.step) };
  const data = await promGet('query_range', params, signal);
  if (data.resultType !== 'matrix')
    throw new PromQueryError(`expected a range of samples (matrix), got ${data.resultType}`, undefined);
  return data.result;
}

/** `name{a="1", b="2"}` for a series' labels (the metric name first, as Prometheus prints them). */
export function seriesLabel(metric: Record<string, string>): string {
  const { __name__: name, ...rest } = metric;
  const pairs = Object.entries(rest)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`);
  if (pairs.length === 0) return name ?? '{}';
  return `${name ?? ''}{${pairs.join(', ')}}`;
}
