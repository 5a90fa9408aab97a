/**
 * Child process of https.bench.ts: the built-in NodeProxy (compiled, from dist/) terminating TLS
 * on one listener with a certificate from files, round-robin over the bench's backends, access
 * log off. Prints `ready PORT` once it listens.
 *
 *   node --import tsx bench/proxy/serve-node-https-proxy.ts '{"root":"...","port":8443,"backends":[8081],"cert":"...","key":"...","store":"..."}'
 */
import { importDist } from '../harness/dist.js';

interface Config {
  root: string;
  port: number;
  backends: number[];
  cert: string;
  key: string;
  store: string;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
  const { NodeProxy } = await importDist<typeof import('../../src/proxy/node/node-proxy.js')>(
    cfg.root,
    'proxy/node/node-proxy.js',
  );
  const { CertificateManager } = await importDist<typeof import('../../src/tls/certificate-manager.js')>(
    cfg.root,
    'tls/certificate-manager.js',
  );
  const { Duration } = await importDist<typeof import('../../src/util/duration.js')>(cfg.root, 'util/duration.js');
  const { systemClock } = await importDist<typeof import('../../src/util/clock.js')>(cfg.root, 'util/clock.js');
  const { silentLogger } = await importDist<typeof import('../../src/util/logger.js')>(cfg.root, 'util/logger.js');
  const certificates = new CertificateManager({ storeDir: cfg.store, clock: systemClock, logger: silentLogger });
  const proxy = new NodeProxy({ certificates });
  await proxy.setListeners([
    {
      name: 'bench',
      protocol: 'http',
      host: '127.0.0.1',
      port: cfg.port,
      tls: {
        certificates: [{ hosts: ['bench.lab.test'], source: { kind: 'files', cert: cfg.cert, key: cfg.key } }],
        defaultHost: null,
        hsts: null,
      },
    },
  ]);
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
  process.once('SIGTERM', () => {
    void proxy.close().then(() => {
      certificates.close();
      process.exit(0);
    });
  });
  process.stdout.write(`ready ${cfg.port}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
