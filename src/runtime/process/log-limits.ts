/**
 * Log limits of a process instance, from the stack file's `services.NAME.logs` to the numbers
 * the log writer applies. Disk per instance is at most max_size × max_files (plus one line
 * longer than max_size, which is written whole); per service, that times its replicas (and the
 * instances a deploy runs beside them).
 */
import { ByteSize } from '../../util/byte-size.js';
import type { LogLimits } from '../runtime-driver.js';

/** 10 MiB × 3 files (30 MiB of disk per instance at most), 1 MiB/s after a 4 MiB burst. */
export const DEFAULT_LOG_LIMITS: LogLimits = {
  maxBytes: 10 * 1024 * 1024,
  maxFiles: 3,
  rateBytesPerSecond: 1024 * 1024,
  burstBytes: 4 * 1024 * 1024,
};

export interface LogsConfig {
  max_size?: string;
  max_files?: number;
  rate?: string;
  burst?: string;
}

/** Validated by the schema before it gets here, so a bad value is a bug: it throws naming the key. */
export function logLimitsOf(c: LogsConfig): LogLimits {
  const maxBytes = c.max_size ? ByteSize.parse(c.max_size).toBytes() : DEFAULT_LOG_LIMITS.maxBytes;
  const rate =
    c.rate === undefined
      ? DEFAULT_LOG_LIMITS.rateBytesPerSecond
      : c.rate === 'unlimited'
        ? null
        : ByteSize.parse(c.rate.replace(/\/s$/, '')).toBytes();
  const burst = c.burst ? ByteSize.parse(c.burst).toBytes() : rate === null ? 0 : rate * 4;
  if (maxBytes < 1) throw new Error(`logs.max_size must be at least 1 byte, found "${c.max_size}"`);
  return {
    maxBytes,
    maxFiles: c.max_files ?? DEFAULT_LOG_LIMITS.maxFiles,
    rateBytesPerSecond: rate,
    burstBytes: burst,
  };
}
