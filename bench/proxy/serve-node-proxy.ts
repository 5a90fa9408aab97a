/**
 * Child process of proxy-throughput.bench.ts: the built-in NodeProxy (compiled, from dist/)
 * alone in its process, round-robin over the bench's backends, access log off. Prints
 * `ready PORT` once it listens; on SIGTERM it writes its CPU profile (under --profile) and
 * reports its metrics.
 *
 *   node --import tsx bench/proxy/serve-node-proxy.ts '{"root":"...","port":8080,"backends":[8081,8082]}'
 */
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
  process.once('SIGTERM', () => {
    void (async () => {
      await stopProfile();
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

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
