/**
 * A daemon killed with SIGKILL, or stopped by SIGINT or SIGTERM, leaves its services running;
 * the next `groundwork up` adopts them (same pids, health checks resume, nothing started twice)
 * and supervises them as its own: it sees how an adopted instance ended, even one that ended
 * while no daemon ran.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpGet } from '../helpers/http.js';
import { isAlive, processesWithArg } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import {
  nodeService,
  readDaemonInfo,
  spawnUp,
  teardownSpawned,
  writeServiceScript,
  writeStack,
  type SpawnedDaemon,
  type Status,
} from './daemon-harness.js';

type Pids = Record<string, number>;

function pidsOf(s: Status): Pids {
  const out: Pids = {};
  for (const svc of s.services) for (const i of svc.instances) out[`${svc.name}/${i.index}`] = i.pid as number;
  return out;
}

function portOf(s: Status, name: string, index: number): number {
  const p = s.services.find((x) => x.name === name)?.instances.find((i) => i.index === index)?.ports.http;
  if (p === undefined) throw new Error(`no port for ${name}/${index}`);
  return p;
}

describe('adoption after the daemon stops (SIGKILL, SIGINT, SIGTERM)', () => {
  let dir: string;
  const daemons: SpawnedDaemon[] = [];

  beforeEach(() => {
    dir = makeTempDir('adopt');
    writeServiceScript(dir);
  });

  afterEach(async () => {
    const live = daemons.filter((d) => isAlive(d.pid));
    daemons.length = 0;
    try {
      // Throws when down did not complete, the daemon did not exit, or anything was left.
      await teardownSpawned(dir, live[live.length - 1]);
      expect(
        live.filter((d) => isAlive(d.pid)).map((d) => d.pid),
        'an earlier daemon still runs beside the last one',
      ).toEqual([]);
    } finally {
      for (const d of live) if (isAlive(d.pid)) d.child.kill('SIGKILL');
      removeTempDir(dir);
    }
  });

  it('services keep running; the next daemon adopts the same pids, probes them, and restarts a killed one', async () => {
    const id = randomBytes(4).toString('hex');
    const markers = { alpha: `gw-adopt-${id}-alpha`, beta: `gw-adopt-${id}-beta` };
    const replicas = { alpha: 1, beta: 2 };
    writeStack(dir, {
      stack: 'adopt',
      services: {
        alpha: nodeService(markers.alpha, { replicas: replicas.alpha }),
        beta: nodeService(markers.beta, { replicas: replicas.beta }),
      },
    });
    const first = await spawnUp(dir);
    daemons.push(first);
    const before = await first.api.waitAllHealthy(['alpha', 'beta']);
    const pids = pidsOf(before);
    expect(Object.keys(pids).sort()).toEqual(['alpha/0', 'beta/0', 'beta/1']);
    expect(readDaemonInfo(dir)?.pid).toBe(first.pid);

    process.kill(first.pid, 'SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // Every service still answers, from the same process.
    for (const [key, pid] of Object.entries(pids)) {
      const [name, index] = key.split('/') as [string, string];
      const r = await httpGet(portOf(before, name, Number(index)), '/');
      expect(r.status).toBe(200);
      expect(r.body).toBe(`${name} ${index} pid ${pid}\n`);
    }

    const second = await spawnUp(dir);
    daemons.push(second);
    expect(second.pid).not.toBe(first.pid);
    expect(readDaemonInfo(dir)?.pid).toBe(second.pid);
    // Health checks resume: a new daemon's monitors have no probe result until its own probes ran.
    const adopted = await waitFor(
      async () => {
        const s = await second.api.status();
        const all = s.services.flatMap((svc) => svc.instances);
        return all.length === 3 && all.every((i) => i.state === 'healthy' && i.lastProbe === 'HTTP 200')
          ? s
          : undefined;
      },
      { what: 'every adopted instance probed healthy by the new daemon', timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(pidsOf(adopted), 'the adopted instances are the same processes').toEqual(pids);
    for (const svc of adopted.services) for (const i of svc.instances) expect(i.restarts).toBe(0);
    // Nothing runs twice: exactly `replicas` service processes per marker (shims carry the marker too, so argv0 node).
    expect(processesWithArg(markers.alpha, 'node')).toHaveLength(replicas.alpha);
    expect(processesWithArg(markers.beta, 'node')).toHaveLength(replicas.beta);
    expect(processesWithArg(markers.beta, 'node').sort()).toEqual([pids['beta/0'], pids['beta/1']].sort());

    // SIGKILL one adopted instance: the new daemon records how it ended and restarts it.
    const victim = pids['beta/1'] as number;
    process.kill(victim, 'SIGKILL');
    const replaced = await waitFor(
      async () => {
        const i = await second.api.instance('beta', 1);
        return i.pid !== null && i.pid !== victim && i.state === 'healthy' ? i : undefined;
      },
      { what: 'beta/1 to be restarted by the new daemon', timeoutMs: 15_000 },
    );
    expect(replaced.restarts).toBe(1);
    expect(replaced.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    const exit = (await second.api.events('beta')).find((e) => e.type === 'exit');
    expect(exit?.instance).toBe('beta/1');
    expect(exit?.reason).toContain(`pid ${victim}`);
    expect(exit?.reason).toContain('SIGKILL');
    expect(processesWithArg(markers.beta, 'node')).toHaveLength(replicas.beta);
    expect(isAlive(pids['beta/0'] as number)).toBe(true);
  });

  it('an instance that exits while no daemon runs: the next daemon learns its exit code and restarts it', async () => {
    const m = `gw-adopt-${randomBytes(4).toString('hex')}`;
    writeStack(dir, { stack: 'adopt2', services: { solo: nodeService(m, { replicas: 1 }) } });
    const first = await spawnUp(dir);
    daemons.push(first);
    const before = await first.api.waitAllHealthy(['solo']);
    const pid = pidsOf(before)['solo/0'] as number;
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    // The service ends with code 7 while no daemon watches; its shim records that.
    await httpGet(portOf(before, 'solo', 0), '/exit?code=7');
    await waitFor(() => !isAlive(pid), { what: `solo/0 (pid ${pid}) to exit` });

    const second = await spawnUp(dir);
    daemons.push(second);
    const back = await waitFor(
      async () => {
        const i = await second.api.instance('solo', 0);
        return i.pid !== null && i.pid !== pid && i.state === 'healthy' ? i : undefined;
      },
      { what: 'solo/0 to be restarted by the new daemon', timeoutMs: 15_000 },
    );
    expect(back.lastExit).toMatchObject({ code: 7, signal: null });
    const exit = (await second.api.events('solo')).find((e) => e.type === 'exit');
    expect(exit?.reason).toBe(`pid ${pid} exited with code 7`);
    expect(processesWithArg(m, 'node')).toEqual([back.pid]);
  });

  // `groundwork up` stopped by Ctrl-C (SIGINT), then by a service manager (SIGTERM): each time the
  // daemon exits 0, its services keep serving from the same processes, and the next daemon adopts them.
  it('SIGINT and SIGTERM stop the daemon and leave its services running; the next daemon adopts them', async () => {
    const m = `gw-adopt-${randomBytes(4).toString('hex')}`;
    writeStack(dir, { stack: 'adopt-signals', services: { solo: nodeService(m, { replicas: 2 }) } });
    let current = await spawnUp(dir);
    daemons.push(current);
    const before = await current.api.waitAllHealthy(['solo']);
    const pids = pidsOf(before);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.kill(current.pid, signal);
      expect(await current.exited, `groundwork up after ${signal}:\n${current.output()}`).toBe(0);
      expect(current.output()).toContain(`"type":"ready"`);
      expect(readDaemonInfo(dir), `daemon.json after ${signal}`).toBeUndefined();
      for (const [key, pid] of Object.entries(pids)) {
        const index = Number(key.split('/')[1]);
        expect(isAlive(pid), `${key} (pid ${pid}) after ${signal}`).toBe(true);
        expect((await httpGet(portOf(before, 'solo', index), '/')).body).toBe(`solo ${index} pid ${pid}\n`);
      }
      const next = await spawnUp(dir);
      daemons.push(next);
      const adopted = await waitFor(
        async () => {
          const s = await next.api.status();
          const all = s.services.flatMap((svc) => svc.instances);
          return all.length === 2 && all.every((i) => i.state === 'healthy' && i.lastProbe === 'HTTP 200')
            ? s
            : undefined;
        },
        { what: `both instances adopted and probed healthy after ${signal}`, timeoutMs: 15_000, intervalMs: 50 },
      );
      expect(pidsOf(adopted), `the same processes, adopted after ${signal}`).toEqual(pids);
      for (const svc of adopted.services) for (const i of svc.instances) expect(i.restarts).toBe(0);
      expect(processesWithArg(m, 'node').sort()).toEqual(Object.values(pids).sort());
      current = next;
    }
  });
});
