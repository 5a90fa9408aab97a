/**
 * The DataPlane contract, as one suite every implementation runs:
 * `dataPlaneContract('node', (env) => new NodeProxy({ accessLog: env.accessLog }))`.
 *
 * Real sockets on 127.0.0.1: real backend HTTP servers (helpers/backends.ts), a real client.
 * No timing thresholds: timeouts are configured short and awaited, never measured.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  quantile,
  type AccessLog,
  type AccessLogEntry,
  type Backend,
  type DataPlane,
  type DataPlaneMetrics,
  type HttpRoute,
  type Listener,
} from '../../src/proxy/data-plane.js';
import { systemClock, type Timers } from '../../src/util/clock.js';
import { Duration } from '../../src/util/duration.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';
import {
  clientTextFrame,
  freePort,
  patternBytes,
  readServerFrame,
  sha256,
  startBackend,
  startEchoServer,
  type AnswerBody,
  type TestBackend,
} from './helpers/backends.js';
import { canConnect, fetchSlowly, rawExchange, send, startBlackhole, type Answer } from './helpers/client.js';

export interface ContractEnv {
  /** Pass to the implementation: the suite reads the entries. */
  accessLog: AccessLog;
  /**
   * Pass to the implementation: its ejections and timeouts run on this clock. The system clock,
   * except in the tests that move time themselves (a ManualClock).
   */
  clock: Timers;
}

/** How long a backend stays ejected after its first failed connect: the suite counts on it. */
export const EJECT_FOR = Duration.milliseconds(500);

/**
 * Makes a fresh, empty data plane. Implementations eject for EJECT_FOR after a first failed
 * connect, and check timeouts (and the end of an ejection) at least every 100 ms of their clock.
 */
export type MakeDataPlane = (env: ContractEnv) => DataPlane;

/** Tests an implementation cannot run, each with the reason (said in the skipped test's name). */
export interface ContractOptions {
  /**
   * The implementation runs its timers on a clock the test cannot move (another process): the
   * test that moves a ManualClock is skipped.
   */
  noManualClock?: string;
}

export function route(id: string, over: Partial<HttpRoute> = {}): HttpRoute {
  return {
    id,
    host: null,
    pathPrefix: '/',
    listeners: [],
    pool: id,
    balance: 'round-robin',
    connectTimeout: Duration.seconds(2),
    idleTimeout: Duration.seconds(30),
    totalTimeout: Duration.minutes(1),
    maxBodyBytes: 1024 * 1024,
    ...over,
  };
}

function member(b: TestBackend | { name: string; port: number }, weight = 1): Backend {
  return { id: b.name, host: '127.0.0.1', port: b.port, weight };
}

function servedBy(a: Answer): string {
  expect(a.status, a.body).toBe(200);
  return (JSON.parse(a.body) as AnswerBody).backend;
}

function countBy(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}

