/** Runs wrk against a URL and reads its summary. */
import { execFile } from 'node:child_process';
import { toolPath } from './tools.js';

export interface WrkSettings {
  threads: number;
  connections: number;
  seconds: number;
}

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx responses plus socket errors (connect, read, write, timeout). */
  errors: number;
}

export function describeWrk(s: WrkSettings): string {
  return `wrk -t${s.threads} -c${s.connections} -d${s.seconds}s`;
}

export function runWrk(url: string, s: WrkSettings): Promise<WrkResult> {
  const args = [`-t${s.threads}`, `-c${s.connections}`, `-d${s.seconds}s`, '--latency', url];
  return new Promise((resolve, reject) => {
    execFile(toolPath('wrk'), args, { timeout: (s.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`wrk ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        return;
      }
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(new Error(`${(e as Error).message}\n${stdout}`));
      }
    });
  });
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  switch (unit) {
    case 'us':
      return v / 1000;
    case 'ms':
      return v;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      throw new Error(`unknown wrk latency unit ${unit}`);
  }
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !p99 || !p50 || !total) throw new Error('could not read the wrk summary');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: toMs(p50[1] as string, p50[2] as string),
    p99Ms: toMs(p99[1] as string, p99[2] as string),
    requests: Number(total[1]),
    errors: non2xx + socketErrors,
  };
}
