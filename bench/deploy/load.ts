/** The parent's side of load-generator.ts: start the load, cut it into windows, stop it. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromChild, LoadConfig, ReleaseSeen, ToChild, WindowStats } from './load-generator.js';

export type { LoadConfig, WindowStats } from './load-generator.js';

const SCRIPT = fileURLToPath(new URL('./load-generator.ts', import.meta.url));

export interface Load {
  config: LoadConfig;
  /** Closes the current window and returns its counts; the load goes on. */
  window(): Promise<WindowStats>;
  /** Stops sending, waits for the requests in flight, returns the last window. */
  stop(): Promise<WindowStats>;
  /** Kills the generator (teardown after a failure). */
  kill(): void;
}

/** `cwd` must be where tsx resolves (the repository root). */
export async function startLoad(config: LoadConfig, cwd: string): Promise<Load> {
  const child: ChildProcess = fork(SCRIPT, [JSON.stringify(config)], {
    cwd,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting: ((s: WindowStats) => void)[] = [];
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`the load generator exited (${code ?? signal}) before it was ready`)),
    );
    child.on('message', (m: FromChild) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'window') waiting.shift()?.(m.stats);
    });
  });
  await ready;
  const ask = (m: ToChild): Promise<WindowStats> => {
    if (exited) return Promise.reject(new Error('the load generator is gone'));
    return new Promise((resolve, reject) => {
      waiting.push(resolve);
      child.send(m);
      void gone.then(() => reject(new Error('the load generator exited while a window was asked for')));
    });
  };
  return {
    config,
    window: () => ask({ type: 'window' }),
    stop: async () => {
      const last = await ask({ type: 'stop' });
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (!exited) child.kill('SIGKILL');
      return last;
    },
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/** Adds windows up (for totals over many operations). */
export function mergeWindows(list: readonly WindowStats[]): WindowStats {
  const out: WindowStats = {
    from: Infinity,
    to: 0,
    requests: 0,
    ok: 0,
    failed: 0,
    failures: {},
    failureLog: [],
    releases: {},
    maxLatencyMs: 0,
  };
  for (const w of list) {
    out.from = Math.min(out.from, w.from);
    out.to = Math.max(out.to, w.to);
    out.requests += w.requests;
    out.ok += w.ok;
    out.failed += w.failed;
    out.maxLatencyMs = Math.max(out.maxLatencyMs, w.maxLatencyMs);
    for (const [k, v] of Object.entries(w.failures)) out.failures[k] = (out.failures[k] ?? 0) + v;
    for (const f of w.failureLog) if (out.failureLog.length < 100) out.failureLog.push(f);
    for (const [k, v] of Object.entries(w.releases)) {
      const r: ReleaseSeen | undefined = out.releases[k];
      out.releases[k] = r
        ? {
            count: r.count + v.count,
            firstSent: Math.min(r.firstSent, v.firstSent),
            lastSent: Math.max(r.lastSent, v.lastSent),
          }
        : { ...v };
    }
  }
  return out;
}

/** `ECONNRESET ×2, HTTP 502 ×1` */
export function describeFailures(w: WindowStats): string {
  const parts = Object.entries(w.failures)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ×${v}`);
  return parts.length ? parts.join(', ') : 'none';
}
