/**
 * DNS queries per second and latency: Groundwork's DnsServer against dnsmasq, in the same run,
 * serving the same authoritative record (`api.homelab.internal A 127.77.0.2`), asked by the same
 * dnsperf over UDP on loopback.
 *
 * - dnsmasq: authoritative for the zone (`--auth-zone`, `--host-record`), one process (it is
 *   single-threaded), cache off, no upstreams.
 * - Groundwork: DnsServer compiled from dist/, alone in one Node process (bench/dns/serve-dns.ts).
 * - Throughput: dnsperf with one thread and 100 queries in flight, as fast as the server answers.
 *   dnsperf, the server and whatever else runs share the machine's cores (the count is printed).
 * - Latency: a second dnsperf run at a fixed 5,000 queries/s with per-query lines, from which p50
 *   and p99 are taken (dnsperf itself reports only the average): latency of a loaded but not
 *   saturated server, which a lab resolver is.
 * - The servers are measured in turn, round after round (`--repeat`, default 3); medians reported.
 *
 * Target: Groundwork ÷ dnsmasq queries/s >= 0.5. p99 is reported against dnsmasq's.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineBench, type BenchContext, type BenchResult } from './harness/bench.js';
import { median } from './harness/median.js';
import { freePort, startDaemon, type Daemon } from './proxy/daemons.js';
import { describeDnsperf, runDnsperf, type DnsperfResult, type DnsperfSettings } from './dns/dnsperf.js';

const SERVE_DNS = fileURLToPath(new URL('./dns/serve-dns.ts', import.meta.url));
const CPU_PROFILE_ENV = 'GROUNDWORK_BENCH_CPU_PROFILE';
const ZONE = 'homelab.internal';
const RECORD = { name: `api.${ZONE}`, address: '127.77.0.2' };
const THROUGHPUT: DnsperfSettings = { seconds: 10, outstanding: 100 };
const WARMUP: DnsperfSettings = { seconds: 2, outstanding: 100 };
const LATENCY: DnsperfSettings = { seconds: 5, outstanding: 100, qps: 5000, perQuery: true };
const TARGETS = ['dnsmasq', 'groundwork'] as const;
type TargetName = (typeof TARGETS)[number];
const LABEL: Record<TargetName, string> = {
  dnsmasq: 'dnsmasq, authoritative, 1 process',
  groundwork: 'Groundwork DnsServer, 1 process',
};
const TOOLS = ['dnsperf', 'dnsmasq', 'dig'] as const;

interface Sample {
  throughput: DnsperfResult;
  latency: DnsperfResult;
}

function ensureTools(log: (line: string) => void): void {
  const absent = TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (absent.length === 0) return;
  const install = 'apt-get install -y dnsperf dnsmasq bind9-dnsutils';
  if (process.getuid?.() !== 0) throw new Error(`skipped: ${absent.join(', ')} not installed; run \`sudo ${install}\``);
  log(`installing ${absent.join(', ')} (${install})`);
  execFileSync('sh', ['-c', `${install} || (apt-get update && ${install})`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** Resolves once `dig` gets NOERROR for the record from `port`. */
async function waitAnswering(d: Daemon, port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (d.child.exitCode !== null || d.child.signalCode !== null)
      throw new Error(`${d.name} exited before it answered on ${port}:\n${d.output().slice(-2000)}`);
    try {
      const out = execFileSync(
        'dig',
        ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+timeout=1', RECORD.name],
        {
          encoding: 'utf8',
        },
      );
      if (out.trim() === RECORD.address) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${d.name} did not answer ${RECORD.name} on ${port} within 20 s:\n${d.output().slice(-2000)}`);
}

async function setUp(
  ctx: BenchContext,
  profile: string | undefined,
): Promise<{ daemons: Daemon[]; ports: Record<TargetName, number> }> {
  const daemons: Daemon[] = [];
  try {
    const dnsmasqPort = await freePort();
    const dnsmasq = startDaemon('dnsmasq', 'dnsmasq', [
      '--no-daemon',
      `--port=${dnsmasqPort}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--conf-file=/dev/null',
      '--pid-file=',
      '--user=root',
      '--cache-size=0',
      `--auth-server=ns.${ZONE},127.0.0.1`,
      `--auth-zone=${ZONE}`,
      '--auth-ttl=30',
      `--host-record=${RECORD.name},${RECORD.address}`,
    ]);
    daemons.push(dnsmasq);
    await waitAnswering(dnsmasq, dnsmasqPort);

    const env: NodeJS.ProcessEnv = { ...process.env };
    if (profile) env[CPU_PROFILE_ENV] = profile;
    else delete env[CPU_PROFILE_ENV];
    const port = await freePort();
    const groundwork = startDaemon(
      'groundwork',
      process.execPath,
      ['--import', 'tsx', SERVE_DNS, JSON.stringify({ root: ctx.root, zone: ZONE, port, records: [RECORD] })],
      { cwd: ctx.root, env },
    );
    daemons.push(groundwork);
    await waitAnswering(groundwork, port);
    return { daemons, ports: { dnsmasq: dnsmasqPort, groundwork: port } };
  } catch (e) {
    await Promise.all(daemons.map((d) => d.stop()));
    throw e;
  }
}

