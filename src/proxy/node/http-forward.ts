/**
 * One HTTP request forwarded to a backend and its response forwarded back (an Exchange).
 *
 * - The backend is picked by the route's balancer; the connection comes from the backend's
 *   keep-alive pool or is opened (connect timeout).
 * - Body bytes that arrive before the connection is ready are held, so a connect failure
 *   (nothing written yet) ejects that backend and retries the request on another one, up to
 *   `maxTries` backends. Once bytes were written there is no retry, with one exception: a
 *   reused keep-alive connection that the backend had closed meanwhile (it closes before any
 *   response byte) is retried once on a fresh connection for GET, HEAD and OPTIONS without a
 *   body, since the backend cannot have acted on it. Without that, every backend restart would
 *   fail the requests that happened to pick a connection it had just closed.
 * - Bodies stream both ways with backpressure; chunked bodies pass through as they are (parsed
 *   only for their end, their size, and for HTTP/1.0 clients, which get them unchunked).
 * - Timeouts are checked on the proxy's timer tick: connect (per attempt), idle (no bytes
 *   either way) and total (the whole exchange). Before the response head: 504 (or 408 when
 *   the client stalls its upload); after it: the connection to the client is cut.
 * - The body limit is checked against Content-Length up front and against the decoded size of
 *   a chunked body as it streams (413).
 * - A 101 answer to an upgrade request turns the client connection into a Tunnel.
 */
