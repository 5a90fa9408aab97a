/**
 * A shorter proxy-throughput for working on the data plane: HAProxy and one or more builds of
 * the NodeProxy (each a root with a dist/), measured in turn, round after round, with CPU time
 * per request (user + system, and user alone) from /proc. Not part of `npm run bench`: it is for
 * A/B runs of two builds in the same run (copy dist/ aside before a change, then compare), which on
 * a busy machine is the only comparison that means anything.
 *
 *   npx tsx bench/proxy/quick-compare.ts --root /tmp/before --root . [--rounds 3] [--seconds 10]
 *     [--profile DIR] [--output DIR] [--loop-stats S] [--heap-profile DIR] [--node=--flag]
 *
 * `--root 'DIR|--flag,--flag'` runs that build with extra node flags (e.g. GC settings); `--root setsid:DIR`
 * starts it in a session of its own, as the daemon starts the data plane (with the kernel's autogroup
 * scheduling, a session is a CPU scheduling group of its own);
 * `--output DIR` keeps each process's output (e.g. --trace-gc) in DIR/NAME.log; `--loop-stats S` has each
 * NodeProxy print its event-loop delay and GC pauses every S seconds, `--heap-profile DIR` writes what
 * outlived a scavenge to DIR/node-N.heapprofile (serve-node-proxy.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { haproxyConfig, nginxBackendConfig } from './configs.js';
import { readFileSync } from 'node:fs';
import { freePort, startDaemon, waitListening, type Daemon } from './daemons.js';
import { openFileLimit, toolPath } from './tools.js';
import { runWrk } from './wrk.js';

/** [user, system] CPU seconds of a process (clock ticks of 10 ms). */
function cpuSplit(pid: number): [number, number] {
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]) / 100, Number(f[12]) / 100];
}

const SERVE = fileURLToPath(new URL('./serve-node-proxy.ts', import.meta.url));
const BODY = `${'groundwork proxy bench: a static body from a backend'.padEnd(63, '.')}\\n`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      root: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '10' },
      profile: { type: 'string' },
      node: { type: 'string', multiple: true },
      output: { type: 'string' },
      'loop-stats': { type: 'string' },
      'heap-profile': { type: 'string' },
    },
  });
  const roots = values.root ?? [];
  const nodeFlags = values.node ?? [];
  const work = path.join(os.tmpdir(), `quick-compare-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const daemons: Daemon[] = [];
  try {
    const backends = [await freePort(), await freePort()];
    for (const [i, port] of backends.entries()) {
      const dir = path.join(work, `b${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'nginx.conf'), nginxBackendConfig(dir, port, BODY));
      const d = startDaemon(`b${i}`, toolPath('nginx'), [
        '-p',
        dir,
        '-c',
        path.join(dir, 'nginx.conf'),
        '-g',
        'daemon off;',
      ]);
      daemons.push(d);
      await waitListening(d, port);
    }
    const targets: { name: string; port: number; pid: number }[] = [];
    const hp = await freePort();
    writeFileSync(path.join(work, 'haproxy.cfg'), haproxyConfig(hp, backends, openFileLimit()));
    const h = startDaemon('haproxy', toolPath('haproxy'), ['-f', path.join(work, 'haproxy.cfg'), '-db']);
    daemons.push(h);
    await waitListening(h, hp);
    targets.push({ name: 'haproxy', port: hp, pid: h.child.pid as number });
    for (const [i, spec] of roots.entries()) {
      // [setsid:]ROOT[|--flag,--flag]: node flags for that build only; setsid: in a session of its own.
      const ownSession = spec.startsWith('setsid:');
      const [root, flags] = spec.slice(ownSession ? 'setsid:'.length : 0).split('|') as [string, string | undefined];
      const own = flags ? flags.split(',') : [];
      const port = await freePort();
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (values['heap-profile'])
        env.GROUNDWORK_BENCH_HEAP_PROFILE = path.join(values['heap-profile'], `node-${i}.heapprofile`);
      if (values['loop-stats']) env.GROUNDWORK_BENCH_LOOP_STATS = values['loop-stats'];
      if (values.profile) env.GROUNDWORK_BENCH_CPU_PROFILE = path.join(values.profile, `node-${i}.cpuprofile`);
      const d = startDaemon(
        `node-${i}`,
        process.execPath,
        [...nodeFlags, ...own, '--import', 'tsx', SERVE, JSON.stringify({ root, port, backends })],
        { cwd: root, env, ownSession },
      );
      daemons.push(d);
      await waitListening(d, port);
      targets.push({ name: `node-${i} (${spec})`, port, pid: d.child.pid as number });
    }
    const rounds = Number(values.rounds);
    const seconds = Number(values.seconds);
    const cpu: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const url = `http://127.0.0.1:${t.port}/`;
        await runWrk(url, { threads: 2, connections: 64, seconds: 2 });
        const [u0, s0] = cpuSplit(t.pid);
        const w = await runWrk(url, { threads: 2, connections: 64, seconds });
        const [u1, s1] = cpuSplit(t.pid);
        const us = ((u1 - u0 + s1 - s0) * 1e6) / w.requests;
        const userUs = ((u1 - u0) * 1e6) / w.requests;
        (cpu[t.name] ??= []).push(us);
        process.stdout.write(
          `round ${r + 1} ${t.name.padEnd(40)} ${w.requestsPerSecond.toFixed(0).padStart(7)} req/s p50 ${w.p50Ms.toFixed(2)} p99 ${w.p99Ms.toFixed(2)} ms errors ${w.errors} cpu ${us.toFixed(1)} us/req (user ${userUs.toFixed(1)}) load ${os.loadavg()[0]?.toFixed(2)}\n`,
        );
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const ref = med(cpu.haproxy ?? [1]);
    for (const [name, xs] of Object.entries(cpu))
      process.stdout.write(
        `median cpu ${name.padEnd(40)} ${med(xs).toFixed(1)} us/req  ${(med(xs) / ref).toFixed(2)}x haproxy\n`,
      );
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    if (values.output) for (const d of daemons) writeFileSync(path.join(values.output, `${d.name}.log`), d.output());
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