export default defineBench({
  name: 'dns',
  description:
    'DNS queries/s and p99 of the built-in DNS server vs dnsmasq (same record, same dnsperf, one process each)',
  async run(ctx) {
    ensureTools(ctx.log);
    const cores = os.cpus().length;
    const fairness = `each server is one process (dnsmasq is single-threaded, the DnsServer one Node process); dnsperf runs one thread; they share ${cores} cores, nothing pinned`;
    ctx.log(fairness);
    ctx.log(
      `throughput: ${describeDnsperf(THROUGHPUT)} after a ${WARMUP.seconds}s warm-up; latency: ${describeDnsperf(LATENCY)}; ${ctx.repeat} rounds, servers in turn`,
    );
    const queryFile = path.join(ctx.workDir, 'queries.txt');
    writeFileSync(queryFile, `${RECORD.name} A\n`);
    const profile = ctx.cpuProfileDir ? path.join(ctx.cpuProfileDir, 'dns-server.cpuprofile') : undefined;
    const setup = await setUp(ctx, profile);
    const samples: Record<TargetName, Sample[]> = { dnsmasq: [], groundwork: [] };
    try {
      for (let round = 0; round < ctx.repeat; round++) {
        for (const t of TARGETS) {
          const port = setup.ports[t];
          await runDnsperf(port, queryFile, WARMUP);
          const throughput = await runDnsperf(port, queryFile, THROUGHPUT);
          const latency = await runDnsperf(port, queryFile, LATENCY);
          samples[t].push({ throughput, latency });
          ctx.log(
            `round ${round + 1} ${t.padEnd(10)} ${throughput.qps.toFixed(0).padStart(7)} q/s  avg ${throughput.avgLatencyMs.toFixed(3)} ms  lost ${throughput.lost}  | at ${LATENCY.qps} q/s: p50 ${latency.p50Ms?.toFixed(3)} ms  p99 ${latency.p99Ms?.toFixed(3)} ms  lost ${latency.lost}`,
          );
        }
      }
    } finally {
      await Promise.all(setup.daemons.map((d) => d.stop()));
      const report = /@@bench-report (.*)/.exec(
        setup.daemons.find((d) => d.name === 'groundwork')?.output() ?? '',
      )?.[1];
      if (report) ctx.log(`DnsServer counters at exit: ${report}`);
    }

    const qps = (t: TargetName) => round(median(samples[t].map((s) => s.throughput.qps)));
    const p99 = (t: TargetName) => round(median(samples[t].map((s) => s.latency.p99Ms ?? Number.NaN)), 3);
    const metric = `queries/s (median of ${ctx.repeat})`;
    const p99Metric = `p99 latency at ${LATENCY.qps} q/s (median of ${ctx.repeat})`;
    const details = (t: TargetName): Record<string, number | string> => ({
      fairness,
      throughput: describeDnsperf(THROUGHPUT),
      latency: describeDnsperf(LATENCY),
      cores,
      'avg latency ms at full load (median)': round(median(samples[t].map((s) => s.throughput.avgLatencyMs)), 3),
      'p50 ms at fixed rate (median)': round(median(samples[t].map((s) => s.latency.p50Ms ?? Number.NaN)), 3),
      'lost (all rounds)': samples[t].reduce((a, s) => a + s.throughput.lost + s.latency.lost, 0),
    });
    const results: BenchResult[] = [
      {
        name: LABEL.dnsmasq,
        metric,
        value: qps('dnsmasq'),
        unit: 'q/s',
        samples: samples.dnsmasq.map((s) => round(s.throughput.qps)),
        details: details('dnsmasq'),
      },
      {
        name: LABEL.dnsmasq,
        metric: p99Metric,
        value: p99('dnsmasq'),
        unit: 'ms',
        samples: samples.dnsmasq.map((s) => round(s.latency.p99Ms ?? Number.NaN, 3)),
      },
      {
        name: LABEL.groundwork,
        metric,
        value: qps('groundwork'),
        unit: 'q/s',
        reference: { name: 'dnsmasq', value: qps('dnsmasq') },
        target: { kind: 'min-ratio', value: 0.5 },
        samples: samples.groundwork.map((s) => round(s.throughput.qps)),
        details: details('groundwork'),
      },
      {
        name: LABEL.groundwork,
        metric: p99Metric,
        value: p99('groundwork'),
        unit: 'ms',
        reference: { name: 'dnsmasq', value: p99('dnsmasq') },
        samples: samples.groundwork.map((s) => round(s.latency.p99Ms ?? Number.NaN, 3)),
      },
      {
        name: LABEL.groundwork,
        metric: 'answers other than NOERROR (all rounds)',
        value: samples.groundwork.reduce((a, s) => a + s.throughput.otherRcodes + s.latency.otherRcodes, 0),
        unit: 'queries',
        target: { kind: 'max', value: 0 },
      },
    ];
    return results;
  },
});

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