import type { HttpRoute } from '../data-plane.js';
import { pickBackend } from './balancer.js';
import { ChunkedDecoder } from './chunked.js';
import {
  clientResponseHead,
  forwardRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from './http-head.js';
import { renderLocalResponse, type LocalErrorCode } from './local-response.js';
import { ERROR, type TrafficCounter } from './metrics.js';
import type { Abortable, BackendState } from './pool.js';
import type { ProxyCore } from './proxy-core.js';
import { BATCH_LIMIT, type SocketWriter } from './stream-io.js';
import type { UpstreamConn, UpstreamWaiter } from './upstream.js';

/** What an exchange needs from the client connection it serves. */
export interface ExchangeHost {
  readonly core: ProxyCore;
  readonly socket: import('node:net').Socket;
  /** Writes to the client (batched per event-loop turn). */
  readonly out: SocketWriter;
  /** Client address (for X-Forwarded-For and the access log). */
  readonly client: string;
  readonly listenerName: string;
  /** What the client spoke (X-Forwarded-Proto). */
  readonly proto: 'http' | 'https';
  /** Header lines (with CRLF) added to every response, e.g. Strict-Transport-Security; usually ''. */
  readonly responseExtra: string;
  /** The connection must close after this exchange (client FIN, listener closing, shutdown). */
  mustClose(): boolean;
  pauseClient(reason: number): void;
  resumeClient(reason: number): void;
  /** The exchange is over; `close` asks to close the client connection. */
  exchangeDone(close: boolean): void;
  /** The backend answered 101: the connection becomes a tunnel to `conn`. */
  startTunnel(conn: UpstreamConn, backend: BackendState, route: HttpRoute): void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Pause reasons of the client socket (a bit each). */
export const PAUSE_PIPELINE = 1;
export const PAUSE_BODY = 2;

/** Response stages. */
const R_HEAD = 0;
const R_BODY = 1;
const R_DONE = 2;

/** Response body framing. */
const K_NONE = 0;
const K_LENGTH = 1;
const K_CHUNKED = 2;
const K_CLOSE = 3;

/**
 * Response pieces shorter than this are copied into the turn's batch (writeClient); a larger one
 * is written at once and lends the read buffer while the socket holds it.
 */
const COPY_BELOW = BATCH_LIMIT;

/** Body bytes held while no connection is ready, before the client is paused. */
const HOLD_LIMIT = 64 * 1024;

export class Exchange implements UpstreamWaiter, Abortable {
  inFlightSlot = -1;
  private readonly startedAt = performance.now();
  private attemptStartedAt: number;
  private readonly startTick: number;
  private lastActivity: number;
  private readonly counter: TrafficCounter;
  private backend: BackendState | null = null;
  private attemptOpen = false;
  private conn: UpstreamConn | null = null;
  private waiting = false;
  private tries = 0;
  private tried: BackendState[] | null = null;
  private staleRetried = false;
  private forwardHead: string | null = null;

  private bodyLeft: number;
  private readonly chunked: ChunkedDecoder | null;
  bodyDone: boolean;
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private sent = false;
  private bodyPaused = false;

  private stage = R_HEAD;
  private resBuf: Buffer | null = null;
  private resKind = K_NONE;
  private resLeft = 0;
  private resChunked: ChunkedDecoder | null = null;
  private dechunk = false;
  /** Status of the backend's response; 0 until its head arrived. */
  private status = 0;
  /** Status the client got (the backend's or the proxy's own); 0 when none. */
  private sentStatus = 0;
  private headersSent = false;
  private gotResponseBytes = false;
  private backendKeepAlive = false;
  private clientClose = false;
  private upstreamPaused = false;
  private bytesOut = 0;
  private finished = false;
  private errorCode: LocalErrorCode | 'client-closed' | undefined;

  constructor(
    private readonly host: ExchangeHost,
    private readonly head: RequestHead,
    private readonly route: HttpRoute,
  ) {
    const core = host.core;
    this.attemptStartedAt = this.startedAt;
    this.startTick = core.now;
    this.lastActivity = core.now;
    this.counter = core.routeCounter(route.id);
    this.bodyLeft = head.contentLength > 0 ? head.contentLength : 0;
    this.chunked = head.chunked ? new ChunkedDecoder() : null;
    this.bodyDone = !head.chunked && this.bodyLeft === 0;
  }

  start(): void {
    this.counter.start();
    if (this.head.contentLength > this.route.maxBodyBytes) {
      this.fail(
        413,
        'body-too-large',
        `the request body (${this.head.contentLength} bytes) is larger than route "${this.route.id}" accepts (${this.route.maxBodyBytes} bytes)`,
        413,
      );
      return;
    }
    if (!this.dispatch(false)) this.noBackend();
  }

  /** Still reading the request body from the client. */
  wantsBody(): boolean {
    return !this.bodyDone && !this.finished;
  }

  // ---- backend selection and connection ----

  private dispatch(fresh: boolean): boolean {
    const core = this.host.core;
    const b = pickBackend(core.pools.members(this.route.pool), this.route.balance, core.now, this.tried);
    if (b === undefined) return false;
    this.backend = b;
    this.tries++;
    if (this.tries > 1) this.attemptStartedAt = performance.now();
    this.attemptOpen = true;
    b.metrics.start();
    b.active.add(this);
    const conn = b.acquire(this, fresh, core.now);
    if (conn === null) this.waiting = true;
    else this.attach(conn);
    return true;
  }

  private attach(conn: UpstreamConn): void {
    this.conn = conn;
    if (conn.connected) this.send(conn);
  }

  onUpstreamAssigned(conn: UpstreamConn): void {
    this.waiting = false;
    if (this.finished) {
      // Should not happen (finish cancels the wait); give the connection back untouched.
      this.backend?.release(conn, this.host.core.now);
      return;
    }
    this.attach(conn);
  }

  onUpstreamConnect(conn: UpstreamConn): void {
    if (conn !== this.conn) return;
    this.backend?.connectSucceeded();
    this.send(conn);
  }

  private send(conn: UpstreamConn): void {
    const b = this.backend as BackendState;
    let text = this.forwardHead;
    if (text === null) {
      const core = this.host.core;
      text = forwardRequestHead(
        this.head,
        { client: this.host.client, proto: this.host.proto, trust: core.settings.trustForwardedHeaders },
        `${b.host}:${b.port}`,
      );
      // Without a Host field the head names the backend, so it is per attempt.
      if (this.head.hostHeader !== undefined) this.forwardHead = text;
    }
    const core = this.host.core;
    this.lastActivity = core.now;
    this.sent = true;
    const out = core.writerOf(conn);
    out.write(text);
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.heldBytes = 0;
    let ok = true;
    for (const piece of held) ok = out.send(piece);
    if (ok) this.resumeBody();
    else this.pauseBody();
  }

  // ---- request body ----

  /** Takes request body bytes from `chunk` at `start`; returns where the body ended in it. */
  clientBody(chunk: Buffer, start: number): number {
    let end: number;
    const dec = this.chunked;
    if (dec === null) {
      const n = Math.min(this.bodyLeft, chunk.length - start);
      end = start + n;
      this.bodyLeft -= n;
      if (this.bodyLeft === 0) this.bodyDone = true;
    } else {
      end = dec.feed(chunk, start);
      if (end < 0) {
        this.clientFault(400, 'bad-request', `the chunked request body is malformed: ${dec.error ?? 'framing error'}`);
        return chunk.length;
      }
      if (dec.dataBytes > this.route.maxBodyBytes) {
        this.clientFault(
          413,
          'body-too-large',
          `the request body is larger than route "${this.route.id}" accepts (${this.route.maxBodyBytes} bytes)`,
        );
        return chunk.length;
      }
      if (dec.done) this.bodyDone = true;
    }
    if (end > start) {
      const piece = start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end);
      this.lastActivity = this.host.core.now;
      const conn = this.conn;
      if (this.sent && conn !== null) {
        if (!this.host.core.writerOf(conn).send(piece)) this.pauseBody();
      } else {
        (this.held ??= []).push(piece);
        this.heldBytes += piece.length;
        if (this.heldBytes > HOLD_LIMIT) this.pauseBody();
      }
    }
    return end;
  }

  private pauseBody(): void {
    if (this.bodyPaused) return;
    this.bodyPaused = true;
    this.host.pauseClient(PAUSE_BODY);
  }

  private resumeBody(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    this.host.resumeClient(PAUSE_BODY);
  }

  onUpstreamDrain(conn: UpstreamConn): void {
    if (conn !== this.conn) return;
    this.lastActivity = this.host.core.now;
    this.resumeBody();
  }

  /** The client half-closed its connection. */
  clientEnded(): void {
    if (this.finished || this.bodyDone) return;
    // The body can never complete.
    this.errorCode = 'client-closed';
    this.dropConn();
    this.endAttempt(this.status !== 0 ? this.status : null);
    this.finish(this.status !== 0 ? this.status : ERROR, true);
  }

  /** The client connection closed. */
  clientGone(): void {
    if (this.finished) return;
    this.errorCode ??= 'client-closed';
    this.dropConn();
    this.endAttempt(this.status !== 0 ? this.status : null);
    this.finish(this.status !== 0 ? this.status : ERROR, true);
  }

  clientDrained(): void {
    this.lastActivity = this.host.core.now;
    if (this.upstreamPaused) {
      this.upstreamPaused = false;
      this.conn?.socket.resume();
    }
  }

  // ---- response ----

  onUpstreamData(conn: UpstreamConn, chunk: Buffer): void {
    if (conn !== this.conn) return;
    this.lastActivity = this.host.core.now;
    this.gotResponseBytes = true;
    if (this.stage === R_BODY) this.body(chunk, 0);
    else if (this.stage === R_HEAD) this.headData(chunk);
    else conn.destroy();
  }

  private headData(chunk: Buffer): void {
    // A chunk lies in the connection's read buffer, valid only during this call; a concatenation is ours.
    const inReadBuffer = this.resBuf === null;
    let buf = inReadBuffer ? chunk : Buffer.concat([this.resBuf as Buffer, chunk]);
    for (;;) {
      const end = buf.indexOf(CRLFCRLF);
      const max = this.host.core.settings.maxHeadBytes;
      if (end === -1 || end > max) {
        // A head whose lines end in a bare LF (a CGI script printing "\n") never gets its
        // CRLFCRLF: without this check the request would wait for the total timeout.
        const lf = buf.indexOf(0x0a);
        if (lf !== -1 && (lf === 0 || buf[lf - 1] !== 0x0d))
          this.badResponse(
            'its response head ends a line with a bare LF instead of CRLF (HTTP/1.1 requires CRLF); make the backend write \\r\\n after each header line',
          );
        else if (buf.length > max) this.badResponse(`the response head is larger than ${max} bytes`);
        else {
          this.resBuf = inReadBuffer ? Buffer.from(buf) : buf;
        }
        return;
      }
      this.resBuf = null;
      const rh = parseResponseHead(buf, end);
      if (typeof rh === 'string') {
        this.badResponse(rh);
        return;
      }
      const bodyStart = end + 4;
      if (rh.status >= 200) {
        this.responseHead(rh, buf, bodyStart);
        return;
      }
      if (rh.status === 101) {
        this.upgraded(rh, buf, bodyStart);
        return;
      }
      // An interim response (100 Continue, 103 Early Hints): HTTP/1.1 clients get it too.
      if (this.head.minor === 1) {
        if (rh.verbatim) this.writeClient(buf.subarray(0, bodyStart));
        else this.writeClientText(clientResponseHead(rh, false, ''));
      }
      if (bodyStart >= buf.length) return;
      buf = buf.subarray(bodyStart);
    }
  }

  private responseHead(rh: ResponseHead, buf: Buffer, bodyStart: number): void {
    const h = this.head;
    this.status = rh.status;
    this.sentStatus = rh.status;
    let kind: number;
    if (h.method === 'HEAD' || rh.status === 204 || rh.status === 304) kind = K_NONE;
    else if (rh.chunked) kind = K_CHUNKED;
    else if (rh.closeDelimited || rh.contentLength < 0) kind = K_CLOSE;
    else kind = K_LENGTH;
    this.resKind = kind;
    this.backendKeepAlive = rh.keepAlive && kind !== K_CLOSE;
    this.dechunk = kind === K_CHUNKED && h.minor === 0;
    const close = h.close || kind === K_CLOSE || this.dechunk || !this.bodyDone || this.host.mustClose();
    this.clientClose = close;
    this.headersSent = true;
    this.stage = R_BODY;
    let text: string | null = null;
    const extra = this.host.responseExtra;
    if (!rh.verbatim || close || h.minor === 0 || extra !== '') {
      text = clientResponseHead(
        rh,
        this.dechunk,
        (close ? 'connection: close\r\n' : h.minor === 0 ? 'connection: keep-alive\r\n' : '') + extra,
      );
    }
    if (kind === K_LENGTH && text === null) {
      // The common case: the head and as much of the body as came with it, in one write.
      const take = Math.min(buf.length - bodyStart, rh.contentLength);
      const upTo = bodyStart + take;
      this.resLeft = rh.contentLength - take;
      this.writeClient(upTo === buf.length ? buf : buf.subarray(0, upTo));
      if (this.resLeft === 0) {
        if (upTo < buf.length) this.backendKeepAlive = false;
        this.complete();
      }
      return;
    }
    if (text === null) this.writeClient(buf.subarray(0, bodyStart));
    else this.writeClientText(text);
    if (kind === K_NONE) {
      if (bodyStart < buf.length) this.backendKeepAlive = false;
      this.complete();
      return;
    }
    if (kind === K_LENGTH) this.resLeft = rh.contentLength;
    else if (kind === K_CHUNKED) this.resChunked = new ChunkedDecoder();
    this.body(buf, bodyStart);
  }

  private body(buf: Buffer, start: number): void {
    switch (this.resKind) {
      case K_LENGTH: {
        const take = Math.min(buf.length - start, this.resLeft);
        if (take > 0) this.writeClient(start === 0 && take === buf.length ? buf : buf.subarray(start, start + take));
        this.resLeft -= take;
        if (this.resLeft === 0) {
          if (start + take < buf.length) this.backendKeepAlive = false;
          this.complete();
        }
        return;
      }
      case K_CHUNKED: {
        const dec = this.resChunked as ChunkedDecoder;
        const end = this.dechunk ? dec.feed(buf, start, (d) => this.writeClient(d)) : dec.feed(buf, start);
        if (end < 0) {
          this.cut('bad-response', `the backend's chunked body is malformed: ${dec.error ?? ''}`);
          return;
        }
        if (!this.dechunk && end > start)
          this.writeClient(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
        if (dec.done) {
          if (end < buf.length) this.backendKeepAlive = false;
          this.complete();
        }
        return;
      }
      case K_CLOSE:
        if (start < buf.length) this.writeClient(start === 0 ? buf : buf.subarray(start));
        return;
      default:
        return;
    }
  }

  private upgraded(rh: ResponseHead, buf: Buffer, bodyStart: number): void {
    const conn = this.conn;
    const b = this.backend;
    if (this.head.upgrade === undefined || conn === null || b === null) {
      this.badResponse('the backend answered 101 to a request that asked for no upgrade');
      return;
    }
    this.status = 101;
    this.sentStatus = 101;
    this.headersSent = true;
    this.stage = R_DONE;
    this.writeClientText(
      clientResponseHead(rh, false, `connection: upgrade\r\nupgrade: ${rh.upgrade ?? this.head.upgrade}\r\n`),
    );
    if (bodyStart < buf.length) this.writeClient(buf.subarray(bodyStart)); // lends the buffer when needed
    // The connection now belongs to the tunnel; it counts as in flight on the backend until it closes.
    this.conn = null;
    this.host.startTunnel(conn, b, this.route);
    this.endAttempt(101);
    this.finish(101, false);
  }

  /**
   * `b` may lie in the connection's read buffer, valid only during this call. A piece smaller
   * than COPY_BELOW (every response of a typical API) is copied into the turn's batch (from
   * Node's buffer pool); a full read buffer is written at once, and lent while the socket holds
   * it (UpstreamConn.lend(): the next read goes elsewhere).
   */
  private writeClient(b: Buffer): void {
    this.bytesOut += b.length;
    const out = this.host.out;
    const conn = this.conn;
    if (conn === null || b.length < COPY_BELOW) {
      out.write(conn === null ? b : Buffer.from(b));
      return;
    }
    const ok = out.writeNow(b);
    if (out.pending()) conn.lend();
    if (!ok && !this.upstreamPaused) {
      this.upstreamPaused = true;
      conn.socket.pause();
    }
  }

  private writeClientText(s: string): void {
    this.bytesOut += s.length;
    this.host.out.write(s);
  }

  onUpstreamEnd(conn: UpstreamConn): void {
    if (conn !== this.conn) return;
    if (this.stage === R_BODY && this.resKind === K_CLOSE) {
      this.backendKeepAlive = false;
      this.complete();
      return;
    }
    conn.destroy(); // premature: handled as a close
  }

  onUpstreamClose(conn: UpstreamConn, error: Error | undefined): void {
    if (conn !== this.conn || this.finished) return;
    this.conn = null;
    if (!conn.connected) {
      this.connectFailure('connect-failed', error);
      return;
    }
    if (this.stage === R_HEAD) {
      if (conn.reused && !this.gotResponseBytes && !this.staleRetried && this.bodylessIdempotent()) {
        this.staleRetry();
        return;
      }
      this.endAttempt(ERROR);
      this.fail(
        502,
        'backend-reset',
        `the backend of route "${this.route.id}" closed the connection before it answered`,
        ERROR,
      );
      return;
    }
    if (this.stage === R_BODY) {
      if (this.resKind === K_CLOSE && !error) this.complete();
      else this.cut('backend-reset', 'the backend closed the connection in the middle of the response');
    }
  }

  private bodylessIdempotent(): boolean {
    const m = this.head.method;
    return (
      (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') &&
      !this.head.chunked &&
      this.head.contentLength <= 0 &&
      this.head.upgrade === undefined
    );
  }

  /** The reused keep-alive connection had been closed by the backend: once more on a new one. */
  private staleRetry(): void {
    this.staleRetried = true;
    this.sent = false;
    this.endAttempt(null);
    this.tries--;
    if (!this.dispatch(true)) this.noBackend();
  }

  private connectFailure(code: 'connect-failed' | 'connect-timeout', error: Error | undefined): void {
    const b = this.backend as BackendState;
    const core = this.host.core;
    const why =
      code === 'connect-timeout'
        ? 'connect timeout'
        : ((error as NodeJS.ErrnoException | undefined)?.code ?? error?.message ?? 'closed');
    core.connectFailed(b, why);
    this.endAttempt(ERROR);
    (this.tried ??= []).push(b);
    if (this.tries < core.settings.maxTries && !core.closing && this.dispatch(false)) return;
    const status = code === 'connect-timeout' ? 504 : 502;
    this.fail(
      status,
      code,
      `no backend of route "${this.route.id}" could be reached (${this.tries} tried, last: ${why})`,
      ERROR,
    );
  }

  private noBackend(): void {
    const members = this.host.core.pools.members(this.route.pool);
    const now = this.host.core.now;
    const why =
      members.length === 0
        ? `pool "${this.route.pool}" has no backends`
        : `none of the ${members.length} backends of pool "${this.route.pool}" takes traffic now (${describeUnavailable(members, now)})`;
    this.fail(503, 'no-backend', `route "${this.route.id}": ${why}`, ERROR);
  }

  private badResponse(message: string): void {
    this.host.core.logger.log('warn', 'invalid response from backend', {
      backend: this.backend?.id,
      route: this.route.id,
      message,
    });
    if (this.headersSent) {
      this.cut('bad-response', message);
      return;
    }
    this.endAttempt(ERROR);
    this.fail(
      502,
      'bad-response',
      `the backend of route "${this.route.id}" sent an invalid response: ${message}`,
      ERROR,
    );
  }

  // ---- timeouts and aborts ----

  /** Timer tick. */
  check(now: number): void {
    if (this.finished) return;
    const r = this.route;
    const conn = this.conn;
    if (conn !== null && !conn.connected && now - conn.connectStartedAt >= r.connectTimeout.toMilliseconds()) {
      this.conn = null;
      conn.owner = null;
      conn.destroy();
      this.connectFailure('connect-timeout', undefined);
    } else if (now - this.startTick >= r.totalTimeout.toMilliseconds()) {
      this.timedOut(
        'timeout-total',
        `route "${r.id}": no complete response within the total timeout of ${r.totalTimeout.toString()}`,
      );
    } else if (now - this.lastActivity >= r.idleTimeout.toMilliseconds()) {
      this.timedOut(
        'timeout-idle',
        `route "${r.id}": nothing happened for the idle timeout of ${r.idleTimeout.toString()}`,
      );
    }
  }

  private timedOut(code: 'timeout-idle' | 'timeout-total', message: string): void {
    if (this.headersSent) {
      this.cut(code, message);
      return;
    }
    if (code === 'timeout-idle' && !this.bodyDone && this.sent && !this.bodyPaused) {
      // The client stopped sending its body: its fault, not the backend's.
      this.dropConn();
      this.endAttempt(null);
      this.fail(
        408,
        'request-timeout',
        `route "${this.route.id}": the request body stalled for the idle timeout of ${this.route.idleTimeout.toString()}`,
        408,
      );
      return;
    }
    this.endAttempt(ERROR);
    this.fail(504, code, message, ERROR);
  }

  /** Drain timeout or shutdown. */
  abort(reason: string): void {
    if (this.finished) return;
    const code: LocalErrorCode = reason === 'shutdown' ? 'shutdown' : 'drained';
    if (this.headersSent) {
      this.cut(code, `aborted: ${reason}`);
      return;
    }
    this.endAttempt(ERROR);
    this.fail(502, code, `route "${this.route.id}": the backend was taken out of service before it answered`, ERROR);
  }

  /** A fault in the client's request after it started (400, 413): answer if still possible. */
  private clientFault(status: 400 | 413, code: LocalErrorCode, message: string): void {
    this.dropConn();
    if (this.headersSent) {
      this.endAttempt(this.status);
      this.errorCode = code;
      this.host.socket.destroy();
      this.finish(this.status, true);
      return;
    }
    this.endAttempt(null);
    this.bodyDone = false; // the rest of the body is not read: close after the answer
    this.fail(status, code, message, status);
  }

  /** After the response head went out: the only thing left is to cut the client connection. */
  private cut(code: LocalErrorCode, message: string): void {
    this.host.core.logger.log('debug', 'response cut', {
      route: this.route.id,
      backend: this.backend?.id,
      code,
      message,
    });
    this.errorCode = code;
    this.dropConn();
    this.endAttempt(this.status !== 0 ? this.status : ERROR);
    this.host.socket.destroy();
    this.finish(this.status !== 0 ? this.status : ERROR, true);
  }

  /** The proxy answers itself (before any response head went out). */
  private fail(status: number, code: LocalErrorCode, message: string, routeStatus: number): void {
    this.dropConn();
    this.endAttempt(ERROR);
    this.errorCode = code;
    const h = this.head;
    const close = !this.bodyDone || h.close || this.host.mustClose();
    const sock = this.host.socket;
    if (!sock.destroyed) {
      const text = renderLocalResponse(
        { status, code, message },
        h.acceptsJson,
        close ? 'close' : h.minor === 0 ? 'keep-alive' : null,
        h.method === 'HEAD',
      );
      this.writeClientText(text);
      this.sentStatus = status;
    }
    this.finish(routeStatus, close);
  }

  private dropConn(): void {
    const conn = this.conn;
    if (conn === null) return;
    this.conn = null;
    conn.owner = null;
    conn.destroy();
  }

  /** Closes the bookkeeping of the current backend attempt; `null` takes the attempt back uncounted. */
  private endAttempt(status: number | null): void {
    if (!this.attemptOpen) return;
    this.attemptOpen = false;
    const b = this.backend as BackendState;
    if (this.waiting) {
      this.waiting = false;
      b.cancelWait(this);
    }
    if (status === null) b.metrics.cancel();
    else b.metrics.finish(status, performance.now() - this.attemptStartedAt);
    b.finishedOne(this);
  }

  private complete(): void {
    this.stage = R_DONE;
    const conn = this.conn;
    const core = this.host.core;
    if (conn !== null) {
      this.conn = null;
      if (this.backendKeepAlive && this.bodyDone && this.sent) {
        if (this.upstreamPaused) conn.socket.resume();
        (this.backend as BackendState).release(conn, core.now);
      } else {
        conn.owner = null;
        conn.destroy();
      }
    }
    this.endAttempt(this.status);
    this.finish(this.status, this.clientClose || !this.bodyDone);
  }

  private finish(routeStatus: number, close: boolean): void {
    if (this.finished) return;
    this.finished = true;
    const ms = performance.now() - this.startedAt;
    this.counter.finish(routeStatus, ms);
    this.resumeBody();
    const core = this.host.core;
    const log = core.accessLog;
    if (log !== undefined) {
      log({
        time: new Date(core.clock.now().getTime() - ms).toISOString(),
        listener: this.host.listenerName,
        route: this.route.id,
        backend: this.backend?.id ?? null,
        method: this.head.method,
        path: this.head.path,
        status: this.sentStatus,
        bytes: this.bytesOut,
        durationMs: Math.round(ms * 1000) / 1000,
        client: this.host.client,
        tries: this.tries,
        ...(this.errorCode ? { error: this.errorCode } : {}),
      });
    }
    this.host.exchangeDone(close);
  }
}

function describeUnavailable(members: readonly BackendState[], now: number): string {
  let ejected = 0;
  let draining = 0;
  let zero = 0;
  for (const b of members) {
    if (b.draining) draining++;
    else if (b.weight === 0) zero++;
    else if (b.isEjected(now)) ejected++;
  }
  const parts = [];
  if (ejected) parts.push(`${ejected} ejected after connect failures`);
  if (draining) parts.push(`${draining} draining`);
  if (zero) parts.push(`${zero} with weight 0`);
  return parts.join(', ') || 'all tried';
}
