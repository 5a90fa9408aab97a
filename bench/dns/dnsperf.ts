/**
 * dnsperf (Debian package `dnsperf`, DNS-OARC) runs and their output: queries per second and
 * average latency from its statistics, percentiles from the per-query lines of `-v`
 * (`> NOERROR name A 0.000085`: the latency in seconds is the last field).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DnsperfSettings {
  /** Seconds to run. */
  seconds: number;
  /** Queries in flight (-q). */
  outstanding: number;
  /** Fixed rate (-Q); absent: as fast as the server answers. */
  qps?: number;
  /** Per-query lines (-v), for percentiles. */
  perQuery?: boolean;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  avgLatencyMs: number;
  /** From -v lines; undefined without `perQuery`. */
  p50Ms?: number;
  p99Ms?: number;
  /** Response codes other than NOERROR. */
  otherRcodes: number;
}

export function describeDnsperf(s: DnsperfSettings): string {
  return `dnsperf -T 1 -c 1 -q ${s.outstanding} -l ${s.seconds}${s.qps ? ` -Q ${s.qps}` : ''}${s.perQuery ? ' -v' : ''}`;
}

export async function runDnsperf(port: number, queryFile: string, s: DnsperfSettings): Promise<DnsperfResult> {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-T', '1', '-c', '1'];
  args.push('-q', String(s.outstanding), '-l', String(s.seconds), '-t', '2');
  if (s.qps) args.push('-Q', String(s.qps));
  if (s.perQuery) args.push('-v');
  const { stdout } = await run('dnsperf', args, { maxBuffer: 512 * 1024 * 1024 });
  const num = (re: RegExp) => {
    const m = re.exec(stdout);
    if (!m?.[1]) throw new Error(`dnsperf output has no ${re.source}:\n${stdout.slice(-2000)}`);
    return Number(m[1]);
  };
  const noerror = /NOERROR (\d+)/.exec(/Response codes:\s*(.*)/.exec(stdout)?.[1] ?? '')?.[1];
  const completed = num(/Queries completed:\s+(\d+)/);
  const result: DnsperfResult = {
    sent: num(/Queries sent:\s+(\d+)/),
    completed,
    lost: num(/Queries lost:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    otherRcodes: completed - Number(noerror ?? 0),
  };
  if (s.perQuery) {
    const lat: number[] = [];
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('> ')) continue;
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(v)) lat.push(v * 1000);
    }
    lat.sort((a, b) => a - b);
    const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? Number.NaN;
    result.p50Ms = pct(50);
    result.p99Ms = pct(99);
  }
  return result;
}
