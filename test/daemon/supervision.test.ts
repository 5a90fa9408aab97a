/**
 * Supervision with real processes: restarts after a kill, crash loops with backoff, restart
 * policies, liveness and readiness probes. The daemon runs in-process. The tests assert the
 * supervisor's decisions (which instance restarts, after which delay, when a crash loop starts)
 * from the events it records (GET /v1/events), never from wall time; how fast those decisions
 * land, and what a crash loop costs in CPU, is measured by `npm run bench -- supervision`.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF } from '../../src/daemon/restart-policy.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { httpGet } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { describeLeftovers, isEmpty, sweepLeftovers } from '../helpers/leftovers.js';
import { isAlive } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { connectionNotReady, waitFor } from '../helpers/wait.js';
import {
  footprintOf,
  nodeService,
  OffsetClock,
  startInProcess,
  writeServiceScript,
  writeStack,
  type EventRow,
  type InProcessDaemon,
  type InstanceStatus,
} from './daemon-harness.js';

const marker = () => `gw-sup-${randomBytes(4).toString('hex')}`;

/** The restart delay a `starting` or `crashloop` event announces (0 for an immediate restart). */
function announcedDelayMs(e: EventRow): number | undefined {
  if (e.type === 'starting' && /; restarting$/.test(e.reason)) return 0;
  const m = /(?:restarting in|next try in) (\d+(?:\.\d+)?)(ms|s|m)\b/.exec(e.reason);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
  return Number(m[1]) * unit;
}

/** The restart decisions recorded for one service: each exit's announced delay, in order. */
function decisionsOf(events: EventRow[], service: string): { type: string; delayMs: number; reason: string }[] {
  return events
    .filter((e) => e.address === `service.${service}` && (e.type === 'starting' || e.type === 'crashloop'))
    .flatMap((e) => {
      const delayMs = announcedDelayMs(e);
      return delayMs === undefined ? [] : [{ type: e.type, delayMs, reason: e.reason }];
    });
}

