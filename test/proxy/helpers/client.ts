/** An HTTP client for the data plane tests: full control of headers, keep-alive when asked. */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET read slowly, so the proxy's writes to the client back up: nothing is read for `stallMs`
 * (every buffer fills), then each chunk is followed by a short pause (writes complete in parts).
 * Resolves with the body's bytes.
 */
export function fetchSlowly(port: number, path: string, stallMs: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: 'app.test' }, agent: false }, (res) => {
      res.pause();
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (++n % 4 === 0) {
          res.pause();
          setTimeout(() => res.resume(), 1);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      setTimeout(() => res.resume(), stallMs);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface SendOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Send the body chunked (no Content-Length), in pieces of this many bytes. */
  chunkedPieces?: number;
  /** Default: a new connection per request. */
  agent?: http.Agent;
  timeoutMs?: number;
}

/** Rejects when the connection fails or is cut before the response is complete. */
export function send(port: number, o: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { host: 'app.test', ...o.headers };
    const req = http.request(
      { host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/', headers, agent: o.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      },
    );
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    if (o.body !== undefined && o.chunkedPieces) {
      const b = Buffer.from(o.body);
      for (let i = 0; i < b.length; i += o.chunkedPieces) req.write(b.subarray(i, i + o.chunkedPieces));
      req.end();
    } else {
      req.end(o.body);
    }
  });
}

/** Writes raw bytes on a new connection; resolves with everything read until the proxy closes it (or `untilMs`). */
export function rawExchange(port: number, data: string | Buffer, untilMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, untilMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    s.write(data);
  });
}

/**
 * A port that accepts no connection: a child process listens with a tiny backlog and then
 * blocks its event loop, so it never accepts; once the backlog is full (filled here), the
 * kernel drops further SYNs and a connect hangs until its timeout. All on loopback.
 */
export async function startBlackhole(): Promise<{ port: number; close(): void }> {
  const code = `const s=require('net').createServer().listen({host:'127.0.0.1',port:0,backlog:1},()=>{process.stdout.write(s.address().port+'\\n');setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,600000),50)})`;
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.on('exit', (c) => reject(new Error(`blackhole exited with ${c}`)));
  });
  await new Promise((r) => setTimeout(r, 200)); // the child is blocked now
  // Fill the accept queue (backlog 1 holds 2); these connects complete in the kernel.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const f = net.connect({ host: '127.0.0.1', port });
    f.on('error', () => undefined);
    fillers.push(f);
  }
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    close() {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    },
  };
}

/** Tries a connect to `port` with a deadline; resolves whether it connected. */
export function canConnect(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}
