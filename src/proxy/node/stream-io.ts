/**
 * Socket I/O below `net.Socket`'s stream machinery, for the proxy's hot path.
 *
 * Per request the proxy reads twice and writes twice. Through the streams API each read
 * allocates a 64 KB native buffer, an ArrayBuffer and a Buffer and runs Readable's push, and
 * each write allocates a write request and a queue entry and runs Writable's cork, buffer and
 * callback bookkeeping: measured, about a fifth of the proxy's user CPU per request, and most of
 * what each scavenge has to copy. Here:
 *
 * - **Writes** (`SocketWriter`) gather per event-loop turn and are handed to the socket's native
 *   handle at the end of the turn, in one call (`writeLatin1String`, `writeBuffer` or `writev`),
 *   with one reused request object: a write the kernel takes at once (almost all of them) leaves
 *   nothing behind. What the kernel does not take at once stays with libuv, which keeps the order
 *   of everything written after it (through either path).
 * - **Reads** of client connections (`readIntoShared`) go into one buffer shared by every
 *   connection, which is what `net.connect`'s `onread` option does for outgoing sockets and
 *   accepted sockets cannot ask for. The callback must copy what it keeps.
 *
 * Both rest on Node's internal stream binding (`process.binding('stream_wrap')`) and on the
 * symbols `net.Socket` keeps its `onread` settings under. When either is missing (another Node
 * version) or `GROUNDWORK_PROXY_IO=streams` is set, everything goes through the public streams
 * API instead; the data-plane contract suite runs both ways.
 */
import type net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** The part of a stream handle (libuv TCP) used here. */
interface StreamHandle {
  writeBuffer(req: WriteReq, data: Buffer): number;
  writeLatin1String(req: WriteReq, data: string): number;
  writev(req: WriteReq, chunks: (string | Buffer)[], allBuffers: boolean): number;
  useUserBuffer(buf: Buffer): void;
  readonly writeQueueSize: number;
}

/** A write request (a native WriteWrap). Only a write that completes later keeps it. */
interface WriteReq {
  handle: StreamHandle | null;
  oncomplete: (this: WriteReq, status: number) => void;
  writer: SocketWriter | null;
  /** The data of a pending write, kept alive until libuv is done with it. */
  data: unknown;
}

interface StreamBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

interface Internals {
  binding: StreamBinding;
  kBuffer: symbol;
  kBufferCb: symbol;
  kBufferGen: symbol;
}

type HandleOf = net.Socket & { _handle?: StreamHandle | null; encrypted?: boolean };

let internals: Internals | null | undefined;

/** Node's internals this needs, found once from a live socket; null: use the streams API. */
function internalsFor(socket: net.Socket): Internals | null {
  if (process.env.GROUNDWORK_PROXY_IO === 'streams') return null; // read per connection, so a test can switch
  if (internals !== undefined) return internals;
  internals = null;
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding(
      'stream_wrap',
    ) as Partial<StreamBinding>;
    const named = new Map<string, symbol>();
    for (const s of Object.getOwnPropertySymbols(socket)) if (s.description !== undefined) named.set(s.description, s);
    const kBuffer = named.get('kBuffer');
    const kBufferCb = named.get('kBufferCb');
    const kBufferGen = named.get('kBufferGen');
    if (
      typeof binding.WriteWrap !== 'function' ||
      !(binding.streamBaseState instanceof Int32Array) ||
      typeof binding.kLastWriteWasAsync !== 'number' ||
      kBuffer === undefined ||
      kBufferCb === undefined ||
      kBufferGen === undefined
    )
      return null;
    internals = { binding: binding as StreamBinding, kBuffer, kBufferCb, kBufferGen };
  } catch {
    internals = null;
  }
  return internals;
}

/** A plain TCP socket with a native handle (not TLS, whose writes must go through the TLS layer). */
function plainHandle(socket: net.Socket): StreamHandle | null {
  const s = socket as HandleOf;
  if (s.encrypted === true) return null;
  const h = s._handle;
  return h && typeof h.writeLatin1String === 'function' ? h : null;
}

let spare: WriteReq | null = null;

function writeToStream(sock: net.Socket, c: string | Buffer): void {
  if (typeof c === 'string') sock.write(c, 'latin1');
  else sock.write(c);
}

function onWriteDone(this: WriteReq, status: number): void {
  const w = this.writer;
  this.writer = null;
  this.data = null;
  this.handle = null;
  if (w !== null && status < 0) w.failed(status);
}

function takeReq(b: StreamBinding): WriteReq {
  if (spare !== null) return spare;
  const req = new b.WriteWrap();
  req.oncomplete = onWriteDone;
  req.writer = null;
  req.data = null;
  req.handle = null;
  return (spare = req);
}

function writeError(status: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  const e: NodeJS.ErrnoException = new Error(`write ${code}`);
  e.code = code;
  e.errno = status;
  e.syscall = 'write';
  return e;
}

/** Gathers writes until its flush; `Flusher.dirty` is told on the first write of a turn. */
export interface Flusher {
  dirty(w: SocketWriter): void;
}

/**
 * Bytes one socket's batch holds before a further `write` flushes it first; a piece this large
 * is better passed to `writeNow` (`send` does that).
 */
export const BATCH_LIMIT = 16 * 1024;

