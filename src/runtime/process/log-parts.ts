/**
 * Reading a log that the log writer rotates by rename: N.log is the live part, N.log.1 the newest
 * old part, N.log.K the oldest. A reader remembers where it was as (inode, offset), so it can
 * finish a part that was renamed under it and go on in the newer ones: no line is skipped or read
 * twice across a rotation.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

/** A position in a rotated log: byte `offset` of the part whose inode is `ino`. */
export interface LogCursor {
  ino: number;
  offset: number;
}

export interface LogPart {
  path: string;
  ino: number;
  size: number;
}

/** The parts that exist, oldest first, the live file last (when it exists). */
export function logParts(file: string): LogPart[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const numbered = names
    .map((n) => (n.startsWith(`${base}.`) ? Number(n.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => `${file}.${n}`);
  const out: LogPart[] = [];
  for (const p of [...numbered, file]) {
    try {
      const st = statSync(p);
      out.push({ path: p, ino: st.ino, size: st.size });
    } catch {
      /* rotated away between readdir and stat */
    }
  }
  return out;
}

function readRange(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.max(0, Math.min(length, size - offset));
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The last `lines` lines across the parts, reading at most `maxBytes` from the end. */
export function tailLog(file: string, lines: number, maxBytes = 4 * 1024 * 1024): string {
  return tailLogWithCursor(file, lines, maxBytes).text;
}

/**
 * tailLog, and the cursor right after what it read: following from there (readLog) neither
 * repeats nor skips a line, even when the writer rotates in between.
 */
export function tailLogWithCursor(
  file: string,
  lines: number,
  maxBytes = 4 * 1024 * 1024,
): { text: string; next: LogCursor } {
  const parts = logParts(file);
  const last = parts[parts.length - 1];
  const next: LogCursor = last ? { ino: last.ino, offset: last.size } : { ino: 0, offset: 0 };
  const chunks: Buffer[] = [];
  let budget = maxBytes;
  let newlines = 0;
  for (let i = parts.length - 1; i >= 0 && budget > 0 && newlines <= lines; i--) {
    const p = parts[i] as LogPart;
    const want = Math.min(p.size, budget);
    let buf: Buffer;
    try {
      buf = readRange(p.path, p.size - want, want);
    } catch {
      continue; // rotated away while we read: its content is in the next part we look at, or dropped
    }
    chunks.unshift(buf);
    budget -= buf.length;
    for (const b of buf) if (b === 0x0a) newlines++;
  }
  const all = Buffer.concat(chunks).toString('utf8').split('\n');
  if (all[all.length - 1] === '') all.pop();
  const tail = all.slice(-lines);
  return { text: tail.length ? `${tail.join('\n')}\n` : '', next };
}

/**
 * Reads from `from` (undefined: the start of the oldest part) on, across parts, at most `max`
 * bytes, and says where to go on. A cursor whose part was dropped (rotated out) starts over at
 * the oldest part that is left.
 */
export function readLog(
  file: string,
  from: LogCursor | undefined,
  max = 4 * 1024 * 1024,
): { text: string; next: LogCursor } {
  const parts = logParts(file);
  const live = parts[parts.length - 1];
  if (!live) return { text: '', next: from ?? { ino: 0, offset: 0 } };
  let i = from ? parts.findIndex((p) => p.ino === from.ino) : 0;
  let offset = from && i >= 0 ? from.offset : 0;
  if (i < 0) i = 0;
  const out: Buffer[] = [];
  let budget = max;
  let at: LogCursor = { ino: (parts[i] as LogPart).ino, offset };
  for (; i < parts.length && budget > 0; i++) {
    const p = parts[i] as LogPart;
    if (offset > p.size) offset = 0; // not the file we knew (truncated): from its start
    let buf: Buffer;
    try {
      buf = readRange(p.path, offset, budget);
    } catch {
      buf = Buffer.alloc(0);
    }
    out.push(buf);
    budget -= buf.length;
    at = { ino: p.ino, offset: offset + buf.length };
    offset = 0;
    // Stay on a part we did not finish; move on only when it was read to its end and a newer one exists.
    if (at.offset < p.size) break;
  }
  return { text: Buffer.concat(out).toString('utf8'), next: at };
}

/** Where the live part ends now: following from here shows only what is written later. */
export function endOf(file: string): LogCursor {
  try {
    const st = statSync(file);
    return { ino: st.ino, offset: st.size };
  } catch {
    return { ino: 0, offset: 0 };
  }
}