export function dataPlaneContract(name: string, make: MakeDataPlane, options: ContractOptions = {}): void {
  describe(`DataPlane contract: ${name}`, () => {
    let plane: DataPlane;
    let log: AccessLogEntry[];
    const cleanups: (() => unknown)[] = [];

    beforeEach(() => {
      log = [];
      plane = make({ accessLog: (e) => log.push(e), clock: systemClock });
    });

    afterEach(async () => {
      await plane.close();
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function backend(backendName: string, port?: number): Promise<TestBackend> {
      const b = await startBackend(backendName, port === undefined ? {} : { port });
      cleanups.push(() => b.close());
      return b;
    }

    async function listen(extra: Listener[] = []): Promise<number> {
      await plane.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }, ...extra]);
      const a = plane.address('web');
      if (!a) throw new Error('listener web is not bound');
      return a.port;
    }

    /**
     * Metrics as of now, and a barrier: an implementation in another process (refreshMetrics)
     * has handled everything sent before, and its access log entries have arrived.
     */
    async function settled(): Promise<DataPlaneMetrics> {
      return plane.refreshMetrics ? plane.refreshMetrics() : plane.metrics();
    }

    function keepAliveAgent(): http.Agent {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      cleanups.push(() => agent.destroy());
      return agent;
    }

    async function sequential(port: number, n: number, o: Parameters<typeof send>[1] = {}): Promise<Answer[]> {
      const agent = keepAliveAgent();
      const out: Answer[] = [];
      for (let i = 0; i < n; i++) out.push(await send(port, { agent, ...o }));
      return out;
    }

    describe('routing', () => {
      it('sends a request to the longest matching path prefix, on segment boundaries', async () => {
        const port = await listen();
        for (const n of ['root', 'api', 'v2']) plane.setPool(n, [member(await backend(n))]);
        plane.setRoutes([route('root'), route('api', { pathPrefix: '/api' }), route('v2', { pathPrefix: '/api/v2' })]);
        const cases: [string, string][] = [
          ['/', 'root'],
          ['/api', 'api'],
          ['/api/', 'api'],
          ['/api/x', 'api'],
          ['/apix', 'root'],
          ['/api?q=1', 'api'],
          ['/api/v2/users?q=1', 'v2'],
          ['/api/v2x', 'api'],
          ['/other/api', 'root'],
        ];
        for (const [path, want] of cases) expect(servedBy(await send(port, { path })), path).toBe(want);
      });

      it('prefers an exact host to a wildcard and a wildcard to any host; a host group with no matching path falls through', async () => {
        const port = await listen();
        for (const n of ['exact', 'wild', 'wildeu', 'any', 'apiv1']) plane.setPool(n, [member(await backend(n))]);
        plane.setRoutes([
          route('any', { pathPrefix: '/admin' }),
          route('wild', { host: '*.example.test' }),
          route('exact', { host: 'shop.example.test' }),
          route('wildeu', { host: '*.eu.example.test' }),
          route('apiv1', { host: 'api.example.test', pathPrefix: '/v1' }),
        ]);
        const cases: [string, string, string][] = [
          ['shop.example.test', '/', 'exact'],
          ['SHOP.Example.TEST:8080', '/cart', 'exact'],
          ['shop.example.test', '/admin', 'exact'],
          ['a.example.test', '/', 'wild'],
          ['deep.a.example.test', '/', 'wild'],
          ['b.eu.example.test', '/', 'wildeu'],
          ['api.example.test', '/v1/users', 'apiv1'],
          ['api.example.test', '/other', 'wild'],
          ['example.test', '/admin', 'any'],
          ['elsewhere.test', '/admin/x', 'any'],
        ];
        for (const [host, path, want] of cases)
          expect(servedBy(await send(port, { path, headers: { host } })), `${host}${path}`).toBe(want);
        expect((await send(port, { path: '/', headers: { host: 'example.test' } })).status).toBe(404);
      });

      it('answers 404 when no route matches, as plain text or as JSON when the client accepts JSON', async () => {
        const port = await listen();
        plane.setPool('api', [member(await backend('api'))]);
        plane.setRoutes([route('api', { host: 'api.test' })]);
        const plain = await send(port, { path: '/x', headers: { host: 'nothing.test' } });
        expect(plain.status).toBe(404);
        expect(plain.headers['content-type']).toMatch(/^text\/plain/);
        expect(plain.body).toContain('no route');
        expect(plain.body).toContain('nothing.test');
        const json = await send(port, { path: '/x', headers: { host: 'nothing.test', accept: 'application/json' } });
        expect(json.status).toBe(404);
        expect(json.headers['content-type']).toBe('application/json');
        expect((JSON.parse(json.body) as { error: { code: string } }).error.code).toBe('no-route');
      });

      it('serves a route only on the listeners it names (none named: every http listener)', async () => {
        const web = await listen([{ name: 'admin', protocol: 'http', host: '127.0.0.1', port: 0 }]);
        const admin = plane.address('admin')?.port as number;
        for (const n of ['site', 'console', 'shared']) plane.setPool(n, [member(await backend(n))]);
        plane.setRoutes([
          route('site', { listeners: ['web'] }),
          route('console', { listeners: ['admin'] }),
          route('shared', { pathPrefix: '/shared' }),
        ]);
        expect(servedBy(await send(web))).toBe('site');
        expect(servedBy(await send(admin))).toBe('console');
        expect(servedBy(await send(web, { path: '/shared' }))).toBe('shared');
        expect(servedBy(await send(admin, { path: '/shared/x' }))).toBe('shared');
      });

      it('rejects invalid routes, naming every problem', () => {
        expect(() =>
          plane.setRoutes([route('a', { pathPrefix: 'api' }), route('b'), route('b', { host: 'bad host' })]),
        ).toThrow(/path prefix "api" must start with \/[\s\S]*"b" is declared twice[\s\S]*bad host/);
        expect(() => plane.setRoutes([route('a'), route('b')])).toThrow(/routes "a" and "b" both match/);
      });

      it("answers 503 when the route's pool has no backend that can take traffic", async () => {
        const port = await listen();
        plane.setRoutes([route('empty'), route('zero', { pathPrefix: '/zero' })]);
        plane.setPool('zero', [member(await backend('z'), 0)]);
        const a = await send(port);
        expect(a.status).toBe(503);
        expect(a.body).toContain('pool "empty" has no backends');
        const z = await send(port, { path: '/zero' });
        expect(z.status).toBe(503);
        expect(z.body).toContain('weight 0');
      });
    });

    describe('balancing', () => {
      it('round-robin spreads requests evenly', async () => {
        const port = await listen();
        const bs = [await backend('a'), await backend('b'), await backend('c')];
        plane.setPool(
          'web',
          bs.map((b) => member(b)),
        );
        plane.setRoutes([route('web')]);
        // Round-robin is deterministic: 100 full turns give each backend exactly 100.
        const counts = countBy((await sequential(port, 300)).map(servedBy));
        expect(counts).toEqual({ a: 100, b: 100, c: 100 });
      });

      it('splits traffic by weight (90/10 over 1000 requests); weight 0 gets nothing', async () => {
        const port = await listen();
        const [a, b, c] = [await backend('a'), await backend('b'), await backend('c')];
        plane.setPool('web', [member(a, 90), member(b, 10), member(c, 0)]);
        plane.setRoutes([route('web')]);
        // Weighted round-robin is deterministic too: 10 full turns of 100 picks, weight for weight.
        const served = (await sequential(port, 1000)).map(servedBy);
        expect(countBy(served)).toEqual({ a: 900, b: 100 });
        // And spread out, not in runs: b gets exactly one of every 10 requests in a row.
        for (let i = 0; i < 1000; i += 10) expect(countBy(served.slice(i, i + 10))).toEqual({ a: 9, b: 1 });
      });

      it('keeps rotating when the same pool is set again between requests (a periodic resync)', async () => {
        const port = await listen();
        const [a, b] = [await backend('a'), await backend('b')];
        plane.setRoutes([route('web')]);
        const agent = keepAliveAgent();
        const served: string[] = [];
        for (let i = 0; i < 10; i++) {
          plane.setPool('web', [member(a), member(b)]);
          served.push(servedBy(await send(port, { agent })));
        }
        expect(countBy(served)).toEqual({ a: 5, b: 5 });
      });

      it('least-connections sends new requests to the backend with fewer in flight', async () => {
        const port = await listen();
        const [a, b] = [await backend('a'), await backend('b')];
        plane.setPool('web', [member(a), member(b)]);
        plane.setRoutes([route('web', { balance: 'least-connections' })]);
        const slow = send(port, { path: '/slow' });
        await waitFor(() => a.requests.length + b.requests.length === 1, {
          what: 'the slow request to reach a backend',
        });
        const [busy, idle] = a.requests.length === 1 ? [a, b] : [b, a];
        const served = (await sequential(port, 20)).map(servedBy);
        expect(countBy(served)).toEqual({ [idle.name]: 20 });
        busy.release();
        expect((await slow).status).toBe(200);
        // Both idle again: both get traffic.
        const after = countBy((await sequential(port, 20)).map(servedBy));
        expect(Object.keys(after).sort()).toEqual(['a', 'b']);
      });
    });

    describe('failures and retries', () => {
      it('ejects a backend that refuses connections, retries its requests on another (no client error), and tries it again later', async () => {
        const port = await listen();
        const live = await backend('live');
        const deadPort = await freePort();
        plane.setPool('web', [member({ name: 'dead', port: deadPort }), member(live)]);
        plane.setRoutes([route('web')]);
        const answers = await sequential(port, 40);
        expect(answers.map((a) => a.status)).toEqual(new Array(40).fill(200));
        const m = await settled();
        expect(m.backends.dead?.status.error).toBeGreaterThanOrEqual(1);
        expect(m.backends.dead?.ejected).toBe(true);
        expect(m.backends.live?.status['2xx']).toBe(40);
        expect(m.routes.web?.status['2xx']).toBe(40);
        await settled();
        expect(log.some((e) => e.tries === 2 && e.status === 200 && e.backend === 'live')).toBe(true);
      });

      const manualClockTest = options.noManualClock ? it.skip : it;
      manualClockTest(
        `gives an ejected backend traffic again once EJECT_FOR has passed on its clock, not before${options.noManualClock ? ` (skipped: ${options.noManualClock})` : ''}`,
        async () => {
          const clock = new ManualClock();
          await plane.close();
          plane = make({ accessLog: (e) => log.push(e), clock });
          const port = await listen();
          const live = await backend('live');
          const deadPort = await freePort();
          plane.setPool('web', [member({ name: 'dead', port: deadPort }), member(live)]);
          plane.setRoutes([route('web')]);
          expect((await sequential(port, 2)).map(servedBy)).toEqual(['live', 'live']);
          expect((await settled()).backends.dead).toMatchObject({ ejected: true, status: { error: 1 } });
          const revived = await backend('dead', deadPort);
          // Listening again, but still ejected until its time is up: no traffic.
          await clock.advance(EJECT_FOR.toMilliseconds() - 1);
          expect((await sequential(port, 4)).map(servedBy)).toEqual(['live', 'live', 'live', 'live']);
          expect(revived.requests).toHaveLength(0);
          expect((await settled()).backends.dead?.ejected).toBe(true);
          // Time is up (seen at the next timer check): it takes its turn again.
          await clock.advance(100);
          expect((await settled()).backends.dead?.ejected).toBe(false);
          expect(countBy((await sequential(port, 4)).map(servedBy))).toEqual({ dead: 2, live: 2 });
          expect(revived.requests).toHaveLength(2);
        },
      );

      it('treats a connect timeout like a refused connect (retry elsewhere); with no other backend the answer is 504', async () => {
        const hole = await startBlackhole();
        cleanups.push(() => hole.close());
        const port = await listen();
        const live = await backend('live');
        plane.setPool('web', [member({ name: 'hole', port: hole.port }), member(live)]);
        plane.setRoutes([route('web', { connectTimeout: Duration.milliseconds(300) })]);
        const answers = await sequential(port, 4);
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
        expect((await settled()).backends.hole?.status.error).toBeGreaterThanOrEqual(1);
        plane.setPool('web', [member({ name: 'hole-alone', port: hole.port })]);
        const alone = await send(port);
        expect(alone.status).toBe(504);
        await settled();
        expect(log.at(-1)?.error).toBe('connect-timeout');
      });

      it('does not retry a request once it was sent: a POST whose backend resets gets 502, and no other backend sees it', async () => {
        const port = await listen();
        const resets = await backend('resets');
        const good = await backend('good');
        plane.setPool('web', [member(resets), member(good)]);
        plane.setRoutes([route('web')]);
        plane.setRoutes([route('web'), route('reset', { pool: 'reset-pool', pathPrefix: '/reset' })]);
        plane.setPool(
          'reset-pool',
          [member(resets), member(good)].map((m) => ({ ...m, id: `${m.id}-r` })),
        );
        // Both backends reset /reset; a retry would show up as a second backend seeing the same POST.
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++)
          statuses.push(
            (
              await send(port, { method: 'POST', path: '/reset', body: 'x'.repeat(100) }).catch(
                () => ({ status: -1 }) as Answer,
              )
            ).status,
          );
        expect(statuses).toEqual(new Array(6).fill(502));
        const seen = [...resets.requests, ...good.requests].filter((r) => r.url === '/reset');
        expect(seen).toHaveLength(6);
      });

      it('retries a GET once on a fresh connection when a reused keep-alive connection turns out closed; a POST gets 502', async () => {
        // A backend that answers the first request of each connection and closes the connection on the second.
        let heads = 0;
        const server = net.createServer((s) => {
          let n = 0;
          let buf = '';
          s.on('error', () => undefined);
          s.on('data', (c: Buffer) => {
            buf += c.toString('latin1');
            while (buf.includes('\r\n\r\n')) {
              const end = buf.indexOf('\r\n\r\n') + 4;
              const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
              if (buf.length < end + len) return;
              buf = buf.slice(end + len);
              heads++;
              if (++n === 1) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
              else {
                s.destroy();
                return;
              }
            }
          });
        });
        await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
        cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
        const port = await listen();
        plane.setPool('web', [member({ name: 'flaky', port: (server.address() as net.AddressInfo).port })]);
        plane.setRoutes([route('web')]);
        expect((await send(port)).status).toBe(200);
        expect((await send(port)).status).toBe(200); // the reused connection closed; retried on a new one
        expect(heads).toBe(3);
        expect((await send(port, { method: 'POST', body: 'data' })).status).toBe(502);
        expect(heads).toBe(4);
      });
      it('sends a GET retried after a stale keep-alive connection to the pool as it is now, not to a backend that left it', async () => {
        // "old" answers the first request of each connection. On the second, the pool changes to
        // "new" (as a blue-green switch would), then "old" closes the connection unanswered: the
        // proxy retries on a fresh connection, and that retry must follow the switch.
        const fresh = await backend('new');
        let oldHeads = 0;
        const server = net.createServer((s) => {
          let n = 0;
          s.on('error', () => undefined);
          s.on('data', (c: Buffer) => {
            if (!c.toString('latin1').includes('\r\n\r\n')) return;
            oldHeads++;
            if (++n === 1) {
              s.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nold');
              return;
            }
            plane.setPool('web', [member(fresh)]);
            s.destroy();
          });
        });
        await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
        cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
        const port = await listen();
        plane.setPool('web', [member({ name: 'old', port: (server.address() as net.AddressInfo).port })]);
        plane.setRoutes([route('web')]);
        const first = await send(port);
        expect([first.status, first.body]).toEqual([200, 'old']);
        const second = await send(port);
        expect(servedBy(second)).toBe('new');
        expect(oldHeads).toBe(2);
        expect(fresh.requests).toHaveLength(1);
        await settled();
        expect(log.at(-1)).toMatchObject({ backend: 'new', status: 200 });
      });
    });

    describe('headers', () => {
      it('appends X-Forwarded-For and sets X-Forwarded-Proto and -Host', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web')]);
        const first = JSON.parse((await send(port, { headers: { host: 'shop.test:8080' } })).body) as AnswerBody;
        expect(first.headers['x-forwarded-for']).toBe('127.0.0.1');
        expect(first.headers['x-forwarded-proto']).toBe('http');
        expect(first.headers['x-forwarded-host']).toBe('shop.test:8080');
        expect(first.headers.host).toBe('shop.test:8080');
        const chained = JSON.parse(
          (
            await send(port, {
              headers: {
                'x-forwarded-for': '203.0.113.9',
                'x-forwarded-proto': 'https',
                'x-forwarded-host': 'evil.test',
              },
            })
          ).body,
        ) as AnswerBody;
        expect(chained.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
        expect(chained.headers['x-forwarded-proto']).toBe('http');
        expect(chained.headers['x-forwarded-host']).toBe('app.test');
      });

      it('drops hop-by-hop headers in both directions, including those named in Connection', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web')]);
        const a = await send(port, {
          headers: {
            connection: 'keep-alive, x-hop',
            'x-hop': 'secret',
            'keep-alive': 'timeout=5',
            te: 'trailers',
            'proxy-connection': 'keep-alive',
            'x-end': 'kept',
            'x-want-hop': '1',
          },
        });
        const seen = (JSON.parse(a.body) as AnswerBody).headers;
        for (const h of ['x-hop', 'keep-alive', 'te', 'proxy-connection']) expect(seen[h], h).toBeUndefined();
        expect(seen['x-end']).toBe('kept');
        expect(a.headers['x-resp-hop']).toBeUndefined();
        expect(a.headers['keep-alive']).toBeUndefined();
      });
    });

    describe('protocols', () => {
      it('passes a WebSocket upgrade through', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('ws'))]);
        plane.setRoutes([route('web')]);
        const s = net.connect({ host: '127.0.0.1', port });
        cleanups.push(() => s.destroy());
        let buf: Buffer = Buffer.alloc(0);
        const more = () =>
          new Promise<void>((resolve) =>
            s.once('data', (c: Buffer) => {
              buf = Buffer.concat([buf, c]);
              resolve();
            }),
          );
        s.write(
          'GET /chat HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
        while (!buf.includes('\r\n\r\n')) await more();
        const headEnd = buf.indexOf('\r\n\r\n') + 4;
        const head = buf.subarray(0, headEnd).toString('latin1');
        expect(head).toMatch(/^HTTP\/1\.1 101 /);
        expect(head.toLowerCase()).toContain('sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=');
        expect(head.toLowerCase()).toContain('upgrade: websocket');
        buf = buf.subarray(headEnd);
        for (const word of ['hello', 'again']) {
          s.write(clientTextFrame(word));
          let frame;
          while ((frame = readServerFrame(buf)) === undefined) await more();
          expect(frame.text).toBe(`ws:${word}`);
          buf = frame.rest;
        }
        expect((await settled()).backends.ws?.status['1xx']).toBe(1);
      });

      it('passes any Upgrade protocol through as raw bytes', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('e'))]);
        plane.setRoutes([route('web')]);
        const s = net.connect({ host: '127.0.0.1', port });
        cleanups.push(() => s.destroy());
        let text = '';
        s.on('data', (c: Buffer) => {
          text += c.toString('latin1');
        });
        s.write('GET / HTTP/1.1\r\nHost: app.test\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n');
        await waitFor(() => text.includes('\r\n\r\n'), { what: '101' });
        expect(text).toMatch(/^HTTP\/1\.1 101 /);
        s.write('ping-pong');
        await waitFor(() => text.endsWith('ping-pong'), { what: 'the echo' });
      });

      it('passes chunked responses through; an HTTP/1.0 client gets the body unchunked', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web')]);
        const a = await send(port, { path: '/chunked' });
        expect(a.headers['transfer-encoding']).toBe('chunked');
        expect(a.body).toBe('a:one,two');
        const raw = await rawExchange(port, 'GET /chunked HTTP/1.0\r\nHost: app.test\r\n\r\n');
        expect(raw).toMatch(/^HTTP\/1\.1 200 /);
        expect(raw.toLowerCase()).not.toContain('transfer-encoding');
        expect(raw.endsWith('\r\n\r\na:one,two')).toBe(true);
      });

      it('answers pipelined requests in order', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web')]);
        const raw = await rawExchange(
          port,
          'GET /first HTTP/1.1\r\nHost: app.test\r\n\r\nGET /second HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n',
        );
        const first = raw.indexOf('"url":"/first"');
        const second = raw.indexOf('"url":"/second"');
        expect(first).toBeGreaterThan(-1);
        expect(second).toBeGreaterThan(first);
      });

      it('rejects malformed requests with 400 and closes the connection', async () => {
        const port = await listen();
        const a = await backend('a');
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web')]);
        const smuggle = await rawExchange(
          port,
          'POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        );
        expect(smuggle).toMatch(/^HTTP\/1\.1 400 /);
        expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost : app.test\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
        expect(await rawExchange(port, 'GET / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
        expect(
          await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'),
        ).toMatch(/^HTTP\/1\.1 400 /);
        expect(a.requests).toHaveLength(0);
      });

      it('streams large bodies intact both ways, through backpressure', async () => {
        const port = await listen();
        const a = await backend('a');
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web', { maxBodyBytes: 64 * 1024 * 1024 })]);
        const size = 16 * 1024 * 1024;
        const expected = sha256(patternBytes(size));
        for (const path of [`/big/${size}`, `/big-chunked/${size}`]) {
          const got = await fetchSlowly(port, path, 300);
          expect(got.status).toBe(200);
          expect(got.body.length, path).toBe(size);
          expect(sha256(got.body), path).toBe(expected);
        }
        const upload = patternBytes(8 * 1024 * 1024);
        for (const chunkedPieces of [undefined, 100_000]) {
          const answer = JSON.parse(
            (
              await send(port, {
                method: 'PUT',
                path: '/upload',
                body: upload,
                ...(chunkedPieces ? { chunkedPieces } : {}),
              })
            ).body,
          ) as AnswerBody;
          expect(answer.bodyBytes).toBe(upload.length);
          expect(answer.bodySha256).toBe(sha256(upload));
        }
      });

      it('relays 100 Continue, and sends no body after a HEAD', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web')]);
        const s = net.connect({ host: '127.0.0.1', port });
        cleanups.push(() => s.destroy());
        let text = '';
        s.on('data', (c: Buffer) => {
          text += c.toString('latin1');
        });
        s.write('POST /form HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
        await waitFor(() => text.includes('\r\n\r\n'), { what: '100 Continue' });
        expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
        s.write('hello');
        await waitFor(() => text.includes('"bodyBytes":5'), { what: 'the final response' });
        const head = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
        expect(head).toMatch(/^HTTP\/1\.1 200 /);
        expect(head.toLowerCase()).toMatch(/content-length: \d+/);
        expect(head.endsWith('\r\n\r\n')).toBe(true);
      });

      it('keeps connections to backends alive and reuses them', async () => {
        const port = await listen();
        const a = await backend('a');
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web')]);
        await sequential(port, 20);
        expect(a.requests).toHaveLength(20);
        expect(a.connections).toBe(1);
      });
    });

    describe('timeouts and limits', () => {
      it('answers 504 when the backend stays silent for the idle timeout', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web', { idleTimeout: Duration.milliseconds(300) })]);
        const a = await send(port, { path: '/hang' });
        expect(a.status).toBe(504);
        await settled();
        expect(log.at(-1)?.error).toBe('timeout-idle');
        expect((await settled()).routes.web?.status.error).toBe(1);
      });

      it('answers 504 when the total timeout passes before the response head', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([
          route('web', { idleTimeout: Duration.seconds(30), totalTimeout: Duration.milliseconds(300) }),
        ]);
        expect((await send(port, { path: '/hang' })).status).toBe(504);
        await settled();
        expect(log.at(-1)?.error).toBe('timeout-total');
      });

      it('cuts a response that is still streaming when the total timeout passes', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web', { totalTimeout: Duration.milliseconds(400) })]);
        await expect(send(port, { path: '/trickle' })).rejects.toThrow();
        await waitFor(() => log.length === 1, { what: 'the access log line' });
        expect(log[0]?.status).toBe(200);
        expect(log[0]?.error).toBe('timeout-total');
      });

      it('answers 413 to a body over the limit, by Content-Length and while streaming a chunked body', async () => {
        const port = await listen();
        const a = await backend('a');
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web', { maxBodyBytes: 1000 })]);
        expect((await send(port, { method: 'POST', body: 'x'.repeat(2000) })).status).toBe(413);
        expect(a.requests).toHaveLength(0);
        const streamed = await send(port, { method: 'POST', body: 'y'.repeat(3000), chunkedPieces: 100 });
        expect(streamed.status).toBe(413);
        expect(a.requests).toHaveLength(0);
        const within = await send(port, { method: 'POST', body: 'z'.repeat(1000) });
        expect((JSON.parse(within.body) as AnswerBody).bodyBytes).toBe(1000);
        const withinChunked = await send(port, { method: 'POST', body: 'z'.repeat(900), chunkedPieces: 100 });
        expect((JSON.parse(withinChunked.body) as AnswerBody).bodyBytes).toBe(900);
        expect((await settled()).routes.web?.status['4xx']).toBe(2);
      });
    });

    describe('drain', () => {
      it('lets a removed backend finish its in-flight request while new requests go elsewhere; drain resolves', async () => {
        const port = await listen();
        const [a, b] = [await backend('a'), await backend('b')];
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web')]);
        const slow = send(port, { path: '/slow' });
        await a.holding(1);
        plane.setPool('web', [member(b)]);
        expect((await settled()).backends.a?.draining).toBe(true);
        expect((await sequential(port, 5)).map(servedBy)).toEqual(['b', 'b', 'b', 'b', 'b']);
        const drained = plane.drain('a', Duration.seconds(30));
        a.release();
        expect((await slow).status).toBe(200);
        expect(await drained).toEqual({ drained: true, abandoned: 0 });
        expect(a.requests.filter((r) => r.url !== '/slow')).toHaveLength(0);
      });

      it('abandons what is still in flight when the drain timeout passes, and counts it', async () => {
        const port = await listen();
        const [a, b] = [await backend('a'), await backend('b')];
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web')]);
        const slow = send(port, { path: '/slow' }).catch(
          (e: Error) => ({ status: -1, body: e.message, headers: {} }) as Answer,
        );
        await a.holding(1);
        plane.setPool('web', [member(b)]);
        expect(await plane.drain('a', Duration.milliseconds(300))).toEqual({ drained: false, abandoned: 1 });
        expect((await slow).status).toBe(502);
        expect(servedBy(await send(port))).toBe('b');
      });

      it('stops new traffic to a drained backend that is still in its pool, until setPool lists it again', async () => {
        const port = await listen();
        const [a, b] = [await backend('a'), await backend('b')];
        plane.setPool('web', [member(a), member(b)]);
        plane.setRoutes([route('web')]);
        expect(await plane.drain('a', Duration.seconds(5))).toEqual({ drained: true, abandoned: 0 });
        expect(await plane.drain('unknown', Duration.seconds(5))).toEqual({ drained: true, abandoned: 0 });
        expect(countBy((await sequential(port, 6)).map(servedBy))).toEqual({ b: 6 });
        plane.setPool('web', [member(a), member(b)]);
        expect(countBy((await sequential(port, 6)).map(servedBy))).toEqual({ a: 3, b: 3 });
      });

      it('counts an open WebSocket as in flight: drain waits for it, and its timeout cuts it', async () => {
        const port = await listen();
        const [a, b] = [await backend('a'), await backend('b')];
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web')]);
        const s = net.connect({ host: '127.0.0.1', port });
        cleanups.push(() => s.destroy());
        let text = '';
        s.on('data', (c: Buffer) => {
          text += c.toString('latin1');
        });
        const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
        s.write('GET / HTTP/1.1\r\nHost: app.test\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n');
        await waitFor(() => text.includes('\r\n\r\n'), { what: '101' });
        plane.setPool('web', [member(b)]);
        expect(await plane.drain('a', Duration.milliseconds(300))).toEqual({ drained: false, abandoned: 1 });
        await closed;
      });
    });

    describe('tcp listeners', () => {
      it('forwards bytes both ways, with half-close', async () => {
        const echo = await startEchoServer();
        cleanups.push(() => echo.close());
        await plane.setListeners([
          {
            name: 'db',
            protocol: 'tcp',
            host: '127.0.0.1',
            port: 0,
            pool: 'db',
            connectTimeout: Duration.seconds(2),
            idleTimeout: Duration.seconds(30),
          },
        ]);
        plane.setPool('db', [{ id: 'db/0', host: '127.0.0.1', port: echo.port, weight: 1 }]);
        const port = plane.address('db')?.port as number;
        const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
        let text = '';
        s.on('data', (c: Buffer) => {
          text += c.toString();
        });
        const ended = new Promise<void>((resolve) => s.on('end', () => resolve()));
        s.write('hello ');
        await waitFor(() => text === 'hello ', { what: 'the echo' });
        s.end('world');
        await ended;
        expect(text).toBe('hello world');
        expect(echo.ended).toBe(1);
        s.destroy();
        await waitFor(async () => (await settled()).listeners.db?.activeConnections === 0, {
          what: 'the connection to close',
        });
        const m = await settled();
        expect(m.listeners.db?.connections).toBe(1);
        expect(m.listeners.db?.bytesIn).toBe(11);
        expect(m.listeners.db?.bytesOut).toBe(11);
        expect(m.backends['db/0']?.requests).toBe(1);
        expect(m.backends['db/0']?.inFlight).toBe(0);
      });

      it('closes a connection that stays silent for the idle timeout', async () => {
        const echo = await startEchoServer();
        cleanups.push(() => echo.close());
        await plane.setListeners([
          {
            name: 'db',
            protocol: 'tcp',
            host: '127.0.0.1',
            port: 0,
            pool: 'db',
            connectTimeout: Duration.seconds(2),
            idleTimeout: Duration.milliseconds(300),
          },
        ]);
        plane.setPool('db', [{ id: 'db/0', host: '127.0.0.1', port: echo.port, weight: 1 }]);
        const s = net.connect({ host: '127.0.0.1', port: plane.address('db')?.port as number });
        s.on('error', () => undefined);
        await new Promise<void>((resolve) => s.on('close', () => resolve()));
        expect(echo.connections).toBe(1);
        await waitFor(() => log.some((e) => e.method === 'TCP' && e.error === 'timeout-idle'), {
          what: 'the access log line of the cut connection',
        });
      });

      it('tries another backend when one refuses the connection', async () => {
        const echo = await startEchoServer('hi:');
        cleanups.push(() => echo.close());
        await plane.setListeners([
          {
            name: 'db',
            protocol: 'tcp',
            host: '127.0.0.1',
            port: 0,
            pool: 'db',
            connectTimeout: Duration.seconds(2),
            idleTimeout: Duration.seconds(30),
          },
        ]);
        plane.setPool('db', [
          { id: 'dead', host: '127.0.0.1', port: await freePort(), weight: 1 },
          { id: 'echo', host: '127.0.0.1', port: echo.port, weight: 1 },
        ]);
        const port = plane.address('db')?.port as number;
        for (let i = 0; i < 4; i++) expect(await rawExchange(port, 'x', 300)).toBe('hi:x');
        expect(echo.connections).toBe(4);
        expect((await settled()).backends.dead?.status.error).toBeGreaterThanOrEqual(1);
      });
    });

    describe('metrics and access log', () => {
      it('counts requests by route and backend, by status class, with a latency histogram', async () => {
        const port = await listen();
        const a = await backend('a');
        plane.setPool('web', [member(a)]);
        plane.setPool('dead', [member({ name: 'gone', port: await freePort() })]);
        plane.setRoutes([route('web'), route('dead', { pathPrefix: '/dead' })]);
        for (const path of ['/', '/', '/', '/status/302', '/status/404', '/status/404', '/status/500'])
          await send(port, { path });
        expect((await send(port, { path: '/dead' })).status).toBe(502);
        const m = await settled();
        const web = m.routes.web;
        expect(web?.requests).toBe(7);
        expect(web?.status).toEqual({ '1xx': 0, '2xx': 3, '3xx': 1, '4xx': 2, '5xx': 1, error: 0 });
        expect(web?.inFlight).toBe(0);
        expect(web?.latency.count).toBe(7);
        expect(web?.latency.counts.reduce((x, y) => x + y, 0)).toBe(7);
        expect(web?.latency.counts).toHaveLength((web?.latency.bounds.length ?? 0) + 1);
        const p50 = quantile(web!.latency, 0.5);
        const p99 = quantile(web!.latency, 0.99);
        expect(p50).toBeGreaterThan(0);
        expect(p99).toBeGreaterThanOrEqual(p50);
        expect(m.backends.a).toMatchObject({ pool: 'web', requests: 7, inFlight: 0, ejected: false, draining: false });
        expect(m.backends.a?.status['4xx']).toBe(2);
        expect(m.routes.dead?.status.error).toBe(1);
        expect(m.backends.gone?.status.error).toBe(1);
        expect(m.listeners.web?.connections).toBe(8);
        expect(m.listeners.web?.bytesIn).toBeGreaterThan(0);
        expect(m.listeners.web?.bytesOut).toBeGreaterThan(0);
      });

      it('writes one access log line per request', async () => {
        const port = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web', { host: 'app.test' })]);
        await send(port, { method: 'POST', path: '/orders?token=s3cret', body: 'x' });
        await send(port, { headers: { host: 'other.test' }, path: '/nope' });
        await settled();
        expect(log).toHaveLength(2);
        expect(log[0]).toMatchObject({
          listener: 'web',
          route: 'web',
          backend: 'a',
          method: 'POST',
          path: '/orders',
          status: 200,
          client: '127.0.0.1',
          tries: 1,
        });
        expect(log[0]?.bytes).toBeGreaterThan(0);
        expect(log[0]?.durationMs).toBeGreaterThanOrEqual(0);
        expect(Number.isNaN(Date.parse(log[0]?.time ?? ''))).toBe(false);
        expect(JSON.stringify(log)).not.toContain('s3cret');
        expect(log[1]).toMatchObject({ route: null, backend: null, status: 404, path: '/nope', error: 'no-route' });
      });
    });

    describe('listeners', () => {
      it('adds and removes listeners', async () => {
        const web = await listen();
        plane.setPool('web', [member(await backend('a'))]);
        plane.setRoutes([route('web')]);
        expect(servedBy(await send(web))).toBe('a');
        await plane.setListeners([
          { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
          { name: 'two', protocol: 'http', host: '127.0.0.1', port: 0 },
        ]);
        expect(plane.address('web')?.port).toBe(web);
        const two = plane.address('two')?.port as number;
        expect(servedBy(await send(two))).toBe('a');
        await plane.setListeners([{ name: 'two', protocol: 'http', host: '127.0.0.1', port: 0 }]);
        expect(plane.address('web')).toBeUndefined();
        expect(await canConnect(web)).toBe(false);
        expect(servedBy(await send(two))).toBe('a');
        expect(Object.keys((await settled()).listeners)).toContain('two');
      });

      it('lets a request in flight on a removed listener finish, and accepts no new connections there', async () => {
        const web = await listen();
        const a = await backend('a');
        plane.setPool('web', [member(a)]);
        plane.setRoutes([route('web')]);
        const slow = send(web, { path: '/slow' });
        await a.holding(1);
        await plane.setListeners([]);
        expect(await canConnect(web)).toBe(false);
        a.release();
        expect((await slow).status).toBe(200);
      });

      it('names the listener that cannot bind, and rejects invalid listeners with every problem', async () => {
        const taken = net.createServer();
        await new Promise<void>((r) => taken.listen({ host: '127.0.0.1', port: 0 }, () => r()));
        cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
        const port = (taken.address() as net.AddressInfo).port;
        await expect(plane.setListeners([{ name: 'busy', protocol: 'http', host: '127.0.0.1', port }])).rejects.toThrow(
          /listener "busy" cannot bind 127\.0\.0\.1:\d+: the address is in use/,
        );
        await expect(
          plane.setListeners([
            { name: 'x', protocol: 'http', host: '127.0.0.1', port: 70000 },
            { name: 'x', protocol: 'http', host: '', port: 1 },
          ]),
        ).rejects.toThrow(/port must be[\s\S]*declared twice[\s\S]*no host/);
      });
    });
  });
}
