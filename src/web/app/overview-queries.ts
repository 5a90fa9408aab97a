/**
 * The overview's two range queries (requests and errors per second by service, through the
 * built-in proxy's groundwork_service_requests_total). Pure, with no DOM: the daemon's page server
 * (web/server/dashboard.ts) names the same paths in a `Link: rel=preload` header of the overview,
 * so the browser asks for them while it still loads the script, and the page's own requests of the
 * same paths take those answers.
 */
import { queryWindow, type QueryWindow, type TimeRange } from './time-range.js';

export interface OverviewQueries {
  /** Start, end and step shared by both queries, so their samples fall on the same times. */
  window: QueryWindow;
  /** GET paths of /api/v1/query_range. */
  requests: string;
  errors: string;
}

/** The overview's range queries for `r` at `nowS` (Unix seconds); the same paths within a step. */
export function overviewQueries(r: TimeRange, nowS: number): OverviewQueries {
  const window = queryWindow(r, nowS);
  const { start, end, step } = window;
  // The rate's window spans at least a step, so a long range's points miss no request.
  const over = `${Math.max(60, step)}s`;
  const path = (query: string) =>
    `/api/v1/query_range?${new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) })}`;
  return {
    window,
    requests: path(`sum by (service) (rate(groundwork_service_requests_total[${over}]))`),
    errors: path(`sum by (service) (rate(groundwork_service_requests_total{status_class=~"5xx|error"}[${over}]))`),
  };
}
