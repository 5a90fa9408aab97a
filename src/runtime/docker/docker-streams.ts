/**
 * The two stream formats the Engine API answers with besides plain JSON: the multiplexed
 * stdout/stderr stream of logs (8-byte frame headers) and newline-delimited JSON progress.
 */
import type { ProgressMessage } from './docker-api-types.js';

export interface LogFrame {
  stream: 'stdin' | 'stdout' | 'stderr';
  payload: Buffer;
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;

/**
 * Splits a multiplexed log stream into its frames. Each frame is a header
 * `[stream, 0, 0, 0, size(4 bytes, big-endian)]` and `size` bytes of payload. A container with a
 * TTY has no frames; then the whole buffer is one stdout frame.
 */
export function demuxLogStream(buf: Buffer): LogFrame[] {
  if (!looksMultiplexed(buf)) return buf.length ? [{ stream: 'stdout', payload: buf }] : [];
  const frames: LogFrame[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = STREAMS[buf[at] as number] ?? 'stdout';
    const size = buf.readUInt32BE(at + 4);
    frames.push({ stream, payload: buf.subarray(at + 8, Math.min(buf.length, at + 8 + size)) });
    at += 8 + size;
  }
  return frames;
}

function looksMultiplexed(buf: Buffer): boolean {
  if (buf.length < 8) return false;
  return (buf[0] === 0 || buf[0] === 1 || buf[0] === 2) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
}

/** Incremental splitter for newline-delimited JSON; `push` returns the complete messages so far. */
export class JsonLines {
  private rest = '';

  push(chunk: Buffer | string): ProgressMessage[] {
    this.rest += chunk.toString();
    const lines = this.rest.split(/\r?\n/);
    this.rest = lines.pop() ?? '';
    return lines.flatMap((l) => parseLine(l));
  }

  end(): ProgressMessage[] {
    const last = parseLine(this.rest);
    this.rest = '';
    return last;
  }
}

function parseLine(line: string): ProgressMessage[] {
  const t = line.trim();
  if (!t) return [];
  try {
    return [JSON.parse(t) as ProgressMessage];
  } catch {
    return [{ stream: `${t}\n` }];
  }
}

/** The last `lines` lines of `text`, each ending in a newline. */
export function lastLines(text: string, lines: number): string {
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  const tail = all.slice(-lines);
  return tail.length ? `${tail.join('\n')}\n` : '';
}
