/**
 * The check runner against real servers the test starts: HTTP (status, body, latency), TCP,
 * dnsmasq, a Node TLS server with a certificate made here that expires in 3 days, exec, push,
 * and a target that alternates up and down. Time is a ManualClock: intervals pass in no time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPushToken, pushTokenHash } from '../../../src/observe/checks/push-token.js';
import { freePort } from '../../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { startDnsmasq, type Dnsmasq } from '../../dns/dig.js';
import { declared, runnerWorld } from './check-harness.js';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}
const close = (server: net.Server) => new Promise<void>((r) => server.close(() => r()));

describe('http checks', () => {
  let server: http.Server;
  let port: number;
  /** What the next requests get; `hold` delays the answer until released. */
  let answer = { status: 200, body: 'all good: version 1.2.3' };
  let hold: Promise<void> | undefined;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      void (hold ?? Promise.resolve()).then(() => {
        res.writeHead(answer.status, { 'content-type': 'text/plain' });
        res.end(answer.body);
      });
    });
    port = await listen(server);
  });
  afterAll(() => close(server));

  it('is up after `successes` good answers and down after `failures` wrong statuses, with the reason', async () => {
    const w = runnerWorld();
    answer = { status: 200, body: 'all good: version 1.2.3' };
    w.runner.configure([declared('web', { http: { url: `http://127.0.0.1:${port}/healthz` }, interval: '10s' })]);
    await w.step(0);
    expect(w.status('web')).toMatchObject({ state: 'pending', lastError: null, streak: 1 });
    await w.step(10_000);
    expect(w.status('web')).toMatchObject({ state: 'up', lastError: null });
    expect(w.transitions).toEqual([expect.objectContaining({ check: 'web', from: 'pending', to: 'up', error: null })]);
    answer = { status: 503, body: 'overloaded' };
    await w.step(10_000);
    await w.step(10_000);
    expect(w.status('web').state).toBe('up');
    await w.step(10_000);
    expect(w.status('web')).toMatchObject({ state: 'down', lastError: 'status 503, expected 200-399' });
    expect(w.transitions.at(-1)).toMatchObject({ from: 'up', to: 'down', error: 'status 503, expected 200-399' });
    expect(w.samples.filter((s) => s.labels.__name__ === 'groundwork_check_up').map((s) => s.value)).toEqual([
      1, 1, 1, 0,
    ]);
    expect(w.samples.find((s) => s.labels.__name__ === 'groundwork_check_latency_seconds')?.labels).toEqual({
      __name__: 'groundwork_check_latency_seconds',
      check: 'web',
      type: 'http',
    });
    w.runner.stop();
  });

  it('matches the body by substring and by regex', async () => {
    const w = runnerWorld();
    answer = { status: 200, body: 'all good: version 1.2.3' };
    const url = `http://127.0.0.1:${port}/`;
    w.runner.configure([
      declared('sub-ok', { http: { url, body: 'all good' }, successes: 1, failures: 1 }),
      declared('sub-bad', { http: { url, body: 'maintenance' }, successes: 1, failures: 1 }),
      declared('re-ok', { http: { url, body_regex: 'version \\d+\\.\\d+' }, successes: 1, failures: 1 }),
      declared('re-bad', { http: { url, body_regex: '^error' }, successes: 1, failures: 1 }),
      declared('status', { http: { url, status: '500-599' }, successes: 1, failures: 1 }),
    ]);
    await w.step(0);
    expect(w.status('sub-ok').state).toBe('up');
    expect(w.status('sub-bad')).toMatchObject({ state: 'down', lastError: 'body does not contain "maintenance"' });
    expect(w.status('re-ok').state).toBe('up');
    expect(w.status('re-bad')).toMatchObject({ state: 'down', lastError: 'body does not match /^error/' });
    expect(w.status('status')).toMatchObject({ state: 'down', lastError: 'status 200, expected 500-599' });
    w.runner.stop();
  });

  it('fails an answer slower than max_latency, and one slower than the timeout', async () => {
    const w = runnerWorld();
    answer = { status: 200, body: 'ok' };
    const url = `http://127.0.0.1:${port}/`;
    w.runner.configure([
      declared('slow', { http: { url, max_latency: '200ms' }, timeout: '1s', successes: 1, failures: 1 }),
    ]);
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    await w.clock.advance(0); // the run starts and waits for the held answer
    await w.clock.advance(350); // 350 ms of the runner's clock pass before the server answers
    release();
    await w.runner.idle();
    expect(w.status('slow')).toMatchObject({ state: 'down', lastError: 'answered in 350ms, over max_latency 200ms' });
    expect(w.status('slow').lastLatencyMs).toBe(350);
    // Held past the timeout: the run is cut at 1s.
    hold = new Promise((r) => (release = r));
    await w.clock.advance(30_000 - 350);
    await w.clock.advance(1000);
    await w.runner.idle();
    release();
    expect(w.status('slow').lastError).toMatch(/timed out/);
    hold = undefined;
    w.runner.stop();
  });
});

