/**
 * The load of the deploy bench, in its own process (forked by load.ts, with an IPC channel):
 * `connections` keep-alive HTTP connections to one URL, each sending one request at a time,
 * paced so that together they send `rate` requests/s (0: as fast as answers come back).
 *
 * Every request is counted exactly once, in the window in which it ended: a 2xx answer read to
 * its end is ok; anything else fails — a non-2xx status, a socket error (refused, reset, hang
 * up), a body cut short, or no answer within `timeoutMs`. No request is retried.
 *
 * Answers are also grouped by the value of one response header (the release marker the bench's
 * web service sets), with the first and last send time of each, so the parent can tell when
 * the traffic moved from one release to another.
 *
 * Messages: parent → child `{ type: 'window' }` (close the window, start the next) and
 * `{ type: 'stop' }` (stop sending, wait for what is in flight, close the window, exit).
 * Child → parent `{ type: 'ready' }` once, then `{ type: 'window', stats }` per request.
 */
import http from 'node:http';

export interface LoadConfig {
  url: string;
  connections: number;
  /** Requests per second over all connections; 0 = closed loop (next request when the answer is in). */
  rate: number;
  timeoutMs: number;
  /** Response header whose value names the release that answered. */
  header: string;
}

export interface ReleaseSeen {
  count: number;
  /** Epoch ms (fractional) at which the first / last request answered by this release was sent. */
  firstSent: number;
  lastSent: number;
}

export interface Failure {
  /** Epoch ms at which the failed request was sent, and at which it failed. */
  sent: number;
  at: number;
  what: string;
}

export interface WindowStats {
  from: number;
  to: number;
  requests: number;
  ok: number;
  failed: number;
  /** Failures by kind: `HTTP 502`, `ECONNRESET`, `timeout`, ... */
  failures: Record<string, number>;
  /** The first 100 failures of the window, in order. */
  failureLog: Failure[];
  /** By the value of the release header (`(none)` when absent). Failed requests are not counted here. */
  releases: Record<string, ReleaseSeen>;
  /** Slowest request of the window, ms. */
  maxLatencyMs: number;
}

export type ToChild = { type: 'window' } | { type: 'stop' };
export type FromChild = { type: 'ready' } | { type: 'window'; stats: WindowStats };

const now = (): number => performance.timeOrigin + performance.now();

function emptyWindow(): WindowStats {
  return {
    from: now(),
    to: 0,
    requests: 0,
    ok: 0,
    failed: 0,
    failures: {},
    failureLog: [],
    releases: {},
    maxLatencyMs: 0,
  };
}

function send(m: FromChild): void {
  process.send?.(m);
}

function run(cfg: LoadConfig): void {
  let win = emptyWindow();
  let stopping = false;
  const url = new URL(cfg.url);

  const fail = (sent: number, what: string) => {
    const at = now();
    win.requests++;
    win.failed++;
    win.failures[what] = (win.failures[what] ?? 0) + 1;
    if (win.failureLog.length < 100) win.failureLog.push({ sent, at, what });
    win.maxLatencyMs = Math.max(win.maxLatencyMs, at - sent);
  };
  const succeed = (sent: number, release: string) => {
    win.requests++;
    win.ok++;
    const r = win.releases[release];
    if (r) {
      r.count++;
      r.lastSent = Math.max(r.lastSent, sent);
      r.firstSent = Math.min(r.firstSent, sent);
    } else win.releases[release] = { count: 1, firstSent: sent, lastSent: sent };
    win.maxLatencyMs = Math.max(win.maxLatencyMs, now() - sent);
  };

  const one = (agent: http.Agent): Promise<void> =>
    new Promise((resolve) => {
      const sent = now();
      let settled = false;
      const done = (f: () => void) => {
        if (settled) return;
        settled = true;
        f();
        resolve();
      };
      const req = http.get(
        { host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, agent },
        (res) => {
          const status = res.statusCode ?? 0;
          const release = String(res.headers[cfg.header] ?? '(none)');
          res.on('data', () => undefined);
          res.on('end', () =>
            done(() => (status >= 200 && status < 300 ? succeed(sent, release) : fail(sent, `HTTP ${status}`))),
          );
          res.on('aborted', () => done(() => fail(sent, 'body cut short')));
          res.on('error', (e: NodeJS.ErrnoException) => done(() => fail(sent, `body: ${e.code ?? e.message}`)));
        },
      );
      req.setTimeout(cfg.timeoutMs, () => {
        done(() => fail(sent, 'timeout'));
        req.destroy();
      });
      req.on('error', (e: NodeJS.ErrnoException) => done(() => fail(sent, e.code ?? e.message)));
    });

  const inFlight: Promise<void>[] = [];
  const perConnectionGapMs = cfg.rate > 0 ? (cfg.connections * 1000) / cfg.rate : 0;
  for (let i = 0; i < cfg.connections; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    inFlight.push(
      (async () => {
        // Spread the connections' first requests over one gap so the load is even.
        let next = now() + (perConnectionGapMs * i) / cfg.connections;
        while (!stopping) {
          if (perConnectionGapMs > 0) {
            const wait = next - now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            // Fell far behind (a slow answer): start again from now instead of sending a burst.
            next = Math.max(next, now() - 1000) + perConnectionGapMs;
            if (stopping) break;
          }
          await one(agent);
        }
        agent.destroy();
      })(),
    );
  }

  process.on('message', (m: ToChild) => {
    if (m.type === 'window') {
      const closed = { ...win, to: now() };
      win = emptyWindow();
      send({ type: 'window', stats: closed });
    } else if (m.type === 'stop') {
      stopping = true;
      void Promise.all(inFlight).then(() => {
        send({ type: 'window', stats: { ...win, to: now() } });
        process.disconnect?.();
      });
    }
  });
  send({ type: 'ready' });
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: load-generator.ts CONFIG_JSON (forked by bench/deploy/load.ts)\n');
  process.exit(2);
}
run(JSON.parse(arg) as LoadConfig);
