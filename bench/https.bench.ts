/**
 * HTTPS throughput and p99 latency: the built-in NodeProxy terminating TLS against HAProxy
 * terminating TLS with the same certificate and key (EC P-256 from the local CA), in the same
 * run, over the same two nginx backends (plain HTTP, keep-alive), with the same wrk settings.
 *
 * Two loads: keep-alive connections (the cost of encrypting requests and responses), and a new
 * connection per request (`Connection: close`: a full TLS handshake each, what a burst of new
 * clients costs). Each proxy runs one thread; targets are measured in turn, round after round
 * (`--repeat`), and the median of the rounds is reported with the ratio built-in ÷ HAProxy.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineBench, type BenchContext, type BenchResult } from './harness/bench.js';
import { importDist } from './harness/dist.js';
import { median } from './harness/median.js';
import { nginxBackendConfig } from './proxy/configs.js';
import { freePort, startDaemon, waitListening, type Daemon } from './proxy/daemons.js';
import { cpuSeconds } from './proxy/cpu-time.js';
import { ensureTools, openFileLimit, toolPath } from './proxy/tools.js';
import { describeWrk, parseWrk, type WrkResult, type WrkSettings } from './proxy/wrk.js';

const SERVE = fileURLToPath(new URL('./proxy/serve-node-https-proxy.ts', import.meta.url));
const WRK: WrkSettings = { threads: 2, connections: 64, seconds: 10 };
const WRK_CLOSE: WrkSettings = { threads: 2, connections: 16, seconds: 10 };
const WARMUP: WrkSettings = { threads: 2, connections: 64, seconds: 2 };
const BODY = `${'groundwork https bench: a static body from a backend'.padEnd(63, '.')}\n`;
const TARGETS = ['haproxy', 'builtin'] as const;
type TargetName = (typeof TARGETS)[number];
const LOADS = ['keep-alive', 'new connection per request'] as const;
type Load = (typeof LOADS)[number];
const LABEL: Record<TargetName, string> = {
  haproxy: 'HAProxy terminating TLS, nbthread 1',
  builtin: 'built-in NodeProxy terminating TLS, 1 process',
};

function haproxyTlsConfig(port: number, pem: string, backends: readonly number[], openFiles: number): string {
  const maxconn = Math.max(256, Math.min(4000, Math.floor((openFiles - 200) / 2)));
  return `global
  nbthread 1
  maxconn ${maxconn}
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:${port} ssl crt ${pem} alpn http/1.1
  default_backend be
backend be
  balance roundrobin
  http-reuse always
${backends.map((p, i) => `  server b${i} 127.0.0.1:${p}`).join('\n')}
`;
}

function wrk(url: string, s: WrkSettings, close: boolean): Promise<WrkResult> {
  const args = [`-t${s.threads}`, `-c${s.connections}`, `-d${s.seconds}s`, '--latency'];
  if (close) args.push('-H', 'Connection: close');
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile(toolPath('wrk'), args, { timeout: (s.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`wrk ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(parseWrk(stdout));
    });
  });
}

async function setUp(
  ctx: BenchContext,
): Promise<{ ports: Record<TargetName, number>; pids: Record<TargetName, number>; daemons: Daemon[] }> {
  const daemons: Daemon[] = [];
  try {
    const backends = [await freePort(), await freePort()];
    for (const [i, port] of backends.entries()) {
      const dir = path.join(ctx.workDir, `backend-${i}`);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'nginx.conf');
      writeFileSync(file, nginxBackendConfig(dir, port, BODY.replace('\n', '\\n')));
      const d = startDaemon(`backend-${i}`, toolPath('nginx'), ['-p', dir, '-c', file, '-g', 'daemon off;']);
      daemons.push(d);
      await waitListening(d, port);
    }
    // One certificate for both: issued by the local CA, as `source: internal` would.
    const { LocalCa } = await importDist<typeof import('../src/tls/local-ca.js')>(ctx.root, 'tls/local-ca.js');
    const { Duration } = await importDist<typeof import('../src/util/duration.js')>(ctx.root, 'util/duration.js');
    const { systemClock } = await importDist<typeof import('../src/util/clock.js')>(ctx.root, 'util/clock.js');
    const ca = await LocalCa.open(path.join(ctx.workDir, 'ca'), systemClock);
    const leaf = await ca.issue(['bench.lab.test', '127.0.0.1'], Duration.parse('1d'));
    const cert = path.join(ctx.workDir, 'bench.crt');
    const key = path.join(ctx.workDir, 'bench.key');
    writeFileSync(cert, leaf.certPem);
    writeFileSync(key, leaf.keyPem, { mode: 0o600 });
    const pem = path.join(ctx.workDir, 'bench.pem');
    writeFileSync(pem, leaf.certPem + leaf.keyPem, { mode: 0o600 });

    const haproxyPort = await freePort();
    const cfg = path.join(ctx.workDir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyTlsConfig(haproxyPort, pem, backends, openFileLimit()));
    const haproxy = startDaemon('haproxy', toolPath('haproxy'), ['-f', cfg, '-db']);
    daemons.push(haproxy);
    await waitListening(haproxy, haproxyPort);

    const builtinPort = await freePort();
    const builtin = startDaemon(
      'builtin',
      process.execPath,
      [
        '--import',
        'tsx',
        SERVE,
        JSON.stringify({
          root: ctx.root,
          port: builtinPort,
          backends,
          cert,
          key,
          store: path.join(ctx.workDir, 'tls'),
        }),
      ],
      { cwd: ctx.root },
    );
    daemons.push(builtin);
    await waitListening(builtin, builtinPort);
    return {
      ports: { haproxy: haproxyPort, builtin: builtinPort },
      pids: { haproxy: haproxy.child.pid as number, builtin: builtin.child.pid as number },
      daemons,
    };
  } catch (e) {
    await Promise.all(daemons.map((d) => d.stop()));
    throw e;
  }
}

export default defineBench({
  name: 'https',
  description: 'HTTPS requests/s and p99 of the built-in listener vs HAProxy terminating TLS with the same certificate',
  async run(ctx) {
    ensureTools(ctx.log);
    const cores = os.cpus().length;
    const fairness = `each proxy runs one thread (haproxy nbthread 1, NodeProxy one process); wrk ${WRK.threads} threads, 2 nginx backends and the proxy share ${cores} cores; same EC P-256 certificate; load ${os.loadavg()[0]?.toFixed(1)} at start`;
    ctx.log(fairness);
    const setup = await setUp(ctx);
    const samples: Record<Load, Record<TargetName, (WrkResult & { cpuUs: number })[]>> = {
      'keep-alive': { haproxy: [], builtin: [] },
      'new connection per request': { haproxy: [], builtin: [] },
    };
    try {
      for (let round = 0; round < ctx.repeat; round++) {
        for (const load of LOADS) {
          const close = load !== 'keep-alive';
          const settings = close ? WRK_CLOSE : WRK;
          for (const t of TARGETS) {
            const url = `https://127.0.0.1:${setup.ports[t]}/`;
            await wrk(url, WARMUP, close);
            const cpu0 = cpuSeconds([setup.pids[t]]);
            const w = await wrk(url, settings, close);
            const cpuUs = w.requests ? ((cpuSeconds([setup.pids[t]]) - cpu0) * 1e6) / w.requests : 0;
            samples[load][t].push({ ...w, cpuUs });
            ctx.log(
              `round ${round + 1} ${load.padEnd(26)} ${t.padEnd(8)} ${w.requestsPerSecond.toFixed(0).padStart(7)} req/s  p99 ${w.p99Ms.toFixed(2)} ms  errors ${w.errors}  cpu ${cpuUs.toFixed(1)} us/req`,
            );
          }
        }
      }
    } finally {
      await Promise.all(setup.daemons.map((d) => d.stop()));
    }
    const results: BenchResult[] = [];
    const r = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
    for (const load of LOADS) {
      const s = samples[load];
      const rps = (t: TargetName) => r(median(s[t].map((x) => x.requestsPerSecond)));
      const p99 = (t: TargetName) => r(median(s[t].map((x) => x.p99Ms)), 2);
      const cpu = (t: TargetName) => r(median(s[t].map((x) => x.cpuUs)), 1);
      const settings = load === 'keep-alive' ? WRK : WRK_CLOSE;
      const metric = `${load}: requests/s (median of ${ctx.repeat})`;
      results.push({
        name: LABEL.haproxy,
        metric,
        value: rps('haproxy'),
        unit: 'req/s',
        samples: s.haproxy.map((x) => r(x.requestsPerSecond)),
        details: {
          fairness,
          load: `${describeWrk(settings)}${load === 'keep-alive' ? '' : ' -H "Connection: close"'}`,
        },
      });
      results.push({
        name: LABEL.builtin,
        metric,
        value: rps('builtin'),
        unit: 'req/s',
        reference: { name: 'HAProxy', value: rps('haproxy') },
        samples: s.builtin.map((x) => r(x.requestsPerSecond)),
      });
      results.push({
        name: LABEL.builtin,
        metric: `${load}: p99 latency (median of ${ctx.repeat})`,
        value: p99('builtin'),
        unit: 'ms',
        reference: { name: 'HAProxy', value: p99('haproxy') },
        samples: s.builtin.map((x) => r(x.p99Ms, 2)),
      });
      results.push({
        name: LABEL.builtin,
        metric: `${load}: CPU time per request (median of ${ctx.repeat})`,
        value: cpu('builtin'),
        unit: 'us',
        reference: { name: 'HAProxy', value: cpu('haproxy') },
      });
      results.push({
        name: LABEL.builtin,
        metric: `${load}: failed requests (all rounds)`,
        value: s.builtin.reduce((a, x) => a + x.errors, 0),
        unit: 'requests',
        target: { kind: 'max', value: 0 },
      });
    }
    return results;
  },
});