describe('scheduling', () => {
  it('runs at most `concurrency` checks at once, and every check still gets its run', async () => {
    let inFlight = 0;
    let most = 0;
    let served = 0;
    const server = http.createServer((_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Held a little so that runs would overlap if the runner let them.
      setTimeout(() => {
        inFlight--;
        served++;
        res.writeHead(200).end();
      }, 20);
    });
    const port = await listen(server);
    const w = runnerWorld({ concurrency: 2 });
    w.runner.configure(
      ['a', 'b', 'c', 'd', 'e'].map((n) =>
        declared(n, { http: { url: `http://127.0.0.1:${port}/${n}` }, successes: 1 }),
      ),
    );
    await w.step(0);
    expect(served).toBe(5);
    expect(most).toBe(2);
    expect(Object.values(w.list())).toEqual(['up', 'up', 'up', 'up', 'up']);
    w.runner.stop();
    await close(server);
  });

  it('a removed check stops; a changed one starts over with its kept status', async () => {
    const w = runnerWorld();
    const server = net.createServer((s) => s.end());
    const port = await listen(server);
    w.runner.configure([declared('x', { tcp: `127.0.0.1:${port}`, successes: 1, interval: '10s' })]);
    await w.step(0);
    expect(w.status('x').state).toBe('up');
    const since = w.status('x').since;
    w.runner.configure([declared('x', { tcp: `127.0.0.1:${port}`, successes: 1, interval: '20s' })]);
    await w.step(0);
    expect(w.status('x')).toMatchObject({ state: 'up', since });
    w.runner.configure([]);
    expect(w.runner.list()).toEqual([]);
    expect(w.clock.pending).toBe(0);
    w.runner.stop();
    await close(server);
  });
});

