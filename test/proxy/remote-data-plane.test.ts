/**
 * The data plane in its own process (src/proxy/process/): the shared DataPlane contract through
 * RemoteDataPlane and a real data-plane process per test (compiled, from dist/), then what only
 * it has: adoption with the configuration read back, restart after the process dies, the
 * control protocol's answers to bad requests, replacement of another version.
 */
import { cpSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ControlConnection } from '../../src/proxy/process/control-client.js';
import { readPidFile, socketPathOf, stopDataPlane } from '../../src/proxy/process/launcher.js';
import { RemoteDataPlane } from '../../src/proxy/process/remote-data-plane.js';
import { Duration } from '../../src/util/duration.js';
import { ROOT, ensureBuilt } from '../helpers/dist.js';
import { isAlive } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { dataPlaneContract, route } from './data-plane.contract.js';
import { startBackend, type AnswerBody, type TestBackend } from './helpers/backends.js';
import { send } from './helpers/client.js';

ensureBuilt();
const ENTRY = path.join(ROOT, 'dist', 'proxy', 'process', 'main.js');
/** What the contract counts on: ejections of 500 ms (EJECT_FOR), timers checked every 20 ms. */
const CONTRACT_ARGS = ['--eject-for', '500ms', '--timer-resolution', '20ms'];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) {
    // A test that failed half-way may have left its process: stop it before its directory goes.
    await stopDataPlane(d);
    removeTempDir(d);
  }
});

function stateDir(): string {
  const d = makeTempDir('dataplane');
  dirs.push(d);
  return d;
}

dataPlaneContract(
  'remote (a data-plane process)',
  (env) =>
    new RemoteDataPlane({
      launch: { stateDir: stateDir(), entry: ENTRY, args: CONTRACT_ARGS },
      accessLog: env.accessLog,
    }),
  { noManualClock: 'the data plane runs its timers in its own process, on the system clock' },
);

