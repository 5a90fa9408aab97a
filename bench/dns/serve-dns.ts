/**
 * Child process of dns.bench.ts: Groundwork's DnsServer (compiled, from dist/) alone in its
 * process, authoritative for the bench's zone, no upstreams, no logging. Prints `ready PORT`
 * once it listens (UDP and TCP); on SIGTERM it writes its CPU profile (under --profile),
 * reports its counters and exits.
 *
 *   node --import tsx bench/dns/serve-dns.ts '{"root":"...","zone":"homelab.internal","port":0}'
 */
import { reportToParent, startCpuProfile } from '../harness/child.js';
import { importDist } from '../harness/dist.js';

interface Config {
  root: string;
  zone: string;
  port: number;
  records: { name: string; address: string }[];
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
  const { DnsServer } = await importDist<typeof import('../../src/dns/dns-server.js')>(cfg.root, 'dns/dns-server.js');
  const server = new DnsServer({
    zone: cfg.zone,
    records: cfg.records.map((r) => ({ type: 'A', name: r.name, ttl: 30, address: r.address })),
    listen: { host: '127.0.0.1', port: cfg.port },
  });
  await server.start();
  const stopProfile = await startCpuProfile();
  process.once('SIGTERM', () => {
    void (async () => {
      await stopProfile();
      reportToParent(server.stats());
      await server.close();
      process.exit(0);
    })();
  });
  process.stdout.write(`ready ${server.address().port}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
