/**
 * SocketWriter and readIntoShared (src/proxy/node/stream-io.ts) on real loopback sockets, both
 * below the stream machinery and through the streams API (GROUNDWORK_PROXY_IO=streams): order
 * and bytes kept when the kernel stops taking writes, end after queued writes, a write to a
 * reset connection, and reads into the shared buffer.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readIntoShared, SocketWriter, type Flusher } from '../../src/proxy/node/stream-io.js';

/** Flushes at the end of the turn, as ProxyCore does. */
class TurnFlusher implements Flusher {
  private ws: SocketWriter[] = [];
  dirty(w: SocketWriter): void {
    if (this.ws.push(w) === 1)
      setImmediate(() => {
        const ws = this.ws;
        this.ws = [];
        for (const x of ws) x.flush();
      });
  }
}

interface Pair {
  server: net.Socket; // accepted: written to with SocketWriter
  client: net.Socket;
}

const cleanups: (() => void)[] = [];

async function pair(onAccept?: (s: net.Socket) => void): Promise<Pair> {
  const srv = net.createServer({ allowHalfOpen: true });
  const accepted = new Promise<net.Socket>((resolve) =>
    srv.once('connection', (s) => {
      onAccept?.(s);
      resolve(s);
    }),
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const server = await accepted;
  await new Promise<void>((r) => (client.connecting ? client.once('connect', () => r()) : r()));
  cleanups.push(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  return { server, client };
}

function readAll(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(parts))));
}

const turn = () => new Promise<void>((r) => setImmediate(r));

for (const mode of ['native', 'streams'] as const) {
  describe(`stream-io (${mode})`, () => {
    beforeAll(() => {
      if (mode === 'streams') process.env.GROUNDWORK_PROXY_IO = 'streams';
    });
    afterAll(() => {
      delete process.env.GROUNDWORK_PROXY_IO;
    });
    afterEach(() => {
      for (const c of cleanups.splice(0)) c();
    });

    it('keeps order and bytes across turns while the peer does not read, then ends after the last write', async () => {
      const { server, client } = await pair();
      client.pause();
      const w = new SocketWriter(server, new TurnFlusher());
      const expected: Buffer[] = [];
      let heldByLibuv = 0; // bytes the kernel did not take at once: the test reaches the pending-write path
      // Small pieces (strings and buffers) over many turns: about 24 MB, far more than the
      // kernel's socket buffers take while nobody reads, so later writes wait in libuv.
      for (let t = 0; t < 600; t++) {
        for (let i = 0; i < 4; i++) {
          const n = t * 4 + i;
          const text = `piece ${n} `.padEnd(200 + (n % 13), '.');
          if (i % 2 === 0) {
            w.write(text);
            expected.push(Buffer.from(text, 'latin1'));
          } else {
            const b = Buffer.alloc(9_800, n % 251);
            w.write(b);
            expected.push(b);
          }
        }
        if (t % 100 === 99) {
          const big = Buffer.alloc(40_000, 7);
          w.writeNow(big);
          expected.push(big);
        }
        await turn();
        heldByLibuv = Math.max(
          heldByLibuv,
          (server as unknown as { _handle: { writeQueueSize: number } })._handle.writeQueueSize,
        );
      }
      expect(heldByLibuv).toBeGreaterThan(0);
      w.write('the last piece');
      expected.push(Buffer.from('the last piece', 'latin1'));
      w.end();
      const got = readAll(client);
      client.resume();
      const all = await got;
      const want = Buffer.concat(expected);
      expect(all.length).toBe(want.length);
      expect(all.equals(want)).toBe(true);
    });

    it('destroys the socket with the write error when the peer has reset the connection', async () => {
      const { server, client } = await pair();
      const errored = new Promise<NodeJS.ErrnoException>((r) => server.once('error', r));
      client.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 50));
      const w = new SocketWriter(server, new TurnFlusher());
      for (let i = 0; i < 50 && !server.destroyed; i++) {
        w.write('after the reset\r\n');
        await turn();
      }
      const e = await errored;
      expect(['EPIPE', 'ECONNRESET']).toContain(e.code);
      expect(server.destroyed).toBe(true);
    });

    it('hands each read to the callback while it is valid; pause and resume still work', async () => {
      const seen: string[] = [];
      let shared = false;
      let sock: net.Socket | undefined;
      const { client } = await pair((s) => {
        sock = s;
        shared = readIntoShared(s, (n, buf) => seen.push(buf.toString('latin1', 0, n)));
        if (!shared) s.on('data', (c: Buffer) => seen.push(c.toString('latin1')));
      });
      expect(shared).toBe(mode === 'native');
      client.write('first');
      await until(() => seen.join('') === 'first');
      (sock as net.Socket).pause();
      client.write('second');
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.join('')).toBe('first');
      (sock as net.Socket).resume();
      await until(() => seen.join('') === 'firstsecond');
      const ended = new Promise<void>((r) => (sock as net.Socket).once('end', () => r()));
      client.end();
      await ended;
    });
  });
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}
