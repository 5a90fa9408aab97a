/**
 * Real backend servers for the data plane tests, on 127.0.0.1 with ephemeral ports.
 *
 * `startBackend(name)` answers by path:
 *   /status/NNN   status NNN
 *   /slow         holds the response until `release()` (then 200)
 *   /hang         reads the request and never answers
 *   /trickle      sends the head, then a byte every 50 ms, forever
 *   /chunked      a chunked response in three writes
 *   /reset        reads the whole body, then resets the connection without answering
 *   /big/N        N bytes of patternBytes(), with Content-Length; /big-chunked/N: the same, chunked
 *   anything else 200 with JSON { backend, method, url, headers, bodyBytes, bodySha256 }
 * WebSocket upgrades (echo of text frames) and `Upgrade: echo` (raw echo) are accepted.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
}

export interface TestBackend {
  name: string;
  port: number;
  /** Requests that reached the handler (after their body was read). */
  readonly requests: SeenRequest[];
  /** TCP connections accepted. */
  connections: number;
  /** Answers every /slow request held so far. */
  release(): void;
  /** Resolves when `n` /slow requests are being held. */
  holding(n: number): Promise<void>;
  close(): Promise<void>;
}

export interface AnswerBody {
  backend: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  bodySha256: string;
}

/** A body whose every byte depends on its position, so a misplaced or repeated piece shows. */
export function patternBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 11)) & 0xff;
  return b;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function writeAll(res: http.ServerResponse, body: Buffer): Promise<void> {
  for (let i = 0; i < body.length; i += 65536) {
    if (!res.write(body.subarray(i, i + 65536))) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}

export async function startBackend(name: string, opts: { port?: number } = {}): Promise<TestBackend> {
  const requests: SeenRequest[] = [];
  let held: http.ServerResponse[] = [];
  let holdWaiters: { n: number; resolve: () => void }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const path = req.url ?? '/';
    if (path === '/hang') {
      held.push(res); // kept so close() can end it; never answered
      return;
    }
    let bodyBytes = 0;
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => {
      bodyBytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: path, headers: req.headers, bodyBytes });
      const status = /^\/status\/(\d{3})$/.exec(path);
      if (status) {
        res.writeHead(Number(status[1]), { 'content-type': 'text/plain' }).end(`${name} ${status[1]}\n`);
      } else if (path === '/slow') {
        held.push(res);
        holdWaiters = holdWaiters.filter((w) => (held.length >= w.n ? (w.resolve(), false) : true));
      } else if (path === '/trickle') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const t = setInterval(() => res.write('.'), 50);
        timers.add(t);
        res.on('close', () => {
          clearInterval(t);
          timers.delete(t);
        });
      } else if (path === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(`${name}:`);
        res.write('one,');
        setImmediate(() => res.end('two'));
      } else if (path === '/reset') {
        req.socket.resetAndDestroy();
      } else if (/^\/big(-chunked)?\/\d+$/.test(path)) {
        const body = patternBytes(Number(path.split('/')[2]));
        res.writeHead(200, path.startsWith('/big-chunked') ? {} : { 'content-length': body.length });
        void writeAll(res, body);
      } else {
        const body: AnswerBody = {
          backend: name,
          method: req.method ?? '',
          url: path,
          headers: req.headers,
          bodyBytes,
          bodySha256: hash.digest('hex'),
        };
        const text = JSON.stringify(body);
        const extra: Record<string, string> = {};
        if (req.headers['x-want-hop'] !== undefined) {
          extra.connection = 'keep-alive, x-resp-hop';
          extra['x-resp-hop'] = 'secret';
          extra['keep-alive'] = 'timeout=30';
        }
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra })
          .end(text);
      }
    });
  });
  const upgraded = new Set<net.Socket>();
  server.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    socket.on('end', () => socket.end());
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: 0 });
    const proto = String(req.headers.upgrade ?? '').toLowerCase();
    if (proto === 'websocket') {
      const accept = createHash('sha1')
        .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      let pending = head;
      const onData = (c: Buffer) => {
        pending = Buffer.concat([pending, c]);
        let frame: { payload: Buffer; rest: Buffer } | undefined;
        while ((frame = readClientFrame(pending)) !== undefined) {
          pending = frame.rest;
          socket.write(serverTextFrame(`${name}:${frame.payload.toString('utf8')}`));
        }
      };
      socket.on('data', onData);
      if (head.length) onData(Buffer.alloc(0));
    } else if (proto === 'echo') {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      if (head.length) socket.write(head);
      socket.pipe(socket);
    } else {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    }
    socket.on('error', () => undefined);
  });
  server.on('connection', () => {
    backend.connections++;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: opts.port ?? 0 }, () => resolve());
  });
  const backend: TestBackend = {
    name,
    port: (server.address() as AddressInfo).port,
    requests,
    connections: 0,
    release() {
      const list = held;
      held = [];
      for (const res of list)
        if (!res.writableEnded) res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} slow done`);
    },
    holding(n) {
      if (held.length >= n) return Promise.resolve();
      return new Promise((resolve) => holdWaiters.push({ n, resolve }));
    },
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of upgraded) s.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return backend;
}

/** A TCP echo server; `ended` counts connections whose client half-closed. */
export async function startEchoServer(
  prefix = '',
): Promise<{ port: number; connections: number; ended: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0, ended: 0, close: async () => undefined as void };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (prefix) s.write(prefix);
    s.on('data', (c: Buffer) => s.write(c));
    s.on('end', () => {
      state.ended++;
      s.end();
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** A free port now (nothing listens on it after this returns). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function readClientFrame(buf: Buffer): { payload: Buffer; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const len = (buf[1] as number) & 0x7f;
  if (len >= 126) throw new Error('test frames are short');
  const masked = ((buf[1] as number) & 0x80) !== 0;
  const start = 2 + (masked ? 4 : 0);
  if (buf.length < start + len) return undefined;
  const payload = Buffer.from(buf.subarray(start, start + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (buf[2 + (i % 4)] as number);
  return { payload, rest: buf.subarray(start + len) };
}

function serverTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/** A masked text frame, as a client sends it. */
export function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = Buffer.from([1, 2, 3, 4]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return out;
}

/** Reads one unmasked server frame's text from `buf`, or undefined when incomplete. */
export function readServerFrame(buf: Buffer): { text: string; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const len = (buf[1] as number) & 0x7f;
  if (buf.length < 2 + len) return undefined;
  return { text: buf.subarray(2, 2 + len).toString('utf8'), rest: buf.subarray(2 + len) };
}
