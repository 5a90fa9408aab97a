/**
 * What the daemon tests share: a tiny HTTP service script, stack files, a daemon run in-process
 * (`new Daemon(...)`) or as a separate OS process (`node dist/cli/main.js up`), a small API
 * client, /proc readings (CPU ticks, RSS) and the teardown that leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Daemon, daemonInfoFile, tokenFile, type DaemonInfo } from '../../src/daemon/daemon.js';
import type { ApplyEvent } from '../../src/engine/apply.js';
import type { DataPlane } from '../../src/proxy/data-plane.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import type { Duration } from '../../src/util/duration.js';
import { silentLogger } from '../../src/util/logger.js';
import { ensureBuilt } from '../helpers/dist.js';
import { settlesWithin, TeardownFailures, type StackFootprint } from '../helpers/leftovers.js';
import { isAlive } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

export type Status = Awaited<ReturnType<Daemon['status']>>;
export type ServiceStatus = Status['services'][number];
export type InstanceStatus = ServiceStatus['instances'][number];
export interface EventRow {
  id: number;
  at: string;
  address: string;
  instance: string;
  type: string;
  reason: string;
}

export { SERVICE_SCRIPT, nodeService, writeServiceScript } from '../helpers/service-script.js';
export { writeStack, type ServiceConfig } from '../helpers/stack-file.js';

/** The environment a daemon or CLI run gets: nothing from the developer's shell that could steer it. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: '1', GROUNDWORK_AUTHOR: 'tester' };
  for (const k of ['PATH', 'HOME', 'LANG', 'TZ']) if (process.env[k]) env[k] = process.env[k] as string;
  return { ...env, ...extra };
}

// ---------------------------------------------------------------- HTTP API client

export interface ApiAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface RequestOptions {
  /** undefined: no Authorization header. */
  token?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export function request(url: string, method: string, urlPath: string, opts: RequestOptions = {}): Promise<ApiAnswer> {
  const u = new URL(urlPath, url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { connection: 'close', ...(opts.headers ?? {}) };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(opts.body);
    }
    const req = http.request(u, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    const timeout = opts.timeoutMs ?? 30_000;
    req.setTimeout(timeout, () => req.destroy(new Error(`${method} ${urlPath}: no answer within ${timeout} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export class Api {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async json<T>(method: 'GET' | 'POST', urlPath: string, body?: unknown): Promise<T> {
    const r = await request(this.url, method, urlPath, {
      token: this.token,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (r.status !== 200) throw new Error(`${method} ${urlPath} answered ${r.status}: ${r.text}`);
    return JSON.parse(r.text) as T;
  }

  /** A streaming (NDJSON) route, read to its end. */
  async lines(method: 'GET' | 'POST', urlPath: string, body?: unknown, timeoutMs = 120_000): Promise<unknown[]> {
    const r = await request(this.url, method, urlPath, {
      token: this.token,
      body: JSON.stringify(body ?? {}),
      timeoutMs,
    });
    if (r.status !== 200) throw new Error(`${method} ${urlPath} answered ${r.status}: ${r.text}`);
    return r.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as unknown);
  }

  status(): Promise<Status> {
    return this.json<Status>('GET', '/v1/status');
  }
  events(service?: string): Promise<EventRow[]> {
    return this.json<EventRow[]>('GET', `/v1/events?limit=10000${service ? `&service=${service}` : ''}`);
  }

  async service(name: string): Promise<ServiceStatus> {
    const s = (await this.status()).services.find((x) => x.name === name);
    if (!s) throw new Error(`status has no service ${name}`);
    return s;
  }

  async instance(name: string, index: number): Promise<InstanceStatus> {
    const i = (await this.service(name)).instances.find((x) => x.index === index);
    if (!i) throw new Error(`status has no instance ${name}/${index}${this.context ? `; ${this.context()}` : ''}`);
    return i;
  }

  /** More to say when something is missing (e.g. why the apply at start failed). */
  context: (() => string) | undefined;

  /** Waits until every instance of every named service is healthy (and there are `replicas` of them). */
  async waitAllHealthy(names: string[], timeoutMs = 30_000): Promise<Status> {
    return waitFor(
      async () => {
        const s = await this.status();
        const ok = names.every((n) => {
          const svc = s.services.find((x) => x.name === n);
          return (
            svc !== undefined &&
            svc.instances.length === svc.replicas &&
            svc.instances.every((i) => i.state === 'healthy' && i.pid !== null)
          );
        });
        return ok ? s : undefined;
      },
      {
        what: `all instances of ${names.join(', ')} healthy${this.context ? ` (${this.context()})` : ''}`,
        timeoutMs,
        intervalMs: 50,
      },
    );
  }

  /**
   * Stops every service (the daemon keeps running unless exit). Throws, saying why, when the
   * answer is not 200, the stream has no result line, or it takes longer than `timeoutMs`.
   */
  async down(exit: boolean, timeoutMs = 30_000): Promise<true> {
    const lines = await this.lines('POST', '/v1/down', { exit }, timeoutMs);
    const error = lines.find((l) => (l as { type?: string }).type === 'error');
    if (error) throw new Error(`POST /v1/down streamed an error: ${JSON.stringify(error)}`);
    const result = lines.find((l) => (l as { type?: string }).type === 'result');
    if (!result) throw new Error(`POST /v1/down ended without a result line: ${JSON.stringify(lines)}`);
    const failed = (result as { ok?: unknown }).ok === false;
    if (failed) throw new Error(`POST /v1/down reported a failure: ${JSON.stringify(result)}`);
    return true;
  }
}

// ---------------------------------------------------------------- in-process daemon

export interface InProcessDaemon {
  daemon: Daemon;
  api: Api;
  applyEvents: ApplyEvent[];
  /**
   * POST /v1/down (every service stops), daemon.stop(), then a sweep for anything of the test
   * left running (processes, containers). Throws, naming each failure, when down did not
   * complete, stop() did not finish, or anything was left; the sweep runs in every case.
   */
  close(): Promise<Teardown>;
}

/** What a teardown that did not throw saw: always complete and clean (kept for the callers that assert it). */
export interface Teardown {
  downCompleted: true;
  leftovers: 0;
}

/** How long daemon.stop() may take before teardown calls it hung. */
const STOP_DEADLINE_MS = 15_000;

/** The traces a test's stack in `dir` leaves: its directory and state directory (and any markers). */
export function footprintOf(dir: string, markers: string[] = []): StackFootprint {
  return { dir, stateDir: path.join(dir, '.groundwork'), markers };
}

export async function startInProcess(
  dir: string,
  opts: {
    clock?: Clock;
    env?: Record<string, string>;
    dataPlane?: DataPlane;
    /** How often metrics are sampled (the daemon's default, 15 s, when absent). */
    metricsInterval?: Duration;
    /** close() sends down with exit: true, so a data plane in its own process exits too. */
    exitOnDown?: boolean;
  } = {},
): Promise<InProcessDaemon> {
  const stateDir = path.join(dir, '.groundwork');
  const applyEvents: ApplyEvent[] = [];
  const daemon = new Daemon({
    stackFile: path.join(dir, 'groundwork.yaml'),
    stateDir,
    host: '127.0.0.1',
    port: 0,
    vars: {},
    env: cleanEnv(opts.env),
    clock: opts.clock ?? systemClock,
    logger: silentLogger,
    applyOnStart: true,
    onApplyEvent: (e) => applyEvents.push(e),
    ...(opts.dataPlane ? { dataPlane: opts.dataPlane } : {}),
    ...(opts.metricsInterval ? { metricsInterval: opts.metricsInterval } : {}),
  });
  await daemon.start();
  const api = new Api(daemon.url, readFileSync(tokenFile(stateDir), 'utf8').trim());
  api.context = () => {
    const failed = applyEvents.flatMap((e) =>
      e.type === 'step-end' && e.status === 'failed' ? [`${e.address}: ${e.error ?? ''}`] : [],
    );
    const other = applyEvents.flatMap((e) => (e.type === 'progress' && e.address === 'stack' ? [e.message] : []));
    return failed.length || other.length
      ? `the apply at start failed: ${[...failed, ...other].join('; ')}`
      : 'the apply at start succeeded';
  };
  let closed = false;
  return {
    daemon,
    api,
    applyEvents,
    async close() {
      if (closed) return { downCompleted: true, leftovers: 0 };
      closed = true;
      const t = new TeardownFailures(`the in-process daemon in ${dir}`);
      await t.step(`POST /v1/down${opts.exitOnDown ? ' {exit: true}' : ''}`, () => api.down(opts.exitOnDown ?? false));
      // stop() waits for queued engine operations, which a hung down never finishes: bounded, and a failure.
      await t.step('daemon.stop()', () => settlesWithin(daemon.stop(), STOP_DEADLINE_MS, 'daemon.stop()'));
      await t.sweep(footprintOf(dir), 'down and stop');
      t.throwIfAny();
      return { downCompleted: true, leftovers: 0 };
    },
  };
}

// ---------------------------------------------------------------- daemon as an OS process

export interface SpawnedDaemon {
  child: ChildProcess;
  pid: number;
  url: string;
  token: string;
  api: Api;
  /** stdout and stderr as they interleaved. */
  output(): string;
  /** stdout alone (with --json: one JSON value per line). */
  stdout(): string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
}

let built: string | undefined;

/** dist/cli/main.js, built once per test file (src/ changes under other engineers' hands all the time). */
export function cliMain(): string {
  built ??= ensureBuilt();
  return built;
}

/** `node dist/cli/main.js up --listen ... --json` in `dir`; resolves when it printed its ready line. */
export async function spawnUp(
  dir: string,
  opts: { listen?: string | null; env?: Record<string, string>; args?: string[] } = {},
): Promise<SpawnedDaemon> {
  const listen =
    opts.listen === undefined ? ['--listen', '127.0.0.1:0'] : opts.listen === null ? [] : ['--listen', opts.listen];
  const child = spawn(process.execPath, [cliMain(), 'up', ...listen, '--json', ...(opts.args ?? [])], {
    cwd: dir,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    stdout += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  let ended: number | string | undefined;
  void exited.then((c) => {
    ended = c;
  });
  const ready = await waitFor(
    () => {
      if (ended !== undefined) throw new Error(`groundwork up exited (${ended}) before it was ready:\n${out}`);
      const line = out.split('\n').find((l) => l.startsWith('{"type":"ready"'));
      return line ? (JSON.parse(line) as { url: string; pid: number }) : undefined;
    },
    { what: `groundwork up in ${dir} to be ready`, timeoutMs: 60_000 },
  ).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n--- output ---\n${out}`);
  });
  const stateDir = path.join(dir, '.groundwork');
  const token = readFileSync(tokenFile(stateDir), 'utf8').trim();
  return {
    child,
    pid: ready.pid,
    url: ready.url,
    token,
    api: new Api(ready.url, token),
    output: () => out,
    stdout: () => stdout,
    exited,
  };
}

/**
 * Stops a spawned daemon with `POST /v1/down {exit: true}` and waits for it to exit, then sweeps
 * the directory. Throws, naming each failure, when down did not complete, the daemon did not exit
 * with 0, or anything of the test was left (the sweep kills it first). A daemon that is no longer
 * alive (the test killed it) is not asked; what it ran must then be gone by other means.
 */
export async function teardownSpawned(
  dir: string,
  d: SpawnedDaemon | undefined,
  markers: string[] = [],
): Promise<Teardown> {
  const t = new TeardownFailures(`groundwork up in ${dir}`);
  if (d && isAlive(d.pid)) {
    await t.step('POST /v1/down {exit: true}', () => d.api.down(true));
    await t.step('the daemon exiting after down', async () => {
      const code = await settlesWithin(d.exited, STOP_DEADLINE_MS, `the daemon (pid ${d.pid}) exiting`);
      if (code !== 0) throw new Error(`it exited with ${code}, not 0:\n${d.output().slice(-2000)}`);
    });
    if (isAlive(d.pid)) d.child.kill('SIGKILL');
  }
  await t.sweep(footprintOf(dir, markers), 'the daemon was stopped');
  t.throwIfAny();
  return { downCompleted: true, leftovers: 0 };
}

export function readDaemonInfo(dir: string): DaemonInfo | undefined {
  const f = daemonInfoFile(path.join(dir, '.groundwork'));
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as DaemonInfo;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- /proc readings

const CLK_TCK = 100;

/**
 * CPU seconds of a process plus its waited-for children (utime + stime + cutime + cstime): for
 * the daemon that includes the shims it reaped and, through them, the service processes.
 */
export function cpuSecondsWithChildren(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the comm field: state is f[0], utime f[11], stime f[12], cutime f[13], cstime f[14].
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** VmRSS of a process in bytes, or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A clock that can be moved forward, for the supervisor's notion of how long an instance ran. */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}
