/**
 * How fast the supervisor acts, and what a crash loop costs: the figures that used to be timing
 * thresholds inside test/daemon/supervision.test.ts (the tests now assert the decisions from the
 * recorded events). `groundwork up` (dist/) runs as its own process so /proc counts only the
 * daemon and the shims it reaped.
 *
 * - restart after SIGKILL: until status shows a new healthy pid, and until the port answers from
 *   it (target: within 1 s);
 * - readiness (interval 300ms, unhealthy: 2, healthy: 1): until unhealthy after the endpoint
 *   fails, until healthy after it recovers (reported);
 * - down while an instance waits in its crash-loop backoff (target: within 8 s);
 * - a crash loop over 30 s (GROUNDWORK_BENCH_CRASHLOOP_SECONDS shortens it): restarts (target
 *   at most 12) and CPU seconds of the daemon plus the shims it reaped (target under 3 s).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { defineBench, type BenchContext, type BenchResult } from './harness/bench.js';
import { median } from './harness/median.js';
import {
  benchApi,
  startBenchDaemon,
  stopBenchDaemon,
  sweepBenchDir,
  type BenchDaemon,
} from './harness/bench-daemon.js';

const CRASHLOOP_SECONDS = Number(process.env.GROUNDWORK_BENCH_CRASHLOOP_SECONDS ?? 30);

/** Answers / with its pid, /healthz with 503 while HEALTH_FILE exists; exits 0 on SIGTERM. */
const SERVER = `const http = require('node:http');
const fs = require('node:fs');
http.createServer((req, res) => {
  if (req.url === '/healthz') { res.statusCode = process.env.HEALTH_FILE && fs.existsSync(process.env.HEALTH_FILE) ? 503 : 200; res.end(); return; }
  res.end('pid ' + process.pid);
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function service(extra: string[] = []): string[] {
  return [
    '    command: node',
    '    args: [server.cjs]',
    '    ports: { http: auto }',
    "    env: { PORT: '${port.http}', HEALTH_FILE: sick }",
    '    stop_grace: 2s',
    ...extra,
  ];
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function get(url: string, token?: string, timeoutMs = 2000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { agent: false, headers: { connection: 'close', ...(token ? { authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

interface Instance {
  index: number;
  state: string;
  pid: number | null;
  restarts: number;
  ports: Record<string, number>;
}
interface Status {
  services: { name: string; instances: Instance[] }[];
}

/** `groundwork up` (bench/harness/bench-daemon.ts) on a stack of `server.cjs` services, with what this bench asks of it. */
class Daemon {
  private constructor(
    readonly bench: BenchDaemon,
    readonly dir: string,
    private readonly log: (l: string) => void,
  ) {}

  get pid(): number {
    return this.bench.pid;
  }

  static async start(ctx: BenchContext, dir: string, stack: string[]): Promise<Daemon> {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'server.cjs'), SERVER);
    writeFileSync(path.join(dir, 'groundwork.yaml'), `${stack.join('\n')}\n`);
    return new Daemon(await startBenchDaemon(ctx.root, dir, { readyTimeoutMs: 60_000 }), dir, ctx.log);
  }

  async status(): Promise<Status> {
    const r = await benchApi(this.bench, 'GET', '/v1/status', undefined, 10_000);
    if (r.status !== 200) throw new Error(`GET /v1/status answered ${r.status}: ${r.text}`);
    return JSON.parse(r.text) as Status;
  }

  async instance(name: string, index: number): Promise<Instance | undefined> {
    return (await this.status()).services.find((s) => s.name === name)?.instances.find((i) => i.index === index);
  }

  /** POST /v1/down {exit: true}; resolves with its wall time once the daemon exited. */
  async down(): Promise<number> {
    const t0 = performance.now();
    const r = await benchApi(this.bench, 'POST', '/v1/down', { exit: true });
    if (r.status !== 200 || !r.text.includes('"type":"result"')) throw new Error(`down failed: ${r.status} ${r.text}`);
    const ms = performance.now() - t0;
    await until('the daemon to exit', 15_000, () => (this.bench.child.exitCode !== null ? true : undefined));
    await sweepBenchDir(this.dir, this.log);
    return ms;
  }

  /** After a failed run: the harness's stop, which never throws and leaves nothing running. */
  stop(): Promise<void> {
    return stopBenchDaemon(this.bench, this.dir, this.log);
  }
}

/** utime + stime + cutime + cstime of a process, in seconds. */
function cpuSecondsWithChildren(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function restartAfterKill(ctx: BenchContext, dir: string): Promise<{ healthy: number[]; answering: number[] }> {
  const d = await Daemon.start(ctx, dir, [
    'stack: bench-restart',
    'services:',
    '  web:',
    ...service(['    health: { http: { path: /healthz }, interval: 500ms, timeout: 1s }']),
  ]);
  const healthy: number[] = [];
  const answering: number[] = [];
  try {
    for (let run = 0; run < ctx.repeat; run++) {
      const before = await until('web/0 healthy', 30_000, async () => {
        const i = await d.instance('web', 0);
        return i?.state === 'healthy' && i.pid ? i : undefined;
      });
      const port = before.ports.http as number;
      const t0 = performance.now();
      process.kill(before.pid as number, 'SIGKILL');
      const answered = until('the port to answer from a new pid', 15_000, async () => {
        const r = await get(`http://127.0.0.1:${port}/`, undefined, 500).catch(() => undefined);
        return r?.status === 200 && r.text !== `pid ${before.pid}` ? performance.now() - t0 : undefined;
      });
      healthy.push(
        await until('a new healthy pid', 15_000, async () => {
          const i = await d.instance('web', 0);
          return i?.state === 'healthy' && i.pid !== null && i.pid !== before.pid ? performance.now() - t0 : undefined;
        }),
      );
      answering.push(await answered);
    }
  } finally {
    await d.down();
  }
  return { healthy, answering };
}

