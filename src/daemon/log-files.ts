/**
 * Instance logs: size-based rotation (copy-truncate, safe because instances write with
 * O_APPEND) and a time→offset index so `logs --since` works on lines that carry no timestamps.
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

export interface RotationSettings {
  maxBytes: number;
  keep: number;
}
export const DEFAULT_ROTATION: RotationSettings = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/** Rotates `file` when it is larger than maxBytes: file.1 is the newest old part. */
export function rotateIfLarge(file: string, s: RotationSettings): boolean {
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

/** Samples file sizes over time; `offsetAt(t)` is where the file was at time t. */
export class LogIndex {
  private readonly samples = new Map<string, { at: number; offset: number }[]>();

  sample(file: string, now: number): void {
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    const list = this.samples.get(file) ?? [];
    const last = list[list.length - 1];
    if (last && size < last.offset) list.length = 0; // rotated
    if (!last || last.offset !== size || list.length === 0) list.push({ at: now, offset: size });
    if (list.length > 2000) list.splice(0, list.length - 2000);
    this.samples.set(file, list);
  }

  /** Offset of the first byte written at or after `t` (to sampling precision); 0 when unknown. */
  offsetAt(file: string, t: number): number {
    const list = this.samples.get(file) ?? [];
    let best = 0;
    for (const s of list) if (s.at <= t) best = s.offset;
    return best;
  }
}

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