describe('supervision, daemon in-process', () => {
  let dir: string;
  let d: InProcessDaemon | undefined;

  beforeEach(() => {
    dir = makeTempDir('sup');
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
      removeTempDir(dir);
    }
  });

  it('(a) restarts a SIGKILLed instance: new pid, restarts=1, healthy and answering again', async () => {
    writeStack(dir, { stack: 'sup-a', services: { web: nodeService(marker(), { replicas: 2 }) } });
    d = await startInProcess(dir);
    const api = d.api;
    await api.waitAllHealthy(['web']);
    for (const index of [0, 1]) {
      const before = await api.instance('web', index);
      const oldPid = before.pid as number;
      const port = before.ports.http as number;
      process.kill(oldPid, 'SIGKILL');
      const after = await waitFor(
        async () => {
          const i = await api.instance('web', index);
          return i.pid !== null && i.pid !== oldPid && i.state === 'healthy' ? i : undefined;
        },
        { what: `web/${index} to be healthy with a new pid`, timeoutMs: 15_000, intervalMs: 10 },
      );
      expect(after.restarts).toBe(1);
      expect(isAlive(after.pid as number)).toBe(true);
      expect(isAlive(oldPid)).toBe(false);
      expect(after.ports.http, 'a restarted instance keeps its port').toBe(port);
      expect(after.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
      const answer = await waitFor(
        async () => {
          const r = await httpGet(port, '/', 1000);
          return r.status === 200 ? r : undefined;
        },
        { what: `port ${port} to answer after the restart`, retryOn: connectionNotReady },
      );
      expect(answer.body).toBe(`web ${index} pid ${after.pid}\n`);
    }
    const events = await api.events('web');
    expect(events.filter((e) => e.type === 'exit').map((e) => e.reason)).toEqual([
      expect.stringContaining('SIGKILL'),
      expect.stringContaining('SIGKILL'),
    ]);
    expect(events.filter((e) => e.type === 'restarted')).toHaveLength(2);
    // A first failure after a stable run restarts at once (backoff `initial` is 0).
    expect(decisionsOf(events, 'web').map((x) => x.delayMs)).toEqual([0, 0]);
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
    // Nothing restarts them later either. Instead of waiting for a time, wait until the same
    // supervisor has decided two more restarts of `fails`: its poller has seen done and never all along.
    const failsRestarts = (evs: EventRow[]) =>
      evs.filter((e) => e.address === 'service.fails' && e.type === 'restarted').length;
    const seen = failsRestarts(await api.events());
    const events = await waitFor(
      async () => {
        const evs = await api.events();
        return failsRestarts(evs) >= seen + 2 ? evs : undefined;
      },
      { what: 'two more restarts of fails', timeoutMs: 20_000, intervalMs: 100 },
    );
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
    writeFileSync(sick, '');
    const unhealthy = await waitFor(
      async () => {
        const i = await api.instance('web', 0);
        return i.state === 'unhealthy' ? i : undefined;
      },
      { what: 'web/0 to turn unhealthy', timeoutMs: 10_000, intervalMs: 20 },
    );
    expect(unhealthy.pid).toBe(healthy.pid);
    expect(unhealthy.restarts).toBe(0);
    expect(unhealthy.ready).toBe(false);
    expect(unhealthy.reason).toContain('503');
    rmSync(sick);
    const back = await waitFor(
      async () => {
        const i = await api.instance('web', 0);
        return i.state === 'healthy' ? i : undefined;
      },
      { what: 'web/0 to turn healthy again', timeoutMs: 10_000, intervalMs: 20 },
    );
    expect(back).toMatchObject({ pid: healthy.pid, restarts: 0, ready: true });
    const types = (await api.events('web')).map((e) => e.type);
    expect(types.slice(types.lastIndexOf('unhealthy'))).toEqual(['unhealthy', 'healthy']);
  });

  it('(e) readiness through a live data plane: an unready instance gets no traffic and keeps running; it gets traffic again when ready', async () => {
    const sick = path.join(dir, 'sick');
    // A listener's port is a fixed number (0 is not a valid one): a free port, picked just before.
    const port = await freePort();
    writeStack(dir, {
      stack: 'sup-e2',
      services: {
        web: nodeService(marker(), {
          replicas: 2,
          health: { http: { path: '/healthz' }, interval: '300ms', timeout: '1s', unhealthy: 2, healthy: 1 },
          env: { HEALTH_FILE: sick },
        }),
      },
      listeners: { http: { port } },
      routes: [{ match: { path: '/' }, service: 'web', port: 'http' }],
    });
    const proxy = new NodeProxy({ logger: silentLogger, clock: systemClock });
    d = await startInProcess(dir, { dataPlane: proxy });
    const api = d.api;
    const all = (await api.waitAllHealthy(['web'])).services[0]?.instances ?? [];
    const [pid0, pid1] = [0, 1].map((i) => all.find((x) => x.index === i)?.pid);
    /** Which pids answer `n` requests through the listener (each must be a 200). */
    const answering = async (n: number): Promise<Set<number>> => {
      const pids = new Set<number>();
      for (let i = 0; i < n; i++) {
        const a = await httpGet(port, '/');
        expect(a.status, a.body).toBe(200);
        pids.add(Number(/pid (\d+)/.exec(a.body)?.[1]));
      }
      return pids;
    };
    // The pools are set once the instances are ready: both must answer, and only with 200s.
    await waitFor(async () => (await answering(6)).size === 2, {
      what: 'both instances to get traffic',
      retryOn: connectionNotReady,
    });

    writeFileSync(`${sick}.0`, '');
    await waitFor(async () => (await api.instance('web', 0)).state === 'unhealthy', {
      what: 'web/0 to turn unhealthy',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    // Readiness took it out of the pool: every request is a 200 from web/1.
    expect([...(await answering(20))]).toEqual([pid1]);
    expect(await api.instance('web', 0)).toMatchObject({ pid: pid0, restarts: 0, ready: false });

    rmSync(`${sick}.0`);
    await waitFor(async () => (await api.instance('web', 0)).state === 'healthy', {
      what: 'web/0 to turn healthy again',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    await waitFor(async () => (await answering(6)).size === 2, { what: 'web/0 back in the pool' });
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
    d = undefined;
    // close() throws when POST /v1/down does not complete (or leaves anything running).
    await daemon.close();
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
 * (b) Crash loops: the supervisor's decisions, read from its events. The delays follow
 * DEFAULT_BACKOFF (0, 400, 800, 1600 ms, each ±10% jitter) and the fifth restart within a minute
 * enters the crash loop with a delay of a minute: a handful of restarts, not hundreds. What that
 * costs in CPU and restarts over 30 s is the `supervision` bench.
 */
describe('(b) crash loops', () => {
  let dir: string;
  let d: InProcessDaemon | undefined;

  beforeEach(() => {
    dir = makeTempDir('crashloop');
    writeServiceScript(dir);
  });

  afterEach(async () => {
    const daemon = d;
    d = undefined;
    try {
      if (daemon) await daemon.close();
    } finally {
      removeTempDir(dir);
    }
  });

  /** What jitter allows around a nominal delay. */
  const jittered = (ms: number): [number, number] => [
    ms * (1 - DEFAULT_BACKOFF.jitter / 2),
    ms * (1 + DEFAULT_BACKOFF.jitter / 2),
  ];

  it('services that fail after starting, or at once, back off 0/400/800/1600 ms and then enter a crash loop of 1m; a clean one-shot ends exited', async () => {
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
    d = await startInProcess(dir);
    const api = d.api;
    const crashLooped = (evs: EventRow[], svc: string) =>
      evs.some((e) => e.address === `service.${svc}` && e.type === 'crashloop');
    const events = await waitFor(
      async () => {
        const evs = await api.events();
        return crashLooped(evs, 'flappy') && crashLooped(evs, 'instant') ? evs : undefined;
      },
      { what: 'flappy and instant to enter their crash loops', timeoutMs: 30_000, intervalMs: 100 },
    );
    for (const svc of ['flappy', 'instant']) {
      const decisions = decisionsOf(events, svc);
      const firstLoop = decisions.findIndex((x) => x.type === 'crashloop');
      const why = `${svc}'s decisions:\n${decisions.map((x) => `${x.type}: ${x.reason}`).join('\n')}`;
      // Restarts 1-4 back off; the fifth within the window is the crash loop.
      expect(firstLoop, why).toBe(DEFAULT_BACKOFF.crashLoopRestarts - 1);
      const nominal = [0, 400, 800, 1600];
      decisions.slice(0, firstLoop).forEach((x, i) => {
        const [lo, hi] = jittered(nominal[i] as number);
        expect(x.delayMs, `${why}\n(restart ${i + 1})`).toBeGreaterThanOrEqual(Math.floor(lo));
        expect(x.delayMs, `${why}\n(restart ${i + 1})`).toBeLessThanOrEqual(Math.ceil(hi));
      });
      const [lo] = jittered(DEFAULT_BACKOFF.crashLoopDelay.toMilliseconds());
      expect(decisions[firstLoop]?.delayMs, why).toBeGreaterThanOrEqual(Math.floor(lo));
      expect(decisions[firstLoop]?.reason, why).toContain('crash loop');
      const state = (await api.instance(svc, 0)).state;
      expect(state, why).toBe('crashloop');
    }
    // Exactly one restarted event per restart decision that has come due: none started twice.
    const restarted = events.filter((e) => e.address === 'service.flappy' && e.type === 'restarted').length;
    expect(restarted).toBe(DEFAULT_BACKOFF.crashLoopRestarts - 1);
    const oneshot = await waitFor(
      async () => {
        const i = await api.instance('oneshot', 0);
        return i.state === 'exited' ? i : undefined;
      },
      { what: 'oneshot to end exited' },
    );
    expect(oneshot).toMatchObject({ restarts: 0, lastExit: { code: 0, signal: null } });
  });
});
