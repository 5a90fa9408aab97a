/**
 * One client connection on an HTTP listener: reads request heads, routes them, runs one
 * Exchange at a time (pipelined requests wait in the buffer), keeps the connection alive
 * between requests, and becomes a Tunnel after an upgrade.
 *
 * Timeouts on the timer tick: a request head must be complete within `requestHeadTimeout`
 * (408), an idle keep-alive connection closes after `clientIdleTimeout`. After the proxy
 * decided to close, it half-closes and discards what the client still sends for a moment
 * (lingering close), so the client reads the response instead of a reset.
 */
import type net from 'node:net';
import type { HttpRoute } from '../data-plane.js';
import { clientAddress } from './client-address.js';
import { Exchange, PAUSE_BODY, PAUSE_PIPELINE, type ExchangeHost } from './http-forward.js';
import { parseRequestHead, type HeadError, type RequestHead } from './http-head.js';
import { renderLocalResponse, type LocalErrorCode } from './local-response.js';
import { renderChallengeAnswer, renderHttpsRedirect } from './https-redirect.js';
import { hstsHeader } from '../../tls/tls-settings.js';
import type { BackendState } from './pool.js';
import type { ListenerRuntime, ProxyCore, Session } from './proxy-core.js';
import { readIntoShared, SocketWriter } from './stream-io.js';
import { Tunnel } from './tunnel.js';
import type { UpstreamConn } from './upstream.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

const S_HEAD = 0;
const S_EXCHANGE = 1;
const S_TUNNEL = 2;
const S_CLOSING = 3;
const S_CLOSED = 4;

/** How long a closing connection keeps reading (and discarding) before it is cut. */
const LINGER_MS = 2000;

const noop = (): void => undefined;

export class HttpSession implements Session, ExchangeHost {
  readonly client: string;
  readonly proto: 'http' | 'https';
  readonly responseExtra: string;
  readonly out: SocketWriter;
  private buf: Buffer | null = null;
  private state = S_HEAD;
  private exchange: Exchange | null = null;
  private tunnel: Tunnel | null = null;
  private lastActivity: number;
  private headStartedAt = 0;
  private closingAt = 0;
  private parsing = false;
  private paused = 0;
  private clientEnded = false;
  private closeWhenDone = false;

  constructor(
    readonly core: ProxyCore,
    private readonly listener: ListenerRuntime,
    readonly socket: net.Socket,
  ) {
    this.lastActivity = core.now;
    this.client = clientAddress(socket.remoteAddress);
    const tls = listener.config.protocol === 'http' ? listener.config.tls : undefined;
    this.proto = tls === undefined ? 'http' : 'https';
    this.responseExtra = hstsHeader(tls);
    this.out = new SocketWriter(socket, core);
    listener.opened(this);
    if (!readIntoShared(socket, (n, buf) => this.onSharedRead(n, buf)))
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', noop);
    socket.on('close', (hadError: boolean) => this.onClose(hadError));
  }

  get listenerName(): string {
    return this.listener.name;
  }

  mustClose(): boolean {
    return this.closeWhenDone || this.clientEnded || this.core.closing;
  }

  pauseClient(reason: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= reason;
  }

  resumeClient(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if (this.paused === 0 && this.state < S_CLOSED) this.socket.resume();
  }

  /**
   * A read into the buffer all connections share (stream-io.ts), `buf[0..n)`, valid only during
   * this call. The usual case, one whole request head and nothing after it, is parsed in place
   * (the head becomes a string); anything else is copied and takes the general path.
   */
  private onSharedRead(n: number, buf: Buffer): void {
    const end = n - 4;
    if (
      this.state === S_HEAD &&
      this.buf === null &&
      end >= 0 &&
      end <= this.core.settings.maxHeadBytes &&
      buf[end] === 13 &&
      buf[end + 1] === 10 &&
      buf[end + 2] === 13 &&
      buf[end + 3] === 10 &&
      buf.indexOf(CRLFCRLF) === end
    ) {
      this.lastActivity = this.core.now;
      this.headStartedAt = 0;
      this.takeHead(buf.toString('latin1', 0, end));
      if (this.state === S_HEAD) this.resumeClient(PAUSE_PIPELINE);
      return;
    }
    if (this.state >= S_CLOSING) return; // discarded
    const copy = Buffer.allocUnsafe(n);
    buf.copy(copy, 0, 0, n);
    this.onData(copy);
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = this.core.now;
    switch (this.state) {
      case S_HEAD:
        this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
        this.parse();
        return;
      case S_EXCHANGE: {
        const ex = this.exchange as Exchange;
        if (this.buf === null && ex.wantsBody()) {
          const used = ex.clientBody(chunk, 0);
          if (used < chunk.length) this.more(chunk.subarray(used));
        } else {
          this.more(chunk);
        }
        return;
      }
      case S_TUNNEL:
        (this.tunnel as Tunnel).fromClient(chunk);
        return;
      default:
        return; // closing: discarded
    }
  }

