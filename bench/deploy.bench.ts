/**
 * Deploys and rollbacks under load, on copies of the example lab (examples/homelab) run by
 * `groundwork up` (dist/), driven through the real CLI, with traffic through the daemon's proxy
 * listener on loopback (bench/deploy/lab.ts; the lab's web service names its release in a
 * response header).
 *
 * (a) Zero downtime: a load generator in its own process (bench/deploy/load-generator.ts: 8
 *     keep-alive connections, 200 requests/s in all, no retries) runs while web is deployed 20
 *     times (each release differs: a new marker in services/web.mjs) and then rolled back 20
 *     times; once with strategy rolling, once blue-green. Every request that did not end in a
 *     2xx answer read to its end counts as failed: non-2xx, refused, reset, cut short, or no
 *     answer within 5 s. Target: 0.
 * (b) Rollback speed, web's health interval set to 1 s:
 *     - automatic: a release whose /healthz answers 503 (it logs the time of every probe) is
 *       deployed; from its first failed health check to the deploy result (rolled back, all
 *       traffic on the previous release; the load confirms no answer came from the bad
 *       release). "First failed check" is the first one the daemon counts: it ignores failures
 *       during max(start_period, interval) after start. Target <= 2 s. Also reported: from the
 *       very first 503, and the split into detection (N failed checks in a row) and restore.
 *     - explicit `groundwork rollback web` after two good deploys: from the command being issued
 *       (the CLI spawned) to the last request answered by the newer release (every later one
 *       was answered by the previous release); rolling, and blue-green (warm standby). The same
 *       through POST /v1/services/web/rollback from the bench, without the CLI's start-up.
 *
 * No reference system runs here; kamal-proxy's deploy timeout default (30 s) and Docker
 * Swarm's update monitor default (5 s) are quoted as context, not measured.
 *
 * (a) runs once whatever --repeat says; (b) takes the median of --repeat runs.
 * GROUNDWORK_BENCH_DEPLOYS (default 20) and GROUNDWORK_BENCH_DEPLOY_RPS (default 200; 0 = as
 * fast as answers come back) change the size for a quick look.
 */
import { defineBench, type BenchResult } from './harness/bench.js';
import { median } from './harness/median.js';
import {
  badHealthRollback,
  explicitRollback,
  withLab,
  zeroDowntime,
  type BadHealthSample,
  type ExplicitRollbackSample,
  type LoadSettings,
  type ZeroDowntimeRun,
} from './deploy/scenarios.js';
import type { BenchDaemon } from './harness/bench-daemon.js';
import type { Lab } from './deploy/lab.js';
import { describeFailures, type Load } from './deploy/load.js';

const DEPLOYS = Number(process.env.GROUNDWORK_BENCH_DEPLOYS ?? 20);
const LOAD: LoadSettings = {
  connections: 8,
  rate: Number(process.env.GROUNDWORK_BENCH_DEPLOY_RPS ?? 200),
  timeoutMs: 5000,
};
const ROLLBACK_TARGET_MS = 2000;
const CONTEXT = 'kamal-proxy deploy timeout default 30 s, Swarm update monitor default 5 s (constants, not measured)';

function describeLoad(l: LoadSettings): string {
  return `${l.connections} keep-alive connections, ${l.rate > 0 ? `${l.rate} req/s` : 'closed loop'}, timeout ${l.timeoutMs / 1000} s, no retries`;
}

function zeroDowntimeResults(r: ZeroDowntimeRun): BenchResult[] {
  const name = `${r.strategy}: ${DEPLOYS} deploys + ${DEPLOYS} rollbacks of web under load`;
  const notOk = r.operations.filter((o) => !o.ok);
  const opMs = (prefix: string) => r.operations.filter((o) => o.what.startsWith(prefix)).map((o) => o.ms);
  const details: Record<string, number | string> = {
    load: describeLoad(LOAD),
    'requests sent': r.total.requests,
    'failed requests': r.total.failed,
    'failures by kind': describeFailures(r.total),
    'load ran (s)': Math.round(r.seconds),
    'achieved req/s': Math.round(r.total.requests / r.seconds),
    'slowest request (ms)': Math.round(r.total.maxLatencyMs),
    'deploy median (s, CLI issued -> exit)': Math.round(median(opMs('deploy')) / 100) / 10,
    'rollback median (s, CLI issued -> exit)': Math.round(median(opMs('rollback')) / 100) / 10,
    'operations that failed': notOk.map((o) => o.what).join(', ') || 'none',
    'operations with failed requests':
      r.operations
        .filter((o) => o.failed > 0)
        .map((o) => `${o.what}: ${o.failures}`)
        .join('; ') || 'none',
  };
  return [
    {
      name,
      metric: 'failed requests',
      value: r.total.failed,
      unit: 'requests',
      target: { kind: 'max', value: 0 },
      details,
    },
    { name, metric: 'requests sent', value: r.total.requests, unit: 'requests' },
    {
      name,
      metric: 'deploys/rollbacks not completed',
      value: notOk.length,
      unit: 'operations',
      target: { kind: 'max', value: 0 },
    },
  ];
}