describe('RemoteDataPlane and the data-plane process', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function backend(name: string): Promise<TestBackend> {
    const b = await startBackend(name);
    cleanups.push(() => b.close());
    return b;
  }

  function served(port: number): Promise<string> {
    return send(port).then((a) => {
      expect(a.status, a.body).toBe(200);
      return (JSON.parse(a.body) as AnswerBody).backend;
    });
  }

  async function configured(dir: string): Promise<{ plane: RemoteDataPlane; port: number }> {
    const { plane, found } = await RemoteDataPlane.attach({ launch: { stateDir: dir, entry: ENTRY } });
    cleanups.push(() => plane.close());
    expect(found.kind).toBe('none');
    const a = await backend('a');
    plane.setPool('web', [{ id: 'a', host: '127.0.0.1', port: a.port, weight: 1 }]);
    plane.setRoutes([route('web')]);
    await plane.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }]);
    return { plane, port: plane.address('web')?.port as number };
  }

  it('starts the process on the first listeners: socket and pid file mode 0600, its own session', async () => {
    const dir = stateDir();
    const { plane, port } = await configured(dir);
    expect(await served(port)).toBe('a');
    const pid = plane.pid as number;
    expect(readPidFile(dir)?.pid).toBe(pid);
    expect(statSync(socketPathOf(dir)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'dataplane.pid')).mode & 0o777).toBe(0o600);
    // Detached: its own session and process group, so a signal to the daemon's group misses it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(f[3])).toBe(pid); // session id
    await plane.close();
    expect(isAlive(pid)).toBe(false);
  });

  it('a detached client leaves it serving; the next one adopts it with its configuration, and nothing is re-bound', async () => {
    const dir = stateDir();
    const { plane, port } = await configured(dir);
    const pid = plane.pid as number;
    await plane.detach();
    expect(await served(port)).toBe('a');
    const { plane: next, found } = await RemoteDataPlane.attach({ launch: { stateDir: dir, entry: ENTRY } });
    cleanups.push(() => next.close());
    expect(found).toMatchObject({ kind: 'adopted', hello: { pid }, listeners: 1, routes: 1, pools: 1 });
    expect(next.address('web')).toEqual({ host: '127.0.0.1', port });
    const before = (await next.refreshMetrics()).listeners.web?.connections ?? 0;
    // The same configuration again (what a restarted daemon pushes): the listener stays bound.
    await next.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }]);
    expect(next.address('web')?.port).toBe(port);
    expect(await served(port)).toBe('a');
    expect((await next.refreshMetrics()).listeners.web?.connections).toBe(before + 1);
  });

  it('starts a killed process again and gives it the whole configuration (listener ports kept)', async () => {
    const dir = stateDir();
    const { plane, port } = await configured(dir);
    const b = await backend('b');
    plane.setPool('web', [{ id: 'b', host: '127.0.0.1', port: b.port, weight: 1 }]);
    const first = plane.pid as number;
    process.kill(first, 'SIGKILL');
    await waitFor(() => plane.restarts === 1 && plane.pid !== first, { what: 'the data plane started again' });
    await waitFor(async () => (await send(port).catch(() => undefined))?.status === 200, {
      what: 'the listener answering again',
    });
    expect(await served(port)).toBe('b');
    const config = await readConfig(dir);
    expect(Object.keys(config.pools)).toEqual(['web']);
    expect(config.routes.map((r) => r.id)).toEqual(['web']);
  });

  it("counters go on across a killed process: the new one's numbers start from the old one's totals", async () => {
    const dir = stateDir();
    const { plane, port } = await configured(dir);
    let ok = 0;
    const serve = async () => {
      const a = await send(port).catch(() => undefined);
      if (a?.status === 200) ok++;
      return a?.status === 200;
    };
    for (let i = 0; i < 5; i++) expect(await serve()).toBe(true);
    const before = await plane.refreshMetrics();
    expect(before.routes.web?.requests).toBe(5);
    expect(before.listeners.web?.connections).toBe(5);
    const first = plane.pid as number;
    process.kill(first, 'SIGKILL');
    await waitFor(() => plane.restarts === 1 && plane.pid !== first, { what: 'the data plane started again' });
    // Between the two processes: the old totals, nothing in flight.
    expect(plane.metrics().routes.web).toMatchObject({ requests: 5, inFlight: 0 });
    await waitFor(serve, { what: 'the listener answering again' });
    for (let i = 0; i < 3; i++) expect(await serve()).toBe(true);
    const after = await plane.refreshMetrics();
    const web = after.routes.web;
    expect(web?.requests).toBe(ok);
    expect(web?.status['2xx']).toBe(ok);
    expect(web?.latency.count).toBe(ok);
    expect(web?.latency.counts.reduce((a, n) => a + n, 0)).toBe(ok);
    expect(web?.inFlight).toBe(0);
    expect(after.backends.a?.requests).toBe(ok);
    expect(after.listeners.web?.connections).toBe(ok);
    expect(after.listeners.web?.bytesIn).toBeGreaterThan(before.listeners.web?.bytesIn ?? 0);
  });

  it('kills a process that hangs (alive, not answering) and starts a new one with the configuration', async () => {
    const dir = stateDir();
    const liveness = { every: Duration.milliseconds(500), misses: 3 };
    const { plane } = await RemoteDataPlane.attach({ launch: { stateDir: dir, entry: ENTRY }, liveness });
    cleanups.push(() => plane.close());
    const a = await backend('a');
    plane.setPool('web', [{ id: 'a', host: '127.0.0.1', port: a.port, weight: 1 }]);
    plane.setRoutes([route('web')]);
    await plane.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }]);
    const port = plane.address('web')?.port as number;
    const first = plane.pid as number;
    // A hang the kernel makes for us: the process keeps its sockets but runs nothing.
    process.kill(first, 'SIGSTOP');
    cleanups.push(() => {
      if (isAlive(first)) process.kill(first, 'SIGKILL');
    });
    await waitFor(() => plane.hangKills >= 1 && plane.restarts >= 1 && plane.pid !== first, {
      what: 'the hung data plane killed and started again',
    });
    await waitFor(() => !isAlive(first), { what: `the hung process ${first} to be gone` });
    await waitFor(async () => (await send(port).catch(() => undefined))?.status === 200, {
      what: 'the listener answering again on the same port',
    });
    expect(await served(port)).toBe('a');
  });

  it('a daemon whose own loop is blocked past a hello deadline does not blame a healthy data plane', async () => {
    const dir = stateDir();
    const every = 400;
    const { plane } = await RemoteDataPlane.attach({
      launch: { stateDir: dir, entry: ENTRY },
      liveness: { every: Duration.milliseconds(every), misses: 3 },
    });
    cleanups.push(() => plane.close());
    const a = await backend('a');
    plane.setPool('web', [{ id: 'a', host: '127.0.0.1', port: a.port, weight: 1 }]);
    plane.setRoutes([route('web')]);
    await plane.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }]);
    const port = plane.address('web')?.port as number;
    const pid = plane.pid as number;
    // Blocks this (the daemon's) event loop for 1.25 × the probe period, over and over, from
    // the check phase: each block starts right after a probe sent its hello, the answer waits
    // in the socket, and the hello's deadline (a timer) comes due while the loop is blocked.
    // Late by a quarter period only: under the old rule (late means > 1.5 × the period) every
    // one of those counted as a miss, and the third killed a process that had answered.
    const blocker = new Int32Array(new SharedArrayBuffer(4));
    const blocks = 8;
    for (let i = 0; i < blocks; i++) {
      Atomics.wait(blocker, 0, 0, every * 1.25);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(plane.hangKills).toBe(0);
    expect(plane.pid).toBe(pid);
    expect(isAlive(pid)).toBe(true);
    expect(await served(port)).toBe('a');
    // The accounting still catches a real hang afterwards.
    process.kill(pid, 'SIGSTOP');
    cleanups.push(() => {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    await waitFor(() => plane.hangKills === 1 && plane.pid !== pid, { what: 'the hung data plane replaced' });
  });

  it('a client that finds a hung process at attach kills it rather than failing', async () => {
    const dir = stateDir();
    const { plane } = await configured(dir);
    const first = plane.pid as number;
    await plane.detach();
    process.kill(first, 'SIGSTOP');
    cleanups.push(() => {
      if (isAlive(first)) process.kill(first, 'SIGKILL');
    });
    const { plane: next, found } = await RemoteDataPlane.attach({
      launch: { stateDir: dir, entry: ENTRY },
      liveness: { every: Duration.milliseconds(300), misses: 3 },
    });
    cleanups.push(() => next.close());
    expect(found.kind).toBe('none');
    expect(next.hangKills).toBe(1);
    expect(isAlive(first)).toBe(false);
  });

  it('answers bad requests with an error naming the problem, and keeps serving', async () => {
    const dir = stateDir();
    const { port } = await configured(dir);
    const c = await ControlConnection.connect(socketPathOf(dir));
    cleanups.push(() => c.close());
    await expect(c.request('nope' as never, {} as never)).rejects.toThrow(/unknown op "nope"; one of hello/);
    await expect(c.request('set-pool', { pool: 'web', backends: 'x' as never })).rejects.toThrow(
      /set-pool needs "pool" \(a name\) and "backends" \(a list\)/,
    );
    await expect(
      c.request('set-routes', { routes: [{ ...route('web'), connectTimeout: 'soon' }] as never }),
    ).rejects.toThrow(/"soon" is not a duration/);
    await expect(c.request('drain', { backend: 'a', timeout: 'soon' })).rejects.toThrow(/not a duration/);
    expect(await served(port)).toBe('a');
  });

  it('checks routes and pools at the caller, like the in-process proxy', async () => {
    const dir = stateDir();
    const { plane } = await configured(dir);
    expect(() => plane.setRoutes([route('x', { pathPrefix: 'nope' })])).toThrow(/must start with \//);
    expect(() => plane.setPool('other', [{ id: 'a', host: '127.0.0.1', port: 1, weight: 1 }])).toThrow(
      /already in pool "web"/,
    );
  });

  it('replaces a running data plane of another version, carrying its configuration over', async () => {
    const dir = stateDir();
    const { plane, port } = await configured(dir);
    const old = plane.pid as number;
    await plane.detach();
    // The same code under another version: a copy of dist/proxy with one more file.
    const copy = makeTempDir('dataplane-build');
    dirs.push(copy);
    for (const part of ['proxy', 'dns', 'tls', 'util'])
      cpSync(path.join(ROOT, 'dist', part), path.join(copy, 'dist', part), { recursive: true });
    cpSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    // Its dependencies (dns-packet for the DNS server), as an installed copy would have them.
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    writeFileSync(path.join(copy, 'dist', 'proxy', 'upgrade-marker.js'), 'export {};\n');
    const { plane: next, found } = await RemoteDataPlane.attach({
      launch: { stateDir: dir, entry: path.join(copy, 'dist', 'proxy', 'process', 'main.js') },
    });
    cleanups.push(() => next.close());
    expect(found.kind).toBe('replaced');
    expect(isAlive(old)).toBe(false);
    expect(next.pid).not.toBe(old);
    await waitFor(async () => (await send(port).catch(() => undefined))?.status === 200, {
      what: 'the new data plane serving the same listener',
    });
    expect(await served(port)).toBe('a');
  });
});

async function readConfig(dir: string) {
  const c = await ControlConnection.connect(socketPathOf(dir));
  try {
    return await c.request('get-config', {});
  } finally {
    c.close();
  }
}
