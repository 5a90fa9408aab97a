/**
 * `groundwork up` as the benches that need a daemon run it: the built CLI (dist/) as its own
 * process, started the way the installed bin starts (./groundwork-bin.ts), with an environment
 * that carries nothing of the developer's shell that could steer it; a small API client; and a
 * stop that leaves nothing of the bench running. Written once here for the dashboard, alerts,
 * daemon-rss, log-flood, supervision and deploy benches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { groundworkArgv } from './groundwork-bin.js';

export interface BenchDaemon {
  child: ChildProcess;
  /** The daemon's pid, from its ready line. */
  pid: number;
  url: string;
  token: string;
  /** stdout and stderr as they interleaved. */
  output(): string;
}

export interface StartBenchDaemonOptions {
  /** Added to the environment (NO_COLOR, PATH, HOME, LANG, TZ). */
  env?: Record<string, string>;
  /** How long `up` may take to print its ready line (it applies the stack first); default 180 s. */
  readyTimeoutMs?: number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value; an error it throws is kept for the timeout's message. */
export async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`,
  );
}

/** One request to the daemon's API with its token; the body, when given, as JSON. */
export function benchApi(
  d: Pick<BenchDaemon, 'url' | 'token'>,
  method: 'GET' | 'POST',
  urlPath: string,
  body?: unknown,
  timeoutMs = 60_000,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      new URL(urlPath, d.url),
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${d.token}`,
          connection: 'close',
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => {
            text += c;
          })
          .on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${urlPath}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** `groundwork up --listen 127.0.0.1:0 --json` in `dir`; resolves once it printed its ready line. */
export async function startBenchDaemon(
  root: string,
  dir: string,
  opts: StartBenchDaemonOptions = {},
): Promise<BenchDaemon> {
  const env: Record<string, string> = { NO_COLOR: '1' };
  for (const k of ['PATH', 'HOME', 'LANG', 'TZ']) {
    const v = process.env[k];
    if (v) env[k] = v;
  }
  const child = spawn(process.execPath, groundworkArgv(root, ['up', '--listen', '127.0.0.1:0', '--json']), {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, ...opts.env },
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  const timeoutMs = opts.readyTimeoutMs ?? 180_000;
  const deadline = Date.now() + timeoutMs;
  // Not waitUntil: a daemon that exited fails the start at once, not when the wait runs out.
  for (;;) {
    const line = out.split('\n').find((l) => l.startsWith('{"type":"ready"'));
    if (line) {
      const ready = JSON.parse(line) as { url: string; pid: number };
      const token = readFileSync(path.join(dir, '.groundwork', 'daemon.token'), 'utf8').trim();
      return { child, pid: ready.pid, url: ready.url, token, output: () => out };
    }
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `groundwork up in ${dir} exited with ${child.signalCode ?? `code ${child.exitCode}`} before it was ready:\n${out.slice(-2000)}`,
      );
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `groundwork up in ${dir} printed no ready line within ${timeoutMs} ms (a slow apply? raise readyTimeoutMs):\n${out.slice(-2000)}`,
      );
    }
    await sleep(50);
  }
}

/** Processes whose cwd is inside `dir` or whose command line names it (never this process). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${e}/cwd`);
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cwd === dir || cwd.startsWith(`${dir}/`) || cmd.includes(dir)) out.push(Number(e));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/** SIGKILLs whatever of the bench still runs in `dir` until nothing does (20 rounds at most). */
export async function sweepBenchDir(dir: string, log: (l: string) => void): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const left = processesUnder(dir);
    if (left.length === 0) return;
    if (round === 0) log(`${left.length} processes left in ${dir}; killing them`);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(50);
  }
}

/**
 * POST /v1/down {exit: true} (services stop, the daemon exits), SIGKILL of the daemon when it has
 * not exited within 15 s, then a sweep of whatever is left in `dir`. Never throws: what went
 * wrong is logged.
 */
export async function stopBenchDaemon(
  d: BenchDaemon | undefined,
  dir: string,
  log: (l: string) => void,
): Promise<void> {
  if (d && d.child.exitCode === null && d.child.signalCode === null) {
    try {
      const r = await benchApi(d, 'POST', '/v1/down', { exit: true });
      if (r.status !== 200) log(`down answered ${r.status}: ${r.text.slice(0, 200)}`);
    } catch (e) {
      log(`down failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    await waitUntil('the daemon to exit', 15_000, () =>
      d.child.exitCode !== null || d.child.signalCode !== null ? true : undefined,
    ).catch(() => d.child.kill('SIGKILL'));
  }
  await sweepBenchDir(dir, log);
}
