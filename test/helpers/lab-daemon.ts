/**
 * What the deploy tests share: a daemon run in-process with the built-in proxy (`new Daemon({
 * dataPlane: new NodeProxy() })`) on a stack whose `web` service answers through a proxy
 * listener; a service script whose every release can be made good or bad in one way; and a light
 * load that records, per request, when it was sent, how it ended and which build answered.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { StackConfig } from '../../src/config/schema.js';
import { Daemon, tokenFile } from '../../src/daemon/daemon.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { Api, cleanEnv, footprintOf } from '../daemon/daemon-harness.js';
import { settlesWithin, TeardownFailures } from './leftovers.js';
import { writeStack, type ServiceConfig } from './stack-file.js';

export { freePort } from './ports.js';

/** Header naming the build that answered (the marker written into server.mjs). */
export const BUILD_HEADER = 'x-build';

/**
 * How a release of server.mjs behaves:
 * - good: answers `BUILD GREETING` on every path, ok on /healthz
 * - exit-at-start: exits with 3 before listening
 * - health-503: serves, but /healthz answers 503
 * - crash-after-ready: passes its first health check, exits with 4 `crashAfterMs` later
 * - answer-500: passes health, answers 500 to every other request
 */
export const MODES = ['good', 'exit-at-start', 'health-503', 'crash-after-ready', 'answer-500'] as const;
export type Mode = (typeof MODES)[number];

export function serverScript(build: string, mode: Mode, crashAfterMs = 100): string {
  return `import http from 'node:http';
const BUILD = ${JSON.stringify(build)};
const MODE = ${JSON.stringify(mode)};
if (MODE === 'exit-at-start') process.exit(3);
let passed = false;
const server = http.createServer((req, res) => {
  res.setHeader(${JSON.stringify(BUILD_HEADER)}, BUILD);
  if (req.url === '/healthz') {
    if (MODE === 'health-503') { res.writeHead(503).end('sick\\n'); return; }
    res.end('ok\\n', () => {
      if (MODE === 'crash-after-ready' && !passed) setTimeout(() => process.exit(4), ${crashAfterMs});
      passed = true;
    });
    return;
  }
  if (MODE === 'answer-500') { res.writeHead(500).end(BUILD + ' broken\\n'); return; }
  res.end(BUILD + ' ' + (process.env.GREETING ?? '') + '\\n');
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(BUILD + ' ' + MODE + ' listening on ' + process.env.PORT));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 1500).unref(); });
`;
}

export function writeServer(dir: string, build: string, mode: Mode = 'good', crashAfterMs?: number): void {
  writeFileSync(path.join(dir, 'server.mjs'), serverScript(build, mode, crashAfterMs));
}

export type { ServiceConfig };
export type DeployConfig = NonNullable<ServiceConfig['deploy']>;

export interface LabStackOptions {
  listenerPort: number;
  strategy?: 'rolling' | 'blue-green' | 'canary';
  replicas?: number;
  greeting?: string;
  /** Merged into web's deploy settings. */
  deploy?: Partial<DeployConfig>;
  /** Merged into web's service config (e.g. build). */
  web?: Partial<ServiceConfig>;
}

/**
 * One service `web` (server.mjs, 2 replicas) behind a proxy listener, with short intervals so
 * rollouts take about a second: health every 300 ms (2 failures in a row fail it), a 500 ms
 * monitor window after the last instance (the default 2 s would be most of every rollout), canary
 * at 20% for 1.5 s with at least 5 requests to judge.
 */
export function labStack(o: LabStackOptions): StackConfig {
  return {
    stack: 'deploys',
    services: {
      web: {
        command: 'node',
        args: ['server.mjs'],
        replicas: o.replicas ?? 2,
        ports: { http: 'auto' },
        env: { PORT: '${port.http}', GREETING: o.greeting ?? 'hello' },
        health: { http: { path: '/healthz' }, interval: '300ms', timeout: '1s', healthy: 1, unhealthy: 2 },
        stop_grace: '2s',
        ...o.web,
        deploy: {
          strategy: o.strategy ?? 'rolling',
          max_surge: 1,
          progress_deadline: '15s',
          drain_timeout: '3s',
          monitor: '500ms',
          keep_releases: 5,
          blue_green: { keep_old_for: '1m' },
          canary: { steps: [{ weight: 20, pause: '1500ms' }], min_requests: 5, max_error_rate: 0.05 },
          ...o.deploy,
        },
      },
    },
    listeners: { http: { port: o.listenerPort } },
    routes: [{ match: { path: '/' }, service: 'web', port: 'http' }],
  } as StackConfig;
}

export function writeLabStack(dir: string, o: LabStackOptions): void {
  writeStack(dir, labStack(o));
}

// ---------------------------------------------------------------- the daemon