export default defineBench({
  name: 'deploy',
  description: `${DEPLOYS} deploys + ${DEPLOYS} rollbacks under load (rolling, blue-green) with failed requests counted; rollback speed with a 1 s health interval`,
  async run(ctx) {
    ctx.log(`load: ${describeLoad(LOAD)}; ${CONTEXT}`);
    const results: BenchResult[] = [];

    // (a) zero downtime
    for (const strategy of ['rolling', 'blue-green'] as const) {
      const r = await zeroDowntime(ctx, strategy, DEPLOYS, DEPLOYS, LOAD);
      ctx.log(
        `${strategy}: ${r.total.requests} requests in ${r.seconds.toFixed(0)} s, ${r.total.failed} failed (${describeFailures(r.total)})`,
      );
      results.push(...zeroDowntimeResults(r));
    }

    // (b) automatic rollback of a release that fails health, and explicit rollback (rolling)
    const bad: BadHealthSample[] = [];
    const explicit: Record<string, ExplicitRollbackSample[]> = {};
    const measureRollbacks = async (label: string, lab: Lab, gen: Load, daemon: BenchDaemon) => {
      for (const via of ['cli', 'api'] as const) {
        const key = `${label}, ${via === 'cli' ? 'groundwork rollback web' : 'POST /v1/services/web/rollback'}`;
        const list: ExplicitRollbackSample[] = (explicit[key] = []);
        for (let i = 0; i < ctx.repeat; i++) {
          const s = await explicitRollback(
            ctx,
            lab,
            gen,
            `${label}-${via}-${i}`,
            via === 'cli' ? { cli: true } : { api: daemon },
          );
          ctx.log(
            `${key} ${i + 1}/${ctx.repeat}: all traffic on the previous release ${s.allBackMs.toFixed(0)} ms after the command; command done after ${s.commandMs.toFixed(0)} ms; ${s.failedRequests}/${s.requests} requests failed`,
          );
          list.push(s);
        }
      }
    };
    // (b) automatic rollback of a release that fails health, and explicit rollback (rolling)
    await withLab(
      ctx,
      'speed-rolling',
      { strategy: 'rolling', healthInterval: '1s' },
      LOAD,
      async (lab, gen, daemon) => {
        for (let i = 0; i < ctx.repeat; i++) {
          const s = await badHealthRollback(ctx, lab, gen, i);
          ctx.log(
            `bad health ${i + 1}/${ctx.repeat}: first counted failed check -> rolled back ${s.fromFirstCountedMs.toFixed(0)} ms (detect ${s.detectMs.toFixed(0)} + restore ${s.restoreMs.toFixed(0)}); from the first 503 ${s.fromFirst503Ms.toFixed(0)} ms; ${s.probes} probes, ${s.badResponses} answers from the bad release, ${s.failedRequests}/${s.requests} requests failed`,
          );
          bad.push(s);
        }
        await measureRollbacks('rolling', lab, gen, daemon);
      },
    );
    await withLab(ctx, 'speed-blue-green', { strategy: 'blue-green', healthInterval: '1s' }, LOAD, (lab, gen, daemon) =>
      measureRollbacks('blue-green (warm standby)', lab, gen, daemon),
    );

    const m = (xs: number[]) => Math.round(median(xs));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const of = `median of ${ctx.repeat}`;
    const badName = 'rollback of a release failing /healthz (rolling, interval 1s, unhealthy 3)';
    results.push(
      {
        name: badName,
        metric: `first counted failed check -> rolled back (${of})`,
        value: m(bad.map((s) => s.fromFirstCountedMs)),
        unit: 'ms',
        target: { kind: 'max', value: ROLLBACK_TARGET_MS },
        samples: bad.map((s) => Math.round(s.fromFirstCountedMs)),
        details: {
          context: CONTEXT,
          'detect ms (first counted failure -> N failed in a row)': m(bad.map((s) => s.detectMs)),
          'restore ms (declared failed -> result)': m(bad.map((s) => s.restoreMs)),
          'failed checks to declare it failed': bad[0]?.checksToFail ?? 0,
          'answers from the bad release': sum(bad.map((s) => s.badResponses)),
          'failed requests': sum(bad.map((s) => s.failedRequests)),
          requests: sum(bad.map((s) => s.requests)),
        },
      },
      {
        name: badName,
        metric: `first 503 answered -> rolled back (${of})`,
        value: m(bad.map((s) => s.fromFirst503Ms)),
        unit: 'ms',
        samples: bad.map((s) => Math.round(s.fromFirst503Ms)),
      },
      {
        name: badName,
        metric: 'answers from the bad release',
        value: sum(bad.map((s) => s.badResponses)),
        unit: 'responses',
        target: { kind: 'max', value: 0 },
      },
      {
        name: badName,
        metric: 'failed requests',
        value: sum(bad.map((s) => s.failedRequests)),
        unit: 'requests',
        target: { kind: 'max', value: 0 },
      },
    );
    for (const [name, xs] of Object.entries(explicit)) {
      results.push(
        {
          name,
          metric: `command issued -> all traffic on previous release (${of})`,
          value: m(xs.map((s) => s.allBackMs)),
          unit: 'ms',
          samples: xs.map((s) => Math.round(s.allBackMs)),
          details: {
            context: CONTEXT,
            'command issued -> command done (ms)': m(xs.map((s) => s.commandMs)),
            'failed requests': sum(xs.map((s) => s.failedRequests)),
            requests: sum(xs.map((s) => s.requests)),
          },
        },
        {
          name,
          metric: `command issued -> command done (${of})`,
          value: m(xs.map((s) => s.commandMs)),
          unit: 'ms',
          samples: xs.map((s) => Math.round(s.commandMs)),
        },
        {
          name,
          metric: 'failed requests',
          value: sum(xs.map((s) => s.failedRequests)),
          unit: 'requests',
          target: { kind: 'max', value: 0 },
        },
      );
    }
    return results;
  },
});
