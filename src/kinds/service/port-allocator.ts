/**
 * Hands out ports for `auto`. A port is never given twice (the reserved set holds every port in
 * recorded state plus those handed out in this run), and a port that another program holds is
 * skipped (we try to bind it first).
 */
import net from 'node:net';
import type { JsonObject } from '../../model/json.js';
import type { PortPool } from '../resource-kind.js';
import { parseServiceAddress } from './service-address.js';

export class PortAllocator implements PortPool {
  private readonly reserved: Set<number>;
  private cursor: number;
  private queue: Promise<unknown> = Promise.resolve();

  /** Where the next address port scan starts. */
  private addressCursor: number;

  constructor(
    reserved: Iterable<number>,
    private readonly range: { from: number; to: number } = { from: 20000, to: 29999 },
    private readonly addressRange: { from: number; to: number } = DEFAULT_ADDRESS_PORT_RANGE,
  ) {
    this.reserved = new Set(reserved);
    // A random start: two stacks (or test runs) on one machine rarely race for the same port
    // between our bind check and the service's own bind.
    this.cursor = range.from + Math.floor(Math.random() * (range.to - range.from + 1));
    this.addressCursor = addressRange.from + Math.floor(Math.random() * (addressRange.to - addressRange.from + 1));
  }

  reserve(port: number): void {
    this.reserved.add(port);
  }
  release(port: number): void {
    this.reserved.delete(port);
  }
  isReserved(port: number): boolean {
    return this.reserved.has(port);
  }

  /** Serialised, so parallel steps never race for the same port. */
  allocate(purpose: 'instance' | 'address' = 'instance'): Promise<number> {
    const next = this.queue.then(() => this.scan(purpose));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async scan(purpose: 'instance' | 'address'): Promise<number> {
    const range = purpose === 'address' ? this.addressRange : this.range;
    const cursor = purpose === 'address' ? this.addressCursor : this.cursor;
    const size = range.to - range.from + 1;
    for (let i = 0; i < size; i++) {
      const port = range.from + ((cursor - range.from + i) % size);
      if (this.reserved.has(port)) continue;
      if (await canBind(port)) {
        this.reserved.add(port);
        const after = port + 1 > range.to ? range.from : port + 1;
        if (purpose === 'address') this.addressCursor = after;
        else this.cursor = after;
        return port;
      }
    }
    throw new Error(
      purpose === 'address'
        ? `no free port for a service address in ${range.from}-${range.to}; stop something that listens there`
        : `no free port in ${range.from}-${range.to}; stop something, or widen the range`,
    );
  }
}

export function canBind(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export const DEFAULT_PORT_RANGE = { from: 20000, to: 29999 } as const;

/**
 * Stable ports of service addresses: below Linux's ephemeral range (32768-60999, where outgoing
 * connections take their local ports) and apart from instance ports.
 */
export const DEFAULT_ADDRESS_PORT_RANGE = { from: 30000, to: 32767 } as const;

/** GROUNDWORK_PORT_RANGE=FROM-TO narrows where `auto` ports come from. */
export function portRangeOf(env: Record<string, string | undefined>): { from: number; to: number } {
  const m = /^(\d+)-(\d+)$/.exec(env.GROUNDWORK_PORT_RANGE ?? '');
  if (!m) return { ...DEFAULT_PORT_RANGE };
  const from = Number(m[1]);
  const to = Number(m[2]);
  return from >= 1024 && to <= 65535 && from <= to ? { from, to } : { ...DEFAULT_PORT_RANGE };
}

/**
 * Every port a recorded service holds (its instances' `outputs.instances[].ports` and its stable
 * address's `outputs.address.ports`), so a new allocation
 * never collides with a running instance. Rows of other kinds hold none.
 */
export function recordedPorts(rows: readonly { outputs: JsonObject }[]): number[] {
  const out: number[] = [];
  for (const r of rows) {
    const stable = parseServiceAddress(r.outputs.address);
    if (stable) out.push(...Object.values(stable.ports));
    const inst = r.outputs.instances;
    if (!Array.isArray(inst)) continue;
    for (const i of inst) {
      const ports = i !== null && typeof i === 'object' && !Array.isArray(i) ? i.ports : undefined;
      if (ports && typeof ports === 'object' && !Array.isArray(ports))
        for (const p of Object.values(ports)) if (typeof p === 'number') out.push(p);
    }
  }
  return out;
}
