/**
 * The log writer: one small process per instance, between the instance's output and its log file.
 *
 *   node log-writer.js '<LogWriterConfig as JSON>'
 *
 * Why a process of its own: rotation and rate limiting then never run on the daemon's event loop
 * (a `yes` service used to freeze the daemon while it copied GBs), and the writer outlives a
 * daemon restart like the instance does (the driver spawns it detached, in its own session, and
 * records its pid beside the instance's).
 *
 * The instance writes into a FIFO (`instances/ID.fifo`); this process reads it and appends to
 * `N.log`. At `maxBytes` it rotates by RENAME (N.log → N.log.1 → … → N.log.(maxFiles-1); the
 * oldest is dropped) and opens a fresh N.log: nothing is copied and no line is lost or split
 * across files, because rotation happens only at line ends. Disk per instance is therefore at
 * most maxBytes × maxFiles (plus one line longer than maxBytes, which is written whole).
 *
 * Rate limit: a token bucket in bytes (rateBytesPerSecond, burstBytes). Whole lines over the rate
 * are dropped and counted; the counts go to `N.log.stats` (JSON, rewritten at most once a
 * second, read by `status`) and, when lines flow again, one line in the log itself:
 * `[groundwork] dropped 12345 lines (678 KiB) over the rate limit of 1 MiB/s`.
 *
 * Secret values the instance was given are replaced by `[secret:NAME]` in each line before it is
 * written (security/redact.ts, matched on bytes, so output that is not UTF-8 passes unchanged).
 * The values come on stdin (`redactFromStdin`), never argv or env, and live in memory only.
 *
 * It exits when every writer of the FIFO has closed it (the instance and all its descendants
 * ended), after writing what it read. Imports node:* and the dependency-free redact.ts only, so
 * dist/…/log-writer.js runs alone.
 */
import {
  closeSync,
  fchmodSync,
  fchownSync,
  open as openFd,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import { Redactor, type NamedSecretValue } from '../../security/redact.js';

export interface LogWriterConfig {
  /** The FIFO the instance writes into. */
  fifo: string;
  /** The live log file (N.log). */
  file: string;
  /** The instance id, so a restarted writer continues the counters of the same instance. */
  instance: string;
  maxBytes: number;
  /** Files kept, the live one included: N.log plus N.log.1 … N.log.(maxFiles-1). */
  maxFiles: number;
  /** null: no rate limit. */
  rateBytesPerSecond: number | null;
  burstBytes: number;
  /**
   * The group that may read the logs (gid): files 0640 owned by it. Absent: 0600, the daemon's
   * user alone (GROUNDWORK_LOG_GROUP, see ProcessDriverOptions.logGroup).
   */
  gid?: number;
  /** Secret values to redact come as a JSON list of { name, value } on stdin. */
  redactFromStdin?: boolean;
}

/** Opens `file` with the log's mode (and group), whatever the umask or an earlier mode was. */
function openLogFile(file: string, flags: string, gid: number | undefined): number {
  const mode = gid === undefined ? 0o600 : 0o640;
  const fd = openSync(file, flags, mode);
  try {
    if (gid !== undefined) fchownSync(fd, process.getuid?.() ?? -1, gid);
    fchmodSync(fd, mode);
  } catch {
    /* not ours to change (another owner): the file is still written */
  }
  return fd;
}

/** What `N.log.stats` holds. */
export interface LogWriterStats {
  instance: string;
  pid: number;
  writtenBytes: number;
  writtenLines: number;
  droppedLines: number;
  droppedBytes: number;
  rotations: number;
  /** The last write error (e.g. ENOSPC), or null. Lines that could not be written are counted as dropped. */
  error: string | null;
  updatedAt: string;
}

/** A line longer than this is cut into lines of this length, so one endless line cannot eat memory. */
const MAX_LINE = 1024 * 1024;
const NL = 0x0a;

export function statsFileOf(logFile: string): string {
  return `${logFile}.stats`;
}

/** The counters of a log writer, or undefined when there are none yet (or the file is torn). */
export function tryReadLogStats(logFile: string): LogWriterStats | undefined {
  try {
    const s = JSON.parse(readFileSync(statsFileOf(logFile), 'utf8')) as Partial<LogWriterStats>;
    return typeof s.droppedLines === 'number' && typeof s.instance === 'string' ? (s as LogWriterStats) : undefined;
  } catch {
    return undefined;
  }
}

function humanBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Counts '\n' in buf[from, to): a plain loop, faster than indexOf for short lines (`yes` output). */
function countLines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (buf[i] === NL) n++;
  return n;
}

/** Appends whole lines to a file rotated by rename; the synchronous core, testable without a FIFO. */
export class RotatingLog {
  private fd = -1;
  private ino = 0;
  private size = 0;

  constructor(
    private readonly cfg: Pick<LogWriterConfig, 'file' | 'maxBytes' | 'maxFiles' | 'gid'>,
    private readonly onRotate: () => void = () => {},
  ) {
    this.reopen();
  }

  private reopen(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = openLogFile(this.cfg.file, 'a', this.cfg.gid);
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.size = st.size;
  }

