/**
 * One structured line per request (or per TCP connection). Off unless a callback is passed to
 * NodeProxy; `accessLogToLogger` writes the lines through a Logger.
 */
import type { Logger } from '../../util/logger.js';

export interface AccessLogEntry {
  /** When the request started (ISO 8601, from the proxy's clock). */
  time: string;
  listener: string;
  /** Route id; null when no route matched (404) or on a TCP listener. */
  route: string | null;
  /** Backend id of the last attempt; null when none was tried. */
  backend: string | null;
  /** HTTP method, or `TCP` for a TCP connection. */
  method: string;
  /** Request path without the query string (queries may carry tokens). */
  path: string;
  /** Status sent to the client; 0 when the connection was aborted without one. */
  status: number;
  /** Bytes sent to the client for this response (head and body). */
  bytes: number;
  durationMs: number;
  /** Client address. */
  client: string;
  /** Backends tried (more than 1 after a retry). */
  tries: number;
  /** Why the proxy answered itself or aborted, e.g. `connect-refused`, `timeout-idle`. */
  error?: string;
}

export type AccessLog = (entry: AccessLogEntry) => void;

/** Writes each entry as an `info` line `access` with the entry's fields. */
export function accessLogToLogger(logger: Logger): AccessLog {
  return (entry) => logger.log('info', 'access', { ...entry });
}
