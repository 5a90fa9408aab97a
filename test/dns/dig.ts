/**
 * Real DNS clients and servers for the DNS tests: `dig` (Debian bind9-dnsutils) as the client,
 * `dnsmasq` as an upstream resolver. Both must be installed (.ci/run installs them).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '../helpers/wait.js';
import { isAlive, waitForExit } from '../helpers/processes.js';

const run = promisify(execFile);

export interface DigResult {
  status: string;
  flags: string[];
  /** Lines of the answer section, whitespace collapsed: `api.homelab.internal. 30 IN A 127.77.0.2`. */
  answer: string[];
  authority: string[];
  additional: string[];
  /** The EDNS line when the reply carried OPT. */
  edns?: string;
  raw: string;
}

/** `dig @127.0.0.1 -p PORT ARGS...` with one try, parsed. */
export async function dig(port: number, ...args: string[]): Promise<DigResult> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+timeout=3', ...args]);
  return parseDig(stdout);
}

function section(raw: string, title: string): string[] {
  const m = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
  if (!m?.[1]) return [];
  return m[1]
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith(';'))
    .map((l) => l.trim().replace(/\s+/g, ' '));
}

export function parseDig(raw: string): DigResult {
  const status = /status: ([A-Z]+)/.exec(raw)?.[1];
  if (!status) throw new Error(`dig printed no status:\n${raw}`);
  return {
    status,
    flags: (/;; flags: ([a-z ]*);/.exec(raw)?.[1] ?? '').split(' ').filter(Boolean),
    answer: section(raw, 'ANSWER'),
    authority: section(raw, 'AUTHORITY'),
    additional: section(raw, 'ADDITIONAL'),
    edns: /; EDNS: (.*)/.exec(raw)?.[1],
    raw,
  };
}

export interface Dnsmasq {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A dnsmasq authoritative for `zone` (so its negative answers carry an SOA, which makes them
 * cacheable), with `hosts` as A records, every TTL `ttl` seconds.
 */
export async function startDnsmasq(
  port: number,
  zone: string,
  hosts: Record<string, string>,
  ttl = 300,
): Promise<Dnsmasq> {
  const args = [
    '--no-daemon',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    '--pid-file=',
    '--user=root',
    `--auth-server=ns.${zone},127.0.0.1`,
    `--auth-zone=${zone}`,
    `--auth-ttl=${ttl}`,
    `--local-ttl=${ttl}`,
    ...Object.entries(hosts).map(([name, ip]) => `--host-record=${name},${ip}`),
  ];
  const child = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const pid = child.pid as number;
  const stop = async () => {
    if (child.exitCode === null && isAlive(pid)) {
      child.kill('SIGTERM');
      await waitForExit(pid, `dnsmasq (pid ${pid}) to exit`);
    }
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`dnsmasq exited with ${child.exitCode}: ${stderr}`);
        const first = Object.keys(hosts)[0] ?? zone;
        const r = await dig(port, first, 'A').catch(() => undefined);
        return r?.status === 'NOERROR';
      },
      { what: `dnsmasq on 127.0.0.1:${port} to answer` },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, child, stop };
}
