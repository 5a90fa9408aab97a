/**
 * `auto` ports: never a port another program holds, never one port for two instances. The
 * allocator starts at a random point of its range, so the test narrows the range
 * (GROUNDWORK_PORT_RANGE) to 40 ports and holds every fourth one: whatever the starting point,
 * allocation runs into held ports and has to skip them.
 */
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpGet } from '../helpers/http.js';
import { describeLeftovers, isEmpty, sweepLeftovers } from '../helpers/leftovers.js';
import { processesWithArg } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import {
  footprintOf,
  nodeService,
  startInProcess,
  writeServiceScript,
  writeStack,
  type InProcessDaemon,
  type Status,
} from './daemon-harness.js';

const RANGE_SIZE = 40;

function listen(port: number, host: string): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => s.destroy());
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host, exclusive: true }, () => resolve(srv));
  });
}

function close(srv: net.Server): Promise<void> {
  return new Promise((r) => srv.close(() => r()));
}

function allPorts(s: Status): { who: string; port: number }[] {
  return s.services.flatMap((svc) =>
    svc.instances.flatMap((i) =>
      Object.entries(i.ports).map(([name, port]) => ({ who: `${svc.name}/${i.index}:${name}`, port })),
    ),
  );
}

describe('auto ports', () => {
  let dir: string;
  let d: InProcessDaemon | undefined;
  let held: net.Server[] = [];

  beforeEach(() => {
    dir = makeTempDir('ports');
    writeServiceScript(dir);
  });

  afterEach(async () => {
    const daemon = d;
    d = undefined;
    try {
      // Throws when down did not complete, stop() did not finish, or anything was left.
      if (daemon) await daemon.close();
      else {
        const left = await sweepLeftovers(footprintOf(dir));
        expect(isEmpty(left), `left by a test whose daemon never started:\n  ${describeLeftovers(left)}`).toBe(true);
      }
    } finally {
      await Promise.all(held.map(close));
      held = [];
      removeTempDir(dir);
    }
  });

  /** A 40-port range in 20000-29999 where every fourth port is held, half on 127.0.0.1, half on 0.0.0.0. */
  async function holdRange(): Promise<{ from: number; to: number; heldPorts: number[] }> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const from = randomInt(20000, 29999 - RANGE_SIZE);
      const servers: net.Server[] = [];
      const heldPorts: number[] = [];
      for (let p = from; p < from + RANGE_SIZE; p += 4) {
        const srv = await listen(p, heldPorts.length % 2 === 0 ? '127.0.0.1' : '0.0.0.0');
        if (!srv) break;
        servers.push(srv);
        heldPorts.push(p);
      }
      if (heldPorts.length === RANGE_SIZE / 4) {
        held.push(...servers);
        return { from, to: from + RANGE_SIZE - 1, heldPorts };
      }
      await Promise.all(servers.map(close));
    }
    throw new Error('could not hold every fourth port of any 40-port range in 20000-29999');
  }

  it('3 services × 3 replicas × 2 ports: no held port, no port twice, every instance serving on its ports', async () => {
    const { from, to, heldPorts } = await holdRange();
    const id = randomBytes(3).toString('hex');
    const svc = (n: string) => nodeService(`gw-ports-${id}-${n}`, { replicas: 3 }, ['http', 'admin']);
    writeStack(dir, { stack: 'ports', services: { a: svc('a'), b: svc('b'), c: svc('c') } });
    d = await startInProcess(dir, { env: { GROUNDWORK_PORT_RANGE: `${from}-${to}` } });
    const api = d.api;
    const status = await api.waitAllHealthy(['a', 'b', 'c']);
    const ports = allPorts(status);
    expect(ports).toHaveLength(18);
    for (const { who, port } of ports) {
      expect(heldPorts, `${who} got held port ${port}`).not.toContain(port);
      expect(port, `${who} is inside GROUNDWORK_PORT_RANGE`).toBeGreaterThanOrEqual(from);
      expect(port).toBeLessThanOrEqual(to);
    }
    const seen = new Map<number, string>();
    for (const { who, port } of ports) {
      expect(seen.get(port), `${who} and ${seen.get(port)} share port ${port}`).toBeUndefined();
      seen.set(port, who);
    }
    // Every instance really listens on both of its ports (a port given twice could not be bound twice).
    for (const s of status.services) {
      for (const i of s.instances) {
        for (const p of Object.values(i.ports)) {
          const r = await httpGet(p, '/');
          expect(r.body).toBe(`${s.name} ${i.index} pid ${i.pid}\n`);
        }
      }
    }

    // A service added later gets ports nobody has: not the held ones, not those in recorded state.
    writeStack(dir, { stack: 'ports', services: { a: svc('a'), b: svc('b'), c: svc('c'), e: svc('e') } });
    await api.lines('POST', '/v1/apply', { message: 'add e' });
    const after = await api.waitAllHealthy(['a', 'b', 'c', 'e']);
    const again = allPorts(after);
    expect(again).toHaveLength(24);
    expect(new Set(again.map((p) => p.port)).size, JSON.stringify(again)).toBe(24);
    for (const { who, port } of again) expect(heldPorts, `${who} got held port ${port}`).not.toContain(port);
    // The first 18 kept their ports.
    expect(allPorts(after).filter((p) => !p.who.startsWith('e/'))).toEqual(ports);

    // A restarted instance keeps its ports.
    const victim = after.services.find((s) => s.name === 'b')?.instances[1];
    process.kill(victim?.pid as number, 'SIGKILL');
    const back = await waitFor(
      async () => {
        const i = await api.instance('b', 1);
        return i.pid !== victim?.pid && i.pid !== null && i.state === 'healthy' ? i : undefined;
      },
      { what: 'b/1 to be restarted' },
    );
    expect(back.ports).toEqual(victim?.ports);
  });

  // Instances 0-2 start before instance 3 finds no port; the error is not a PartialFailure, so
  // state does not record the three that run: nothing supervises them and `down` cannot stop them.
  it('running out of ports fails with a message that says so, and leaves no unrecorded instance running', async () => {
    const { from, to } = await holdRange();
    // 30 free ports in the range; 4 replicas × 8 ports = 32 do not fit.
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
    const m = `gw-ports-${randomBytes(3).toString('hex')}`;
    writeStack(dir, { stack: 'ports2', services: { big: nodeService(m, { replicas: 4 }, names) } });
    d = await startInProcess(dir, { env: { GROUNDWORK_PORT_RANGE: `${from}-${to}` } });
    const failed = d.applyEvents.flatMap((e) =>
      e.type === 'step-end' && e.status === 'failed' ? [e.error ?? ''] : [],
    );
    expect(failed.join('\n')).toMatch(/no free port in \d+-\d+/);
    const big = (await d.api.status()).services.find((x) => x.name === 'big');
    const recorded = (big?.instances ?? []).filter((i) => i.pid !== null).map((i) => i.pid);
    const running = processesWithArg(m, 'node');
    expect(running.sort(), `running: ${running.join(', ')}; in status: ${recorded.join(', ')}`).toEqual(
      recorded.sort(),
    );
  });
});