async function readiness(ctx: BenchContext, dir: string): Promise<{ toUnhealthy: number; toHealthy: number }> {
  const d = await Daemon.start(ctx, dir, [
    'stack: bench-ready',
    'services:',
    '  web:',
    ...service(['    health: { http: { path: /healthz }, interval: 300ms, timeout: 1s, unhealthy: 2, healthy: 1 }']),
  ]);
  try {
    const state = async () => (await d.instance('web', 0))?.state;
    await until('web/0 healthy', 30_000, async () => ((await state()) === 'healthy' ? true : undefined));
    let t0 = performance.now();
    writeFileSync(path.join(dir, 'sick'), '');
    const toUnhealthy = await until('unhealthy', 10_000, async () =>
      (await state()) === 'unhealthy' ? performance.now() - t0 : undefined,
    );
    t0 = performance.now();
    rmSync(path.join(dir, 'sick'));
    const toHealthy = await until('healthy', 10_000, async () =>
      (await state()) === 'healthy' ? performance.now() - t0 : undefined,
    );
    return { toUnhealthy, toHealthy };
  } finally {
    await d.down();
  }
}

async function crashLoop(
  ctx: BenchContext,
  dir: string,
): Promise<{ restarts: number; cpuSeconds: number; downMs: number }> {
  const d = await Daemon.start(ctx, dir, [
    'stack: bench-crashloop',
    'services:',
    '  instant: { command: exit 1, restart: always, stop_grace: 1s }',
    '  oneshot: { command: exit 0, restart: on-failure, stop_grace: 1s }',
    "  flappy: { command: 'sleep 0.8; exit 1', restart: always, stop_grace: 1s }",
    '  web:',
    ...service(['    health: { http: { path: /healthz }, interval: 500ms, timeout: 1s }']),
  ]);
  const restartsOf = (s: Status) =>
    s.services.reduce((n, svc) => n + svc.instances.reduce((m, i) => m + i.restarts, 0), 0);
  let downMs = Number.NaN;
  try {
    const r0 = restartsOf(await d.status());
    const cpu0 = cpuSecondsWithChildren(d.pid);
    await new Promise((r) => setTimeout(r, CRASHLOOP_SECONDS * 1000));
    const cpuSeconds = cpuSecondsWithChildren(d.pid) - cpu0;
    const restarts = restartsOf(await d.status()) - r0;
    // flappy and instant now wait in their crash-loop backoff: down must not wait for it.
    downMs = await d.down();
    return { restarts, cpuSeconds, downMs };
  } finally {
    if (Number.isNaN(downMs)) await d.stop();
  }
}

export default defineBench({
  name: 'supervision',
  description: 'restart latency after SIGKILL, readiness flips, crash-loop cost over 30 s, down during backoff',
  async run(ctx: BenchContext): Promise<BenchResult[]> {
    ctx.log('restart after SIGKILL');
    const r = await restartAfterKill(ctx, path.join(ctx.workDir, 'restart'));
    ctx.log('readiness');
    const rd = await readiness(ctx, path.join(ctx.workDir, 'ready'));
    ctx.log(`crash loop for ${CRASHLOOP_SECONDS} s`);
    const c = await crashLoop(ctx, path.join(ctx.workDir, 'crashloop'));
    const n = `median of ${ctx.repeat}`;
    return [
      {
        name: 'restart after SIGKILL',
        metric: `new pid healthy in status (${n})`,
        value: Math.round(median(r.healthy)),
        unit: 'ms',
        samples: r.healthy.map(Math.round),
        target: { kind: 'max', value: 1000 },
      },
      {
        name: 'restart after SIGKILL',
        metric: `port answering from the new pid (${n})`,
        value: Math.round(median(r.answering)),
        unit: 'ms',
        samples: r.answering.map(Math.round),
        target: { kind: 'max', value: 1000 },
      },
      {
        name: 'readiness (300ms, unhealthy: 2)',
        metric: 'to unhealthy',
        value: Math.round(rd.toUnhealthy),
        unit: 'ms',
      },
      {
        name: 'readiness (300ms, healthy: 1)',
        metric: 'to healthy again',
        value: Math.round(rd.toHealthy),
        unit: 'ms',
      },
      {
        name: `crash loop, ${CRASHLOOP_SECONDS} s`,
        metric: 'restarts (2 services crash-looping, 1 one-shot)',
        value: c.restarts,
        unit: '',
        target: { kind: 'max', value: 12 },
      },
      {
        name: `crash loop, ${CRASHLOOP_SECONDS} s`,
        metric: 'CPU of daemon + reaped shims',
        value: Number(c.cpuSeconds.toFixed(2)),
        unit: 's',
        target: { kind: 'max', value: 3 },
      },
      {
        name: 'down during crash-loop backoff',
        metric: 'POST /v1/down wall time',
        value: Math.round(c.downMs),
        unit: 'ms',
        target: { kind: 'max', value: 8000 },
      },
    ];
  },
});