describe('tcp, exec and dns checks', () => {
  let dnsmasq: Dnsmasq;
  const dir = makeTempDir('checks-exec');
  beforeAll(async () => {
    dnsmasq = await startDnsmasq(await freePort(), 'lab.test', { 'nas.lab.test': '10.1.2.3' });
  });
  afterAll(async () => {
    await dnsmasq?.stop();
    removeTempDir(dir);
  });

  it('tcp: up while the port accepts, down once it is closed', async () => {
    const server = net.createServer((s) => s.end());
    const port = await listen(server);
    const w = runnerWorld();
    w.runner.configure([declared('nas', { tcp: `127.0.0.1:${port}`, interval: '5s', failures: 1, successes: 1 })]);
    await w.step(0);
    expect(w.status('nas').state).toBe('up');
    await close(server);
    await w.step(5000);
    expect(w.status('nas')).toMatchObject({ state: 'down' });
    expect(w.status('nas').lastError).toMatch(/^connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    w.runner.stop();
  });

  it('exec: exit 0 is up; another exit is down with the output; arguments reach the program unparsed', async () => {
    process.env.GROUNDWORK_SECRET_PROBE = 'planted-secret-value';
    const w = runnerWorld();
    const marker = path.join(dir, 'x; touch injected');
    w.runner.configure([
      declared('ok', { exec: { command: ['test', '-d', dir] }, successes: 1, failures: 1 }),
      declared('bad', { exec: { shell: 'echo disk is full >&2; exit 3' }, successes: 1, failures: 1 }),
      // A shell metacharacter in an argv argument is just a character: nothing runs `touch`.
      declared('argv', { exec: { command: ['touch', marker] }, successes: 1, failures: 1 }),
      // The daemon's environment (secrets come through it) does not reach check commands.
      declared('env', {
        exec: { shell: 'test -z "$GROUNDWORK_SECRET_PROBE" && test -n "$PATH"' },
        successes: 1,
        failures: 1,
      }),
    ]);
    await w.step(0);
    expect(w.status('ok').state).toBe('up');
    expect(w.status('bad')).toMatchObject({ state: 'down', lastError: '/bin/sh exited with 3: disk is full' });
    expect(w.status('argv').state).toBe('up');
    expect(w.status('env')).toMatchObject({ state: 'up', lastError: null });
    expect(readFileSync(marker, 'utf8')).toBe('');
    expect(() => readFileSync(path.join(dir, 'injected'))).toThrow();
    delete process.env.GROUNDWORK_SECRET_PROBE;
    w.runner.stop();
  });

  it('dns: asks the given resolver and compares the answer', async () => {
    const w = runnerWorld();
    const server = `127.0.0.1:${dnsmasq.port}`;
    w.runner.configure([
      declared('nas', { dns: { name: 'nas.lab.test', server, expect: ['10.1.2.3'] }, successes: 1, failures: 1 }),
      declared('moved', { dns: { name: 'nas.lab.test', server, expect: ['10.9.9.9'] }, successes: 1, failures: 1 }),
      declared('gone', { dns: { name: 'nope.lab.test', server }, successes: 1, failures: 1 }),
    ]);
    await w.step(0);
    expect(w.status('nas').state).toBe('up');
    expect(w.status('moved')).toMatchObject({
      state: 'down',
      lastError: 'nas.lab.test A answered 10.1.2.3; expected 10.9.9.9',
    });
    expect(w.status('gone').state).toBe('down');
    expect(w.status('gone').lastError).toMatch(new RegExp(`^nope\\.lab\\.test A at 127\\.0\\.0\\.1:${dnsmasq.port}: `));
    w.runner.stop();
  });
});

describe('tls checks', () => {
  const dir = makeTempDir('checks-tls');
  let server: tls.Server;
  let port: number;
  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '3',
        '-subj',
        '/CN=lab.test',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    server = tls.createServer(
      { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) },
      (s) => s.end(),
    );
    port = await listen(server);
  });
  afterAll(async () => {
    await close(server);
    removeTempDir(dir);
  });

  it('reports the days left of a certificate that expires in 3 days, and fails under min_days', async () => {
    // The runner's clock reads wall time for certificate dates: start it now.
    const w = runnerWorld({ wallStart: new Date() });
    const address = `127.0.0.1:${port}`;
    w.runner.configure([
      declared('soon', {
        tls: { address, servername: 'lab.test', verify: false, min_days: 14 },
        successes: 1,
        failures: 1,
      }),
      declared('fine', {
        tls: { address, servername: 'lab.test', verify: false, min_days: 2 },
        successes: 1,
        failures: 1,
      }),
      declared('trusted', { tls: { address, servername: 'lab.test' }, successes: 1, failures: 1 }),
    ]);
    await w.step(0);
    const soon = w.status('soon');
    expect(soon.tlsDaysLeft).toBeGreaterThanOrEqual(2);
    expect(soon.tlsDaysLeft).toBeLessThanOrEqual(3);
    expect(soon.state).toBe('down');
    expect(soon.lastError).toMatch(new RegExp(`^certificate of ${address} expires in [\\d.]+ days \\(min_days 14\\)$`));
    expect(w.status('fine')).toMatchObject({ state: 'up', lastError: null });
    expect(w.status('trusted')).toMatchObject({ state: 'down' });
    expect(w.status('trusted').lastError).toMatch(/not trusted: .*(SELF_SIGNED|self.signed)/i);
    const sample = w.samples.find(
      (s) => s.labels.__name__ === 'groundwork_check_tls_days_left' && s.labels.check === 'soon',
    );
    expect(sample?.value).toBeCloseTo(soon.tlsDaysLeft ?? -1, 1);
    w.runner.stop();
  });
});

