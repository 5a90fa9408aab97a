/**
 * Supervision with real processes: restarts after a kill, crash loops with backoff, restart
 * policies, liveness and readiness probes. Most cases run the daemon in-process; the CPU
 * measurement runs it as its own OS process (`groundwork up`) so /proc counts only the daemon
 * and the shims it reaped.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { httpGet } from '../helpers/http.js';
import { isAlive, killProcessesUnder } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import {
  cpuSecondsWithChildren,
  nodeService,
  OffsetClock,
  sleep,
  spawnUp,
  startInProcess,
  teardownSpawned,
  writeServiceScript,
  writeStack,
  type EventRow,
  type InProcessDaemon,
  type InstanceStatus,
  type SpawnedDaemon,
  type Status,
} from './daemon-harness.js';

const marker = () => `gw-sup-${randomBytes(4).toString('hex')}`;

function report(line: string): void {
  console.log(`[measure] ${line}`);
}

describe('supervision, daemon in-process', () => {
  let dir: string;
  let d: InProcessDaemon | undefined;

  beforeEach(() => {
    dir = makeTempDir('sup');
    writeServiceScript(dir);
  });

  afterEach(async () => {
    const t = d ? await d.close() : { downCompleted: true, leftovers: await killProcessesUnder(dir) };
    d = undefined;
    removeTempDir(dir);
    if (!t.downCompleted)
      console.warn(
        '[teardown] POST /v1/down did not finish (see "down completes while an instance waits in its restart backoff"); killed the processes instead',
      );
    expect(t.leftovers, 'processes still running after POST /v1/down').toBe(0);
  });

  it('(a) restarts a SIGKILLed instance: new pid, restarts=1, healthy and answering again', async () => {
    writeStack(dir, { stack: 'sup-a', services: { web: nodeService(marker(), { replicas: 2 }) } });
    d = await startInProcess(dir);
    const api = d.api;
    await api.waitAllHealthy(['web']);
    const latencies: { healthyMs: number; answeringMs: number }[] = [];
    for (const index of [0, 1]) {
      const before = await api.instance('web', index);
      const oldPid = before.pid as number;
      const port = before.ports.http as number;
      const t0 = performance.now();
      process.kill(oldPid, 'SIGKILL');
      // Two clocks: until status says a new pid is healthy, and until the port answers from a new pid.
      const answering = waitFor(
        async () => {
          const r = await httpGet(port, '/', 500).catch(() => undefined);
          return r && r.status === 200 && !r.body.includes(`pid ${oldPid}\n`) ? performance.now() - t0 : undefined;
        },
        { what: `port ${port} to answer from a new process`, timeoutMs: 15_000, intervalMs: 10 },
      );
      const after = await waitFor(
        async () => {
          const i = await api.instance('web', index);
          return i.pid !== null && i.pid !== oldPid && i.state === 'healthy' ? i : undefined;
        },
        { what: `web/${index} to be healthy with a new pid`, timeoutMs: 15_000, intervalMs: 10 },
      );
      const healthyMs = performance.now() - t0;
      latencies.push({ healthyMs, answeringMs: await answering });
      expect(after.restarts).toBe(1);
      expect(isAlive(after.pid as number)).toBe(true);
      expect(isAlive(oldPid)).toBe(false);
      expect(after.ports.http, 'a restarted instance keeps its port').toBe(port);
      expect(after.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    }
    const events = await api.events('web');
    expect(events.filter((e) => e.type === 'exit').map((e) => e.reason)).toEqual([
      expect.stringContaining('SIGKILL'),
      expect.stringContaining('SIGKILL'),
    ]);
    expect(events.filter((e) => e.type === 'restarted')).toHaveLength(2);
    for (const [i, l] of latencies.entries())
      report(
        `(a) restart after SIGKILL, web/${i}: new pid healthy in status after ${l.healthyMs.toFixed(0)} ms; port answering from the new pid after ${l.answeringMs.toFixed(0)} ms (acceptance: within 1 s)`,
      );
    // The acceptance is 1 s; asserted generously because this machine runs other suites at the same time.
    for (const l of latencies) expect(l.healthyMs).toBeLessThan(3000);
  });

  it('(c) restart policies: on-failure + exit 0 ends exited; on-failure + exit 3 restarts; never ends exited', async () => {
    writeStack(dir, {
      stack: 'sup-c',
      services: {
        // 0.8 s: longer than the 300 ms apply waits to see an instance without a health check start.
        done: { command: 'sleep 0.8; exit 0', restart: 'on-failure', stop_grace: '1s' },
        fails: { command: 'sleep 0.8; exit 3', restart: 'on-failure', stop_grace: '1s' },
        never: { command: 'sleep 0.8; exit 1', restart: 'never', stop_grace: '1s' },
      },
    });
    d = await startInProcess(dir);
    const api = d.api;
    const settled = await waitFor(
      async () => {
        const s = await api.status();
        const one = (n: string) => s.services.find((x) => x.name === n)?.instances[0];
        const [done, fails, never] = [one('done'), one('fails'), one('never')];
        return done?.state === 'exited' && never?.state === 'exited' && (fails?.restarts ?? 0) >= 1
          ? { done, fails, never }
          : undefined;
      },
      { what: 'done and never to exit, fails to be restarted', timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(settled.done).toMatchObject({ restarts: 0, pid: null, lastExit: { code: 0, signal: null } });
    expect(settled.done.reason).toContain('on-failure');
    expect(settled.never).toMatchObject({ restarts: 0, pid: null, lastExit: { code: 1, signal: null } });
    expect(settled.never.reason).toContain('never');
    // Nothing restarts them later either (the poller runs every 200 ms).
    await sleep(1500);
    const events = await api.events();
    for (const svc of ['done', 'never']) {
      expect(
        events.filter((e) => e.address === `service.${svc}` && e.type === 'restarted'),
        `${svc} must not be restarted`,
      ).toEqual([]);
      expect((await api.instance(svc, 0)).state).toBe('exited');
    }
    expect(events.some((e) => e.address === 'service.fails' && e.type === 'restarted')).toBe(true);
  });

  it('(d) a failing liveness probe (restart: always) gets the instance restarted', async () => {
    writeStack(dir, {
      stack: 'sup-d',
      services: {
        live: nodeService(marker(), { liveness: { exec: { command: 'false' }, interval: '300ms', unhealthy: 2 } }),
      },
    });
    d = await startInProcess(dir);
    const api = d.api;
    const first = await api.instance('live', 0);
    const restarted = await waitFor(
      async () => {
        const i = await api.instance('live', 0);
        return i.restarts >= 1 && i.pid !== null && i.pid !== first.pid ? i : undefined;
      },
      { what: 'live/0 to be restarted after liveness failures', timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(isAlive(first.pid as number)).toBe(false);
    expect(isAlive(restarted.pid as number)).toBe(true);
    const events = await api.events('live');
    expect(events.find((e) => e.type === 'liveness-failed')?.reason).toContain('exit 1');
    expect(events.findIndex((e) => e.type === 'liveness-failed')).toBeLessThan(
      events.findIndex((e) => e.type === 'restarted'),
    );
  });

  // Liveness exists to recover hung services. A service that exits 0 on SIGTERM (as most do) is
  // stopped by the liveness check and then, under on-failure, never started again.
  it('(d) a failing liveness probe gets the instance restarted under restart: on-failure too', async () => {
    writeStack(dir, {
      stack: 'sup-d2',
      services: {
        live: nodeService(marker(), {
          restart: 'on-failure',
          liveness: { exec: { command: 'false' }, interval: '300ms', unhealthy: 2 },
        }),
      },
    });
    d = await startInProcess(dir);
    const api = d.api;
    const first = await api.instance('live', 0);
    await waitFor(async () => (await api.events('live')).some((e) => e.type === 'liveness-failed'), {
      what: 'a liveness failure',
      timeoutMs: 10_000,
    });
    const after = await waitFor(
      async () => {
        const i = await api.instance('live', 0);
        return (i.restarts >= 1 && i.pid !== null && i.pid !== first.pid) || i.state === 'exited' ? i : undefined;
      },
      { what: 'live/0 to be restarted or to end', timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(after.state, `live/0 after a liveness failure: ${after.reason}`).not.toBe('exited');
    expect(after.restarts).toBeGreaterThanOrEqual(1);
  });

  it('(e) readiness: a failing health endpoint makes the instance unhealthy (not restarted), and healthy again when it recovers', async () => {
    const sick = path.join(dir, 'sick');
    writeStack(dir, {
      stack: 'sup-e',
      services: {
        web: nodeService(marker(), {
          health: { http: { path: '/healthz' }, interval: '300ms', timeout: '1s', unhealthy: 2, healthy: 1 },
          env: { HEALTH_FILE: sick },
        }),
      },
    });
    d = await startInProcess(dir);
    const api = d.api;
    const healthy = (await api.waitAllHealthy(['web'])).services[0]?.instances[0] as InstanceStatus;
    let t0 = performance.now();
    writeFileSync(sick, '');
    const unhealthy = await waitFor(
      async () => {
        const i = await api.instance('web', 0);
        return i.state === 'unhealthy' ? i : undefined;
      },
      { what: 'web/0 to turn unhealthy', timeoutMs: 10_000, intervalMs: 20 },
    );
    const toUnhealthy = performance.now() - t0;
    expect(unhealthy.pid).toBe(healthy.pid);
    expect(unhealthy.restarts).toBe(0);
    expect(unhealthy.ready).toBe(false);
    expect(unhealthy.reason).toContain('503');
    t0 = performance.now();
    rmSync(sick);
    const back = await waitFor(
      async () => {
        const i = await api.instance('web', 0);
        return i.state === 'healthy' ? i : undefined;
      },
      { what: 'web/0 to turn healthy again', timeoutMs: 10_000, intervalMs: 20 },
    );
    const toHealthy = performance.now() - t0;
    expect(back).toMatchObject({ pid: healthy.pid, restarts: 0, ready: true });
    const types = (await api.events('web')).map((e) => e.type);
    expect(types.slice(types.lastIndexOf('unhealthy'))).toEqual(['unhealthy', 'healthy']);
    report(
      `(e) readiness with interval 300ms, unhealthy: 2: unhealthy ${toUnhealthy.toFixed(0)} ms after the endpoint failed; healthy ${toHealthy.toFixed(0)} ms after it recovered`,
    );
  });

  // pause() (used by down, restart and apply) clears the pending restart timer of an instance in
  // backoff but leaves it marked busy, then waits for busy to clear: forever.
  it('down completes while an instance waits in its restart backoff', async () => {
    writeStack(dir, {
      stack: 'sup-g',
      services: {
        flappy: { command: 'sleep 0.8; exit 1', restart: 'always', stop_grace: '1s' },
        web: nodeService(marker()),
      },
    });
    d = await startInProcess(dir);
    const daemon = d;
    const { pid: webPid } = await daemon.api.instance('web', 0);
    await waitFor(async () => (await daemon.api.instance('flappy', 0)).state === 'crashloop', {
      what: 'flappy to reach crashloop',
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const t = await daemon.close();
    expect(t.downCompleted, 'POST /v1/down finished within 8 s').toBe(true);
    expect(isAlive(webPid as number)).toBe(false);
  });

  // The supervisor measures "how long it ran" from the recorded instance. When a restart fails to
  // start, the recorded instance is still the old one, so every failed start looks like a long,
  // stable run and resets the backoff: the restarts come back to back, with no delay.
  it('a failed start does not count as a stable run: the backoff grows between failed starts', async () => {
    const clock = new OffsetClock();
    const failFlag = path.join(dir, 'fail');
    writeStack(dir, {
      stack: 'sup-f',
      services: {
        web: {
          ...nodeService(marker()),
          command: `test -f '${failFlag}' && exit 1; exec node server.mjs`,
          args: undefined,
        },
      },
    });
    d = await startInProcess(dir, { clock });
    const api = d.api;
    const { pid } = (await api.waitAllHealthy(['web'])).services[0]?.instances[0] as InstanceStatus;
    // The instance has now "run" for 31 s: its next exit starts the backoff over (that part is right).
    clock.offsetMs = 31_000;
    writeFileSync(failFlag, '');
    const before = (await api.events('web')).length;
    process.kill(pid as number, 'SIGKILL');
    const decisions = await waitFor(
      async () => {
        const evs = (await api.events('web'))
          .slice(before)
          .filter((e) => e.type === 'starting' || e.type === 'crashloop');
        return evs.length >= 3 ? evs : undefined;
      },
      { what: 'three restart decisions after the kill', timeoutMs: 15_000, intervalMs: 50 },
    );
    const reasons = decisions.map((e) => e.reason);
    // First decision: immediate restart after a stable run. The next ones follow failed starts.
    expect(reasons[0]).toMatch(/SIGKILL\); restarting$/);
    const delays = reasons
      .slice(1, 3)
      .map((r) => Number(/restarting in (\d+)ms/.exec(r)?.[1] ?? /next try in (\d+)ms/.exec(r)?.[1] ?? 0));
    expect(delays, `reasons after failed starts:\n${reasons.join('\n')}`).toEqual([
      expect.any(Number),
      expect.any(Number),
    ]);
    for (const ms of delays)
      expect(ms, `reasons after failed starts:\n${reasons.join('\n')}`).toBeGreaterThanOrEqual(200);
  });
});

/**
 * (b) Crash loops, with the daemon as its own process so its CPU time (and that of the shims it
 * reaped) can be read from /proc over 30 s.
 */
