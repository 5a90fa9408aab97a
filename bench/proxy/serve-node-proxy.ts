/**
 * Child process of proxy-throughput.bench.ts: the built-in NodeProxy (compiled, from dist/)
 * alone in its process, round-robin over the bench's backends, access log off. Prints
 * `ready PORT` once it listens; on SIGTERM it writes its CPU profile (under --profile) and
 * reports its metrics.
 *
 *   node --import tsx bench/proxy/serve-node-proxy.ts '{"root":"...","port":8080,"backends":[8081,8082]}'
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { reportToParent, startCpuProfile } from '../harness/child.js';
import { importDist } from '../harness/dist.js';

interface Config {
  root: string;
  port: number;
  backends: number[];
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
  const { NodeProxy } = await importDist<typeof import('../../src/proxy/node/node-proxy.js')>(
    cfg.root,
    'proxy/node/node-proxy.js',
  );
  const { Duration } = await importDist<typeof import('../../src/util/duration.js')>(cfg.root, 'util/duration.js');
  const proxy = new NodeProxy();
  await proxy.setListeners([{ name: 'bench', protocol: 'http', host: '127.0.0.1', port: cfg.port }]);
  proxy.setPool(
    'backends',
    cfg.backends.map((port, i) => ({ id: `b${i}`, host: '127.0.0.1', port, weight: 1 })),
  );
  proxy.setRoutes([
    {
      id: 'all',
      host: null,
      pathPrefix: '/',
      listeners: [],
      pool: 'backends',
      balance: 'round-robin',
      connectTimeout: Duration.seconds(5),
      idleTimeout: Duration.seconds(60),
      totalTimeout: Duration.minutes(5),
      maxBodyBytes: 10 * 1024 * 1024,
    },
  ]);
  const stopProfile = await startCpuProfile();
  const stopLoopStats = startLoopStats(Number(process.env.GROUNDWORK_BENCH_LOOP_STATS ?? 0));
  const stopHeapProfile = await startHeapProfile(process.env.GROUNDWORK_BENCH_HEAP_PROFILE);
  process.once('SIGTERM', () => {
    void (async () => {
      await stopProfile();
      stopLoopStats();
      await stopHeapProfile();
      const m = proxy.metrics();
      reportToParent({
        routes: m.routes,
        backends: Object.fromEntries(
          Object.entries(m.backends).map(([k, v]) => [k, { requests: v.requests, status: v.status }]),
        ),
      });
      await proxy.close();
      process.exit(0);
    })();
  });
  process.stdout.write(`ready ${cfg.port}\n`);
}

/**
 * What outlives a scavenge (objects promoted to the old generation cause the mark-compacts of a
 * latency tail): V8's sampling heap profiler keeping objects until a major GC collects them,
 * written to `file` (.heapprofile, open in Chrome DevTools) at SIGTERM. quick-compare's
 * `--heap-profile DIR` sets it.
 */
async function startHeapProfile(file: string | undefined): Promise<() => Promise<void>> {
  if (!file) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

/**
 * Where a latency tail could come from, every `seconds` (0: off): how late the event loop ran
 * (perf_hooks' event-loop delay histogram, 1 ms resolution) and the GC pauses of that window.
 * quick-compare's `--loop-stats S` sets it and keeps the lines (`--output`).
 */
function startLoopStats(seconds: number): () => void {
  if (!(seconds > 0)) return () => undefined;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let gcCount = 0;
  let gcMs = 0;
  let gcMax = 0;
  const gcOver: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      gcMs += e.duration;
      gcMax = Math.max(gcMax, e.duration);
      if (e.duration >= 2) gcOver.push(Math.round(e.duration * 10) / 10);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const ms = (ns: number) => (ns / 1e6).toFixed(2);
    const c = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    process.stderr.write(
      `loop-stats delay p50 ${ms(delay.percentile(50))} p99 ${ms(delay.percentile(99))} max ${ms(delay.max)} ms; ` +
        `gc ${gcCount} pauses, ${gcMs.toFixed(1)} ms total, max ${gcMax.toFixed(1)} ms, >=2 ms: [${gcOver.join(' ')}]; ` +
        `cpu ${((c.user + c.system) / 1000).toFixed(0)} ms\n`,
    );
    delay.reset();
    gcCount = 0;
    gcMs = 0;
    gcMax = 0;
    gcOver.length = 0;
  }, seconds * 1000);
  return () => {
    clearInterval(timer);
    delay.disable();
    obs.disconnect();
  };
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