describe('push checks', () => {
  it('pings keep it up; no ping within interval + grace takes it down; an unknown token finds nothing', async () => {
    const w = runnerWorld();
    const token = newPushToken();
    w.runner.configure([
      declared('backup', { push: { grace: '30s' }, interval: '1m' }, { pushTokenHash: pushTokenHash(token) }),
    ]);
    expect(w.runner.push('not-the-token')).toBe(false);
    expect(w.runner.push(token)).toBe(true);
    expect(w.status('backup').state).toBe('up');
    for (let i = 0; i < 5; i++) {
      await w.step(60_000);
      expect(w.runner.push(token)).toBe(true);
    }
    expect(w.status('backup').state).toBe('up');
    await w.step(89_000); // interval + grace minus a second since the last ping
    expect(w.status('backup').state).toBe('up');
    await w.step(1000);
    expect(w.status('backup')).toMatchObject({
      state: 'down',
      lastError: 'no ping for 90s (expected every 1m, grace 30s)',
    });
    expect(w.transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['pending>up', 'up>down']);
    // A job reporting its own failure counts as one.
    expect(w.runner.push(token)).toBe(true);
    expect(w.status('backup').state).toBe('up');
    w.runner.push(token, { ok: false, message: 'pg_dump failed' });
    expect(w.status('backup')).toMatchObject({
      state: 'down',
      lastError: 'the job reported a failure: pg_dump failed',
    });
    w.runner.stop();
  });

  it('a push check that never got a ping goes down after interval + grace', async () => {
    const w = runnerWorld();
    w.runner.configure([declared('cron', { push: {}, interval: '10s' }, { pushTokenHash: pushTokenHash('t') })]);
    await w.step(19_999);
    expect(w.status('cron').state).toBe('pending');
    await w.step(1);
    expect(w.status('cron')).toMatchObject({ state: 'down', lastError: 'no ping yet (expected every 10s, grace 10s)' });
    w.runner.stop();
  });
});

describe('a target that alternates up and down every interval', () => {
  let server: http.Server;
  let port: number;
  let mode: 'up' | 'down' | 'alternate' = 'up';
  /** Requests per path: each check has its own path, so each sees its own alternation. */
  const n = new Map<string, number>();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const k = (n.get(req.url ?? '') ?? 0) + 1;
      n.set(req.url ?? '', k);
      const ok = mode === 'up' || (mode === 'alternate' && k % 2 === 0);
      res.writeHead(ok ? 200 : 500).end();
    });
    port = await listen(server);
  });
  afterAll(() => close(server));

  it('never changes state with failures 3 and successes 2; does with failures 1 and successes 1', async () => {
    const w = runnerWorld();
    const url = `http://127.0.0.1:${port}/`;
    w.runner.configure([
      declared('steady', { http: { url }, interval: '10s' }),
      declared('twitchy', { http: { url: `${url}?b` }, interval: '10s', failures: 1, successes: 1, timeout: '5s' }),
    ]);
    // Up first: two runs.
    mode = 'up';
    await w.step(0);
    await w.step(10_000);
    expect(w.status('steady').state).toBe('up');
    const before = w.transitions.filter((t) => t.check === 'steady').length;
    mode = 'alternate';
    const states: string[] = [];
    for (let i = 0; i < 30; i++) {
      await w.step(10_000);
      states.push(w.status('steady').state);
    }
    expect(new Set(states)).toEqual(new Set(['up']));
    expect(w.transitions.filter((t) => t.check === 'steady')).toHaveLength(before);
    // Three failures in a row do take it down, once; alternating again keeps it down.
    mode = 'down';
    for (let i = 0; i < 3; i++) await w.step(10_000);
    expect(w.status('steady').state).toBe('down');
    mode = 'alternate';
    for (let i = 0; i < 30; i++) {
      await w.step(10_000);
      expect(w.status('steady').state).toBe('down');
    }
    expect(w.transitions.filter((t) => t.check === 'steady').map((t) => t.to)).toEqual(['up', 'down']);
    // The twitchy one follows every answer, as its thresholds say.
    expect(w.transitions.filter((t) => t.check === 'twitchy').length).toBeGreaterThan(20);
    w.runner.stop();
  });
});