describe('(b) crash loops, daemon as its own process', () => {
  let dir: string;
  let up: SpawnedDaemon | undefined;
  let measured:
    { cpuSeconds: number; restarts: number; restartEvents: number; status: Status; events: EventRow[] } | undefined;
  const WINDOW_MS = 30_000;

  beforeAll(async () => {
    dir = makeTempDir('crashloop');
    writeServiceScript(dir);
    writeStack(dir, {
      stack: 'crashloop',
      services: {
        // Exits at once: apply cannot see it start.
        instant: { command: 'exit 1', restart: 'always', stop_grace: '1s' },
        // A one-shot job that is done at once.
        oneshot: { command: 'exit 0', restart: 'on-failure', stop_grace: '1s' },
        // Runs long enough for apply to see it start, then fails.
        flappy: { command: 'sleep 0.8; exit 1', restart: 'always', stop_grace: '1s' },
      },
    });
    up = await spawnUp(dir);
    const restartsOf = (s: Status) =>
      s.services.reduce((n, svc) => n + svc.instances.reduce((m, i) => m + i.restarts, 0), 0);
    const api = up.api;
    const startStatus = await api.status();
    const startEvents = (await api.events()).length;
    const cpu0 = cpuSecondsWithChildren(up.pid);
    await sleep(WINDOW_MS);
    const cpu1 = cpuSecondsWithChildren(up.pid);
    const status = await api.status();
    const events = await api.events();
    measured = {
      cpuSeconds: cpu1 - cpu0,
      restarts: restartsOf(status) - restartsOf(startStatus),
      restartEvents: events.slice(startEvents).filter((e) => e.type === 'restarted').length,
      status,
      events,
    };
    report(
      `(b) crash loop over ${WINDOW_MS / 1000} s: daemon + reaped shims used ${measured.cpuSeconds.toFixed(2)} s CPU; ${measured.restarts} restarts (${measured.restartEvents} restarted events); states: ${status.services.map((s) => `${s.name}=${s.instances.map((i) => i.state).join(',') || '(no instances)'}`).join(' ')}`,
    );
  }, WINDOW_MS + 60_000);

  afterAll(async () => {
    const t = await teardownSpawned(dir, up);
    removeTempDir(dir);
    if (!t.downCompleted)
      console.warn(
        '[teardown] POST /v1/down did not finish (an instance in crash-loop backoff); killed the processes instead',
      );
    expect(t.leftovers, 'processes still running after POST /v1/down').toBe(0);
  });

  it('a service that fails after starting ends in crashloop, with few restarts and little CPU (backoff)', () => {
    const m = measured as NonNullable<typeof measured>;
    const flappy = m.status.services.find((s) => s.name === 'flappy')?.instances[0];
    expect(flappy?.state, flappy?.reason).toBe('crashloop');
    expect(flappy?.reason).toContain('crash loop');
    // Backoff 0, 400, 800, 1600 ms, then 60 s between attempts: a handful of restarts, not hundreds.
    expect(m.restarts).toBeLessThanOrEqual(12);
    expect(m.cpuSeconds).toBeLessThan(3);
  });

  it('a service whose process exits at once is still supervised: exit 1 (always) ends in crashloop', () => {
    const svc = measured?.status.services.find((s) => s.name === 'instant');
    expect(
      svc?.instances.map((i) => i.state),
      `instant: ${JSON.stringify(svc)}`,
    ).toEqual(['crashloop']);
  });

  it('a service whose process exits at once is still supervised: exit 0 (on-failure) ends exited, not failed', () => {
    const svc = measured?.status.services.find((s) => s.name === 'oneshot');
    expect(
      svc?.instances.map((i) => i.state),
      `oneshot: ${JSON.stringify(svc)}`,
    ).toEqual(['exited']);
  });
});
