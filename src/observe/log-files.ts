/**
 * Instance logs as the daemon reads them. Process instances' logs are written and rotated by
 * their own log writer process (runtime/process/log-writer.ts: rotation by rename, off the
 * daemon's event loop), so the daemon only reads: the last lines across the rotated parts, what
 * was written since a time (a time→position index sampled by housekeeping, because lines carry
 * no timestamps), and following across a rotation with (inode, offset) cursors.
 */
import {
  copyFileSync,
  existsSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import { endOf, readLog, tailLog, tailLogWithCursor, type LogCursor } from '../runtime/process/log-parts.js';
import { statsFileOf, tryReadLogStats, type LogWriterStats } from '../runtime/process/log-writer.js';

export { endOf, readLog, tailLog, tailLogWithCursor, tryReadLogStats, type LogCursor, type LogWriterStats };

/**
 * Lines the log writer of instance `instanceId` dropped over its rate limit (for `status`), or
 * undefined when it has written no counters yet. Cheap: one small JSON file, rewritten at most
 * once a second by the writer. Counters of another instance of the same index (an old one
 * during a deploy, sharing N.log) are not this instance's: undefined then.
 */
export function droppedLines(logFile: string, instanceId: string): number | undefined {
  const s = tryReadLogStats(logFile);
  return s && s.instance === instanceId ? s.droppedLines : undefined;
}

export interface RotationSettings {
  maxBytes: number;
  keep: number;
}
export const DEFAULT_ROTATION: RotationSettings = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/**
 * @deprecated Copy-then-truncate on the caller's thread: loses what is written between the two
 * and copies the whole file. Only for a log that no log writer manages (none, once the daemon
 * stops calling it): a file with a writer (it has `N.log.stats`) is left alone, so the writer's
 * rename rotation is the only one.
 */
export function rotateIfLarge(file: string, s: RotationSettings): boolean {
  if (existsSync(statsFileOf(file))) return false;
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= s.maxBytes) return false;
  rmSync(`${file}.${s.keep}`, { force: true });
  for (let i = s.keep - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}

interface Sample {
  at: number;
  ino: number;
  offset: number;
}

/**
 * Samples where each live log file ends, over time; `cursorAt(t)` is where the log was at time t,
 * as a cursor that stays valid after the part was renamed to N.log.1 (readLog follows it there).
 */
export class LogIndex {
  private readonly samples = new Map<string, Sample[]>();

  sample(file: string, now: number): void {
    let st: { ino: number; size: number };
    try {
      st = statSync(file);
    } catch {
      return;
    }
    const list = this.samples.get(file) ?? [];
    const last = list[list.length - 1];
    if (last && last.ino === st.ino && st.size < last.offset) list.length = 0; // truncated in place
    if (!last || last.offset !== st.size || last.ino !== st.ino || list.length === 0)
      list.push({ at: now, ino: st.ino, offset: st.size });
    if (list.length > 2000) list.splice(0, list.length - 2000);
    this.samples.set(file, list);
  }

  /** Position of the first byte written at or after `t` (to sampling precision); undefined: from the oldest part. */
  cursorAt(file: string, t: number): LogCursor | undefined {
    let best: LogCursor | undefined;
    for (const s of this.samples.get(file) ?? []) if (s.at <= t) best = { ino: s.ino, offset: s.offset };
    return best;
  }

  /**
   * @deprecated Offset into the live file only (wrong once the file was rotated by rename); use
   * cursorAt with readLog. 0 when unknown or when the sample is of an earlier part.
   */
  offsetAt(file: string, t: number): number {
    const c = this.cursorAt(file, t);
    if (!c) return 0;
    let ino: number;
    try {
      ino = statSync(file).ino;
    } catch {
      return 0;
    }
    return c.ino === ino ? c.offset : 0;
  }
}

/** @deprecated Reads the live file only; use readLog, which continues across a rotation. */
export function readFrom(file: string, offset: number, max = 4 * 1024 * 1024): { text: string; next: number } {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return { text: '', next: 0 };
  }
  if (offset > size) offset = 0; // truncated by rotation
  const len = Math.min(size - offset, max);
  if (len <= 0) return { text: '', next: offset };
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, offset);
    return { text: buf.toString('utf8'), next: offset + len };
  } finally {
    closeSync(fd);
  }
}
