/**
 * Response bytes the proxy has queued for the client (writes wait for the end of the event-loop
 * turn) must not be overwritten by the next read from the same backend connection, which reuses
 * its read buffer. A backend that sends a large chunked body of small chunks in one write makes
 * the proxy read that connection several times in one turn; an HTTP/1.0 client gets the body
 * unchunked, so each chunk's data is its own small write (copied, Exchange.writeClient), and an
 * HTTP/1.1 client gets whole read buffers (lent, UpstreamConn.lend). Both must arrive intact.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { route } from './data-plane.contract.js';

/** 256 KB in 100-byte chunks, each chunk's bytes different from its neighbours'. */
function chunkedBody(): { wire: Buffer; data: Buffer } {
  const pieces: Buffer[] = [];
  const data: Buffer[] = [];
  for (let i = 0; i < 2621; i++) {
    const d = Buffer.alloc(100, 33 + (i % 90));
    data.push(d);
    pieces.push(Buffer.from('64\r\n'), d, Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from('0\r\n\r\n'));
  return { wire: Buffer.concat(pieces), data: Buffer.concat(data) };
}

/** Sends `head` and reads until the server closes; returns the body after the response head, dechunked if it is chunked. */
function exchange(port: number, head: string): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    const got: Buffer[] = [];
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', reject);
    s.on('end', () => {
      const all = Buffer.concat(got);
      const end = all.indexOf('\r\n\r\n');
      resolve({ head: all.toString('latin1', 0, end), body: all.subarray(end + 4) });
      s.destroy();
    });
  });
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', pos);
    const n = parseInt(b.toString('latin1', pos, eol), 16);
    if (n === 0) return Buffer.concat(out);
    out.push(b.subarray(eol + 2, eol + 2 + n));
    pos = eol + 2 + n + 2;
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('NodeProxy: many small response pieces read in one turn', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('forwards them intact to HTTP/1.0 (unchunked) and HTTP/1.1 (as chunked) clients', async () => {
    const { wire, data } = chunkedBody();
    const backend = net.createServer((s) => {
      s.on('data', () => {
        // Head and the whole body in one write: the proxy finds several read buffers' worth at once.
        s.write(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), wire]));
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => backend.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => backend.close(() => resolve())));
    const proxy = new NodeProxy();
    cleanups.push(() => proxy.close());
    await proxy.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }]);
    const backendPort = (backend.address() as net.AddressInfo).port;
    proxy.setPool('web', [{ id: 'burst', host: '127.0.0.1', port: backendPort, weight: 1 }]);
    proxy.setRoutes([route('web')]);
    const port = proxy.address('web')?.port as number;

    const old = await exchange(port, 'GET /a HTTP/1.0\r\n\r\n');
    expect(old.head).toMatch(/^HTTP\/1\.1 200 /);
    expect(old.head.toLowerCase()).not.toContain('transfer-encoding');
    expect(old.body.length).toBe(data.length);
    expect(sha(old.body)).toBe(sha(data));

    const cur = await exchange(port, 'GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(cur.head.toLowerCase()).toContain('transfer-encoding: chunked');
    expect(sha(dechunk(cur.body))).toBe(sha(data));
  });
});
