/**
 * The access log is off unless a callback is passed to NodeProxy (`accessLog`); this writes its
 * entries (AccessLogEntry, in data-plane.ts) through a Logger, one `info` line `access` each.
 */
import type { Logger } from '../../util/logger.js';
import type { AccessLog } from '../data-plane.js';

export function accessLogToLogger(logger: Logger): AccessLog {
  return (entry) => logger.log('info', 'access', { ...entry });
}