/**
 * The writes to one socket. `write` queues (order kept) until `flush`, which the owner of the
 * turn calls once per turn (`ProxyCore`); `writeNow` and `end` flush first, so nothing written
 * through here is overtaken. Chunks passed to `write` must stay unchanged until the flush (copy
 * what lies in a reused read buffer).
 */
export class SocketWriter {
  // The first queued chunk, and the others (most turns queue one): no array to reset per turn.
  private first: string | Buffer | null = null;
  private rest: (string | Buffer)[] | null = null;
  private bytes = 0;
  /** Writes went through the socket's stream (it may hold bytes libuv has not seen). */
  private viaStream = false;
  private readonly internals: Internals | null;

  constructor(
    readonly socket: net.Socket,
    private readonly flusher: Flusher,
  ) {
    // TLS sockets always write through their stream (the TLS layer encrypts).
    this.internals = plainHandle(socket) === null ? null : internalsFor(socket);
  }

  /** Queues `data` (a latin1 string or bytes) for the end of the turn. */
  write(data: string | Buffer): void {
    if (this.first !== null && this.bytes + data.length > BATCH_LIMIT) this.flush();
    if (this.first === null) {
      this.first = data;
      this.flusher.dirty(this);
    } else if (this.rest === null) this.rest = [data];
    else this.rest.push(data);
    this.bytes += data.length;
  }

  /**
   * Writes `data` now, after what is queued, through the socket's stream (which keeps it until
   * the kernel takes it). False: the socket's buffer is full, wait for its 'drain'. `pending()`
   * says whether the socket still holds `data`.
   */
  writeNow(data: Buffer): boolean {
    if (this.first !== null) this.flush();
    this.viaStream = true;
    return this.socket.write(data);
  }

  /** `write` for a small piece, `writeNow` for a large one; false as `writeNow`. */
  send(data: Buffer): boolean {
    if (data.length >= BATCH_LIMIT) return this.writeNow(data);
    this.write(data);
    return true;
  }

  /** The stream holds bytes the kernel has not taken yet. */
  pending(): boolean {
    return this.socket.writableLength !== 0;
  }

  /** Flushes, then half-closes the socket. */
  end(): void {
    if (this.first !== null) this.flush();
    this.socket.end();
  }

  /** Hands what is queued to the kernel (or to the socket's stream when the handle is busy). */
  flush(): void {
    const first = this.first;
    if (first === null) return;
    const rest = this.rest;
    this.first = null;
    this.rest = null;
    this.bytes = 0;
    const sock = this.socket;
    const io = this.internals;
    // The handle, when the native path may take this batch: the stream holds nothing of its own
    // (checked only once writes went through it), and the socket is connected and not ended.
    const h = io === null || (this.viaStream && sock.writableLength !== 0) ? null : (sock as HandleOf)._handle;
    if (io === null || h === undefined || h === null || sock.connecting || sock.writableEnded) {
      if (sock.destroyed) return;
      this.viaStream = true;
      writeToStream(sock, first);
      if (rest !== null) for (let i = 0; i < rest.length; i++) writeToStream(sock, rest[i] as string | Buffer);
      return;
    }
    const b = io.binding;
    const req = takeReq(b);
    let err: number;
    let data: unknown;
    if (rest === null) {
      data = first;
      err = typeof first === 'string' ? h.writeLatin1String(req, first) : h.writeBuffer(req, first);
    } else {
      // writev's mixed form: chunk, encoding, chunk, encoding (a Buffer's encoding is not read).
      const pairs: (string | Buffer)[] = [first, 'latin1'];
      for (let i = 0; i < rest.length; i++) pairs.push(rest[i] as string | Buffer, 'latin1');
      data = pairs;
      err = h.writev(req, pairs, false);
    }
    if (err !== 0) {
      this.failed(err);
      return;
    }
    if (b.streamBaseState[b.kLastWriteWasAsync] !== 0) {
      // libuv keeps the rest of this write (and the request) until the kernel takes it.
      spare = null;
      req.handle = h;
      req.writer = this;
      req.data = data;
    }
  }

  /** A write failed: the socket is done, as a failed stream write would leave it. */
  failed(status: number): void {
    if (!this.socket.destroyed) this.socket.destroy(writeError(status));
  }
}

/** The one buffer every client connection reads into (see `readIntoShared`). */
const SHARED_READ_BYTES = 64 * 1024;
let sharedReadBuffer: Buffer | null = null;

/**
 * Makes `socket` read into a buffer shared by all connections and call `onRead(n, buf)` (the
 * bytes read are `buf[0..n)`) instead of emitting 'data' ('end', 'close', `pause()` and `resume()`
 * work as before). The bytes are valid only during the call. False when it is not possible here:
 * use 'data'.
 */
export function readIntoShared(socket: net.Socket, onRead: (n: number, buf: Buffer) => void): boolean {
  const io = internalsFor(socket);
  const h = io === null ? null : plainHandle(socket);
  if (io === null || h === null || typeof h.useUserBuffer !== 'function') return false;
  const buf = (sharedReadBuffer ??= Buffer.allocUnsafeSlow(SHARED_READ_BYTES));
  const s = socket as unknown as Record<symbol, unknown>;
  s[io.kBuffer] = buf;
  s[io.kBufferGen] = null;
  s[io.kBufferCb] = onRead;
  h.useUserBuffer(buf);
  return true;
}