export interface LabDaemon {
  daemon: Daemon;
  proxy: NodeProxy;
  api: Api;
  /** http://127.0.0.1:PORT/ of the proxy listener. */
  webUrl: string;
  /**
   * down (services stop), stop the daemon, sweep the directory. Throws, naming each failure, when
   * down did not complete, stop() did not finish, or anything was left (swept away first).
   */
  close(): Promise<0>;
}

/** Starts the daemon in-process on `dir`/groundwork.yaml (applied at start) with the built-in proxy. */
export async function startLabDaemon(dir: string, listenerPort: number): Promise<LabDaemon> {
  const stateDir = path.join(dir, '.groundwork');
  const proxy = new NodeProxy({ logger: silentLogger, clock: systemClock });
  const daemon = new Daemon({
    stackFile: path.join(dir, 'groundwork.yaml'),
    stateDir,
    host: '127.0.0.1',
    port: 0,
    vars: {},
    env: cleanEnv(),
    clock: systemClock,
    logger: silentLogger,
    applyOnStart: true,
    dataPlane: proxy,
  });
  await daemon.start();
  const api = new Api(daemon.url, readFileSync(tokenFile(stateDir), 'utf8').trim());
  let closed = false;
  return {
    daemon,
    proxy,
    api,
    webUrl: `http://127.0.0.1:${listenerPort}/`,
    async close() {
      if (closed) return 0;
      closed = true;
      const t = new TeardownFailures(`the lab daemon in ${dir}`);
      await t.step('POST /v1/down', () => api.down(false));
      await t.step('daemon.stop()', () => settlesWithin(daemon.stop(), 15_000, 'daemon.stop()'));
      await t.sweep(footprintOf(dir), 'down and stop');
      t.throwIfAny();
      return 0;
    },
  };
}

// ---------------------------------------------------------------- load

export interface Sample {
  /** performance.now() when the request was sent / ended. */
  sent: number;
  ended: number;
  /** HTTP status, or 0 when the request got no answer. */
  status: number;
  /** The build that answered (BUILD_HEADER), or '' when none did. */
  build: string;
  body: string;
  error?: string;
}

export interface Traffic {
  samples: Sample[];
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<Sample[]>;
}

/** `loops` keep-alive clients, each sending one request at a time with `gapMs` between them. */
export function startTraffic(url: string, loops = 4, gapMs = 10): Traffic {
  const samples: Sample[] = [];
  let stopping = false;
  const one = (agent: http.Agent): Promise<Sample> =>
    new Promise((resolve) => {
      const sent = performance.now();
      let settled = false;
      const end = (s: Omit<Sample, 'sent' | 'ended'>) => {
        if (!settled) {
          settled = true;
          resolve({ sent, ended: performance.now(), ...s });
        }
      };
      const req = http.get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => end({ status: res.statusCode ?? 0, build: String(res.headers[BUILD_HEADER] ?? ''), body }));
        res.on('aborted', () => end({ status: 0, build: '', body, error: 'body cut short' }));
        res.on('error', (e) => end({ status: 0, build: '', body, error: e.message }));
      });
      req.setTimeout(10_000, () => {
        end({ status: 0, build: '', body: '', error: 'timeout' });
        req.destroy();
      });
      req.on('error', (e: NodeJS.ErrnoException) =>
        end({ status: 0, build: '', body: '', error: e.code ?? e.message }),
      );
    });
  const running = Array.from({ length: loops }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (!stopping) {
      samples.push(await one(agent));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    agent.destroy();
  });
  return {
    samples,
    async stop() {
      stopping = true;
      await Promise.all(running);
      return samples;
    },
  };
}

export function failed(samples: readonly Sample[]): Sample[] {
  return samples.filter((s) => s.status < 200 || s.status >= 300);
}

export function describeSamples(samples: readonly Sample[]): string {
  const by = new Map<string, number>();
  for (const s of samples) {
    const k = `${s.build || '(no build)'} ${s.status || s.error}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return [...by.entries()].map(([k, v]) => `${k}: ${v}`).join(', ');
}

/**
 * The share of answers from `build` among the requests sent while it was getting traffic (from
 * the first to the last request it answered); 0 when it answered none.
 */
export function shareWhileRouted(
  samples: readonly Sample[],
  build: string,
): { share: number; answered: number; inWindow: number } {
  const mine = samples.filter((s) => s.build === build);
  if (mine.length === 0) return { share: 0, answered: 0, inWindow: 0 };
  const from = Math.min(...mine.map((s) => s.sent));
  const to = Math.max(...mine.map((s) => s.sent));
  const inWindow = samples.filter((s) => s.sent >= from && s.sent <= to).length;
  return { share: mine.length / inWindow, answered: mine.length, inWindow };
}