  /** Appends `buf`, which ends with a newline; rotates at line ends so no file exceeds maxBytes (but by one line). */
  append(buf: Buffer): void {
    // The file's real size, not a count of our own writes: another writer may share the file.
    this.size = fstatSync(this.fd).size;
    let rest = buf;
    while (rest.length > 0) {
      const room = this.cfg.maxBytes - this.size;
      if (rest.length <= room) {
        this.write(rest);
        return;
      }
      // The lines that still fit end at the last newline within `room` bytes.
      const cut = room > 0 ? rest.lastIndexOf(NL, room - 1) + 1 : 0;
      if (cut > 0) {
        this.write(rest.subarray(0, cut));
        rest = rest.subarray(cut);
      } else if (this.size === 0) {
        // A single line longer than maxBytes: written whole (never split), alone in its file,
        // which the next line rotates.
        const end = rest.indexOf(NL) + 1 || rest.length;
        this.write(rest.subarray(0, end));
        rest = rest.subarray(end);
        continue;
      }
      this.rotate();
    }
  }

  private write(b: Buffer): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.size += b.length;
  }

  rotate(): void {
    const f = this.cfg.file;
    // Another writer of the same N.log (an old and a new instance of one index during a deploy)
    // may have rotated already: then the name points to a new file and we only follow it.
    let current: number | undefined;
    try {
      current = statSync(f).ino;
    } catch {
      current = undefined;
    }
    if (current === this.ino) {
      const keep = this.cfg.maxFiles - 1;
      if (keep <= 0) rmSync(f, { force: true });
      else {
        rmSync(`${f}.${keep}`, { force: true });
        for (let i = keep - 1; i >= 1; i--) {
          try {
            renameSync(`${f}.${i}`, `${f}.${i + 1}`);
          } catch {
            /* that part does not exist (yet) */
          }
        }
        renameSync(f, `${f}.1`);
      }
      this.onRotate();
    }
    this.reopen();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Line splitting, the token bucket and the counters; fed chunks as they come from the pipe. */
export class LogPump {
  readonly stats: LogWriterStats;
  private pending: Buffer = Buffer.alloc(0);
  private tokens: number;
  private lastRefill: number;
  /** Dropped since the last notice line. */
  private unreportedLines = 0;
  private unreportedBytes = 0;
  private lastNotice = -Infinity;
  dirty = true;

  constructor(
    private readonly cfg: LogWriterConfig,
    private readonly log: RotatingLog,
    private readonly now: () => number = () => Date.now(),
    previous?: LogWriterStats,
    /** Built with `{ bytes: true }`: lines are matched as latin1 text. */
    private readonly redactor: Redactor = Redactor.none,
  ) {
    this.tokens = cfg.burstBytes;
    this.lastRefill = now();
    this.stats =
      previous && previous.instance === cfg.instance
        ? { ...previous, pid: process.pid, error: null }
        : {
            instance: cfg.instance,
            pid: process.pid,
            writtenBytes: 0,
            writtenLines: 0,
            droppedLines: 0,
            droppedBytes: 0,
            rotations: 0,
            error: null,
            updatedAt: new Date(now()).toISOString(),
          };
  }

  onRotate(): void {
    this.stats.rotations++;
    this.dirty = true;
  }

  /** Returns how many of the bytes completed by this chunk were dropped (over the rate). */
  push(chunk: Buffer): number {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let end = buf.lastIndexOf(NL) + 1;
    if (end === 0 && buf.length >= MAX_LINE) {
      // No newline in a whole MiB: cut it into a line of its own.
      buf = Buffer.concat([buf.subarray(0, MAX_LINE), Buffer.from('\n'), buf.subarray(MAX_LINE)]);
      end = MAX_LINE + 1;
    }
    this.pending = Buffer.from(buf.subarray(end));
    return end > 0 ? this.accept(buf, end) : 0;
  }

  /** At EOF: a last line without a newline is written with one. */
  finish(): void {
    if (this.pending.length) {
      const last = Buffer.concat([this.pending, Buffer.from('\n')]);
      this.pending = Buffer.alloc(0);
      this.accept(last, last.length);
    }
  }

  /** buf[0, end) is whole lines: write those the bucket allows, count the rest as dropped. */
  private accept(buf: Buffer, end: number): number {
    // The notice is about lines dropped before these, so it is decided before this chunk's drops count.
    const noticeDue = this.unreportedLines > 0 && this.now() - this.lastNotice >= 1000;
    const [noticeLines, noticeBytes] = [this.unreportedLines, this.unreportedBytes];
    let take = end;
    if (this.cfg.rateBytesPerSecond !== null) {
      const t = this.now();
      this.tokens = Math.min(
        this.cfg.burstBytes,
        this.tokens + ((t - this.lastRefill) / 1000) * this.cfg.rateBytesPerSecond,
      );
      this.lastRefill = t;
      if (this.tokens >= end) this.tokens -= end;
      else {
        // Lines pass while there are tokens (the last one may overdraw); whole lines are dropped after.
        take = 0;
        while (take < end && this.tokens > 0) {
          const nl = buf.indexOf(NL, take);
          const next = nl < 0 || nl >= end ? end : nl + 1;
          this.tokens -= next - take;
          take = next;
        }
        const lines = countLines(buf, take, end);
        this.unreportedLines += lines;
        this.unreportedBytes += end - take;
        this.stats.droppedLines += lines;
        this.stats.droppedBytes += end - take;
        this.dirty = true;
      }
    }
    if (take === 0) return end;
    let out = buf.subarray(0, take);
    // One notice a second at most, so a flood does not turn the log into notices.
    if (noticeDue) {
      this.lastNotice = this.now();
      const rate = this.cfg.rateBytesPerSecond ?? 0;
      const notice = `[groundwork] dropped ${noticeLines} lines (${humanBytes(noticeBytes)}) over the rate limit of ${humanBytes(rate)}/s\n`;
      out = Buffer.concat([Buffer.from(notice), out]);
      this.unreportedLines -= noticeLines;
      this.unreportedBytes -= noticeBytes;
    }
    // Whole lines only reach here, so a value cannot straddle two writes.
    if (!this.redactor.empty) out = Buffer.from(this.redactor.redact(out.toString('latin1')), 'latin1');
    try {
      this.log.append(out);
      this.stats.writtenBytes += out.length;
      this.stats.writtenLines += countLines(out, 0, out.length);
    } catch (e) {
      // ENOSPC and the like: the lines are lost, but counted, and the writer keeps reading so
      // the instance never blocks on a full pipe.
      const lines = countLines(out, 0, out.length);
      this.stats.droppedLines += lines;
      this.stats.droppedBytes += out.length;
      this.stats.error = e instanceof Error ? e.message : String(e);
    }
    this.dirty = true;
    return end - take;
  }

  /** Rewrites the stats file (tmp + rename, so a reader never sees half of it). */
  flushStats(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.stats.updatedAt = new Date(this.now()).toISOString();
    const file = statsFileOf(this.cfg.file);
    try {
      const fd = openLogFile(`${file}.tmp`, 'w', this.cfg.gid);
      try {
        writeSync(fd, JSON.stringify(this.stats));
      } finally {
        closeSync(fd);
      }
      renameSync(`${file}.tmp`, file);
    } catch {
      this.dirty = true; // disk full: try again next second
    }
  }
}

/** The secret values on stdin (see redactFromStdin); a malformed list redacts nothing rather than stop the log. */
async function readRedactions(): Promise<NamedSecretValue[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  try {
    const list: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return Array.isArray(list)
      ? list.filter(
          (x): x is NamedSecretValue =>
            typeof x === 'object' && x !== null && typeof x.name === 'string' && typeof x.value === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

async function main(argv: string[]): Promise<void> {
  const raw = argv[0];
  if (!raw) throw new Error('usage: log-writer.js \'{"fifo":…,"file":…,…}\'');
  const cfg = JSON.parse(raw) as LogWriterConfig;
  const redact = cfg.redactFromStdin ? await readRedactions() : [];
  const onRotate = { call: () => {} };
  const log = new RotatingLog(cfg, () => onRotate.call());
  const p = new LogPump(cfg, log, () => Date.now(), tryReadLogStats(cfg.file), new Redactor(redact, { bytes: true }));
  onRotate.call = () => p.onRotate();
  p.flushStats();
  const timer = setInterval(() => p.flushStats(), 1000);
  const done = (code: number) => {
    clearInterval(timer);
    p.finish();
    p.flushStats();
    log.close();
    process.exit(code);
  };
  // SIGTERM (the driver giving up on a writer whose FIFO never reaches EOF): write what was read, then go.
  process.on('SIGTERM', () => done(0));
  process.on('SIGHUP', () => {});
  // Opening a FIFO for reading waits (in a worker thread) until the instance opened it for writing;
  // libuv then reads it without blocking, and EOF comes when the last writer closed it.
  // fs.open, not fs/promises: a FileHandle closes its fd when garbage-collected, under the socket.
  const fd = await new Promise<number>((resolve, reject) =>
    openFd(cfg.fifo, 'r', (e, n) => (e ? reject(e) : resolve(n))),
  );
  const pipe = new net.Socket({ fd, readable: true, writable: false });
  // While over the rate, read at most a chunk (64 KiB) per 10 ms: counting dropped lines costs
  // CPU per byte, so a `yes` is slowed by its full pipe (to ~6 MB/s) rather than burning a core
  // here. A service merely above the rate never waits: the pipe absorbs it between reads.
  pipe.on('data', (chunk: Buffer) => {
    if (p.push(chunk) > 0) {
      pipe.pause();
      setTimeout(() => pipe.resume(), 10);
    }
  });
  pipe.on('end', () => done(0));
  pipe.on('error', (e) => {
    p.stats.error = `reading ${cfg.fifo}: ${e.message}`;
    done(1);
  });
}

// Run as a program, not when imported (tests import RotatingLog and LogPump).
if (process.argv[1] && /log-writer\.[jt]s$/.test(process.argv[1])) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`groundwork log writer: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