  /** Bytes after the current request's body: the next request(s). */
  private more(b: Buffer): void {
    if (this.state === S_HEAD) {
      this.buf = this.buf === null ? b : Buffer.concat([this.buf, b]);
      this.parse();
    } else if (this.state === S_EXCHANGE) {
      this.buf = this.buf === null ? b : Buffer.concat([this.buf, b]);
      if (this.buf.length > this.core.settings.maxHeadBytes) this.pauseClient(PAUSE_PIPELINE);
    }
  }

  private parse(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      const max = this.core.settings.maxHeadBytes;
      while (this.state === S_HEAD && this.buf !== null) {
        const buf = this.buf;
        const end = buf.indexOf(CRLFCRLF);
        if (end === -1 || end > max) {
          if (buf.length > max)
            this.reject({ status: 431, message: `the request head is larger than ${max} bytes` }, 'head-too-large');
          else if (this.headStartedAt === 0) this.headStartedAt = this.core.now;
          break;
        }
        this.headStartedAt = 0;
        this.buf = end + 4 < buf.length ? buf.subarray(end + 4) : null;
        this.takeHead(buf.toString('latin1', 0, end));
      }
    } finally {
      this.parsing = false;
    }
    if (this.state === S_HEAD) this.resumeClient(PAUSE_PIPELINE);
  }

  /** A whole request head (without its blank line): answers it or starts its exchange. */
  private takeHead(text: string): void {
    const head = parseRequestHead(text);
    if ('status' in head)
      this.reject(head, head.status === 505 ? 'version' : head.status === 501 ? 'not-implemented' : 'bad-request');
    else this.begin(head);
  }

  private begin(head: RequestHead): void {
    const route = this.core.router.match(this.listener.name, head.host, head.path);
    if (this.proto === 'http' && this.answeredForHttps(head, route)) return;
    if (route === undefined) {
      this.noRoute(head);
      return;
    }
    const ex = new Exchange(this, head, route);
    this.exchange = ex;
    this.state = S_EXCHANGE;
    ex.start();
    // Body bytes that came with the head.
    const buf = this.buf;
    if (buf !== null && this.exchange === ex && ex.wantsBody()) {
      this.buf = null;
      const used = ex.clientBody(buf, 0);
      if (used < buf.length) this.more(buf.subarray(used));
    }
  }

  private noRoute(head: RequestHead): void {
    const hasBody = head.contentLength > 0 || head.chunked;
    const close = hasBody || head.close || this.mustClose();
    const message = `no route for host "${head.host || '(none)'}" and path "${head.path}" on listener "${this.listener.name}"`;
    const text = renderLocalResponse(
      { status: 404, code: 'no-route', message },
      head.acceptsJson,
      close ? 'close' : head.minor === 0 ? 'keep-alive' : null,
      head.method === 'HEAD',
    );
    this.out.write(text);
    this.logLocal(head.method, head.path, 404, text.length, 'no-route');
    if (close) this.close();
  }

  /**
   * ACME challenges and redirects to HTTPS, answered on plain listeners (https-redirect.ts). The
   * route's own choice wins over the listener's: a route can redirect on a listener that does not,
   * or opt out where the listener redirects everything else.
   */
  private answeredForHttps(head: RequestHead, route: HttpRoute | undefined): boolean {
    const answer = this.core.challenges?.answer(head.path);
    const port = answer === undefined ? this.httpsRedirectPort(route) : undefined;
    if (answer === undefined && port === undefined) return false;
    const hasBody = head.contentLength > 0 || head.chunked;
    const close = hasBody || head.close || this.mustClose();
    const connection = close ? 'close' : null;
    const text =
      port === undefined
        ? renderChallengeAnswer(answer ?? '', head.method === 'HEAD', connection)
        : renderHttpsRedirect(head, port, connection);
    this.out.write(text);
    this.logLocal(head.method, head.path, port === undefined ? 200 : 308, text.length, undefined);
    if (close) this.close();
    return true;
  }

  /** The HTTPS port a plain request is redirected to: the route's setting, else the listener's. */
  private httpsRedirectPort(route: HttpRoute | undefined): number | undefined {
    const own = route?.httpsRedirect;
    if (own !== undefined) return own === 'off' ? undefined : own.port;
    const cfg = this.listener.config;
    return cfg.protocol === 'http' ? cfg.redirectHttps?.port : undefined;
  }

  /** A request the proxy cannot parse: answer and close. */
  private reject(e: HeadError | { status: 408 | 431; message: string }, code: LocalErrorCode): void {
    const text = renderLocalResponse({ status: e.status, code, message: e.message }, false, 'close', false);
    this.out.write(text);
    this.logLocal('-', '-', e.status, text.length, code);
    this.buf = null;
    this.close();
  }

  private logLocal(
    method: string,
    path: string,
    status: number,
    bytes: number,
    error: LocalErrorCode | undefined,
  ): void {
    const log = this.core.accessLog;
    if (log === undefined) return;
    log({
      time: this.core.clock.now().toISOString(),
      listener: this.listener.name,
      route: null,
      backend: null,
      method,
      path,
      status,
      bytes,
      durationMs: 0,
      client: this.client,
      tries: 0,
      ...(error === undefined ? {} : { error }),
    });
  }

  exchangeDone(close: boolean): void {
    this.exchange = null;
    if (this.state !== S_EXCHANGE) return;
    this.resumeClient(PAUSE_BODY);
    if (close || this.mustClose()) {
      this.close();
      return;
    }
    this.state = S_HEAD;
    this.lastActivity = this.core.now;
    if (this.buf !== null) this.parse();
    else this.resumeClient(PAUSE_PIPELINE);
  }

  startTunnel(conn: UpstreamConn, backend: BackendState, route: HttpRoute): void {
    this.state = S_TUNNEL;
    const t = new Tunnel(this.out, conn, route.idleTimeout.toMilliseconds(), this.core, (done) =>
      backend.finishedOne(done),
    );
    backend.active.add(t);
    this.tunnel = t;
    this.paused = 0;
    this.socket.resume();
    const buf = this.buf;
    this.buf = null;
    if (buf !== null) t.fromClient(buf);
    if (this.clientEnded) t.clientEnded();
  }

  /** Half-closes and lingers; the tick cuts it after LINGER_MS. */
  private close(): void {
    if (this.state >= S_CLOSING) return;
    this.state = S_CLOSING;
    this.closingAt = this.core.now;
    this.buf = null;
    this.paused = 0;
    if (this.clientEnded) {
      this.out.end();
      this.socket.destroySoon();
      return;
    }
    this.out.end();
    this.socket.resume();
  }

  private onEnd(): void {
    this.clientEnded = true;
    switch (this.state) {
      case S_HEAD:
        this.close();
        return;
      case S_EXCHANGE:
        (this.exchange as Exchange).clientEnded();
        return;
      case S_TUNNEL:
        (this.tunnel as Tunnel).clientEnded();
        return;
      default:
        this.socket.destroy();
    }
  }

  private onDrain(): void {
    if (this.state === S_EXCHANGE) this.exchange?.clientDrained();
    else if (this.state === S_TUNNEL) this.tunnel?.clientDrained();
  }

  private onClose(hadError: boolean): void {
    this.state = S_CLOSED;
    this.buf = null;
    this.listener.closed(this);
    const ex = this.exchange;
    if (ex !== null) {
      this.exchange = null;
      ex.clientGone();
    }
    this.tunnel?.clientClosed(hadError);
  }

  check(now: number): void {
    switch (this.state) {
      case S_HEAD:
        if (this.headStartedAt !== 0) {
          if (now - this.headStartedAt >= this.core.settings.requestHeadTimeoutMs) {
            this.reject({ status: 408, message: 'the request head did not arrive in time' }, 'request-timeout');
          }
        } else if (
          this.closeWhenDone ||
          this.core.closing ||
          now - this.lastActivity >= this.core.settings.clientIdleTimeoutMs
        ) {
          this.socket.destroy();
        }
        return;
      case S_EXCHANGE:
        this.exchange?.check(now);
        return;
      case S_TUNNEL:
        this.tunnel?.check(now);
        return;
      case S_CLOSING:
        if (now - this.closingAt >= LINGER_MS) this.socket.destroy();
        return;
      default:
        return;
    }
  }

  listenerClosing(): void {
    this.closeWhenDone = true;
    if (this.state === S_HEAD && this.headStartedAt === 0 && this.buf === null) this.socket.destroy();
  }
}
