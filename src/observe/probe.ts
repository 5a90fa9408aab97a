/** One health probe against one instance: http, tcp or exec. Never throws; says why it failed. */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { Duration } from '../util/duration.js';

export type ProbeTarget =
  | { kind: 'http'; host: string; port: number; path: string; status: string; body: string | null }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'exec'; command: string; cwd: string; env: Record<string, string> };

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export function probe(target: ProbeTarget, timeout: Duration): Promise<ProbeResult> {
  switch (target.kind) {
    case 'http':
      return httpProbe(target, timeout);
    case 'tcp':
      return tcpProbe(target, timeout);
    case 'exec':
      return execProbe(target, timeout);
  }
}

export function statusInRange(status: number, range: string): boolean {
  const [lo, hi] = range.split('-').map(Number);
  return status >= (lo as number) && status <= (hi ?? (lo as number));
}

function httpProbe(t: Extract<ProbeTarget, { kind: 'http' }>, timeout: Duration): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    const req = http.request(
      {
        host: t.host,
        port: t.port,
        path: t.path,
        method: 'GET',
        agent: false,
        headers: { 'user-agent': 'groundwork-health', connection: 'close' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 65536) {
            chunks.push(c);
            size += c.length;
          }
        });
        res.on('end', () => {
          if (!statusInRange(status, t.status))
            return finish({ ok: false, detail: `HTTP ${status}, expected ${t.status}` });
          if (t.body !== null && !Buffer.concat(chunks).toString('utf8').includes(t.body))
            return finish({ ok: false, detail: `HTTP ${status} but the body lacks ${JSON.stringify(t.body)}` });
          finish({ ok: true, detail: `HTTP ${status}` });
        });
        res.on('error', (e) => finish({ ok: false, detail: e.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, detail: `no answer within ${timeout}` });
    }, timeout.toMilliseconds());
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, detail: e.code === 'ECONNREFUSED' ? `connection refused on port ${t.port}` : e.message }),
    );
    req.end();
  });
}

function tcpProbe(t: Extract<ProbeTarget, { kind: 'tcp' }>, timeout: Duration): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: t.host, port: t.port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ ok: false, detail: `no connection within ${timeout}` });
    }, timeout.toMilliseconds());
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok: true, detail: `port ${t.port} accepts connections` });
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: e.code === 'ECONNREFUSED' ? `connection refused on port ${t.port}` : e.message });
    });
  });
}

function execProbe(t: Extract<ProbeTarget, { kind: 'exec' }>, timeout: Duration): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', t.command], {
      cwd: t.cwd,
      env: t.env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      if (err.length < 500) err += c.toString();
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeout.toMilliseconds());
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true, detail: 'exit 0' });
      else
        resolve({
          ok: false,
          detail: signal ? `killed after ${timeout}` : `exit ${code}${err ? `: ${err.trim().split('\n')[0]}` : ''}`,
        });
    });
  });
}
