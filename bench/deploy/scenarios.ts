/**
 * The deploy bench's scenarios, each on its own copy of the example lab with its own daemon:
 * - zeroDowntime: constant load through the proxy while web is deployed N times, then rolled
 *   back N times; every request counted.
 * - badHealthRollback: a release whose /healthz answers 503 is deployed; when did its first
 *   health check fail, when did the daemon give up on it, when was the rollback done.
 * - explicitRollback: `groundwork rollback web` after two good deploys; when did every
 *   response come from the previous release again.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from '../harness/bench.js';
import { describeFailures, mergeWindows, startLoad, type Load, type LoadConfig, type WindowStats } from './load.js';
import {
  describeRun,
  epochNow,
  makeLab,
  progressOf,
  RELEASE_HEADER,
  runCli,
  startDaemon,
  waitServing,
  type CliRun,
  type DeployResultLine,
  type Lab,
  type LabSettings,
} from './lab.js';
import { benchApi, sleep, stopBenchDaemon, type BenchDaemon } from '../harness/bench-daemon.js';

export interface LoadSettings {
  connections: number;
  rate: number;
  timeoutMs: number;
}

/** A lab with its daemon and load running; `run` gets them, teardown always happens. */
export async function withLab<T>(
  ctx: BenchContext,
  name: string,
  settings: LabSettings,
  load: LoadSettings,
  run: (lab: Lab, load: Load, daemon: BenchDaemon) => Promise<T>,
): Promise<T> {
  const dir = path.join(ctx.workDir, name);
  const lab = await makeLab(ctx.root, dir, settings);
  let daemon: BenchDaemon | undefined;
  let gen: Load | undefined;
  try {
    daemon = await startDaemon(ctx.root, dir);
    await waitServing(daemon, lab, 'web');
    const cfg: LoadConfig = { url: lab.webUrl, ...load, header: RELEASE_HEADER };
    gen = await startLoad(cfg, ctx.root);
    return await run(lab, gen, daemon);
  } catch (e) {
    if (daemon) ctx.log(`daemon output (last 3000 characters):\n${daemon.output().slice(-3000)}`);
    throw e;
  } finally {
    gen?.kill();
    await stopBenchDaemon(daemon, dir, ctx.log);
  }
}

// ---------------------------------------------------------------- (a) zero downtime

export interface Operation {
  what: string;
  code: number;
  ok: boolean;
  /** Command issued → command exited. */
  ms: number;
  requests: number;
  failed: number;
  failures: string;
  detail?: string;
}

export interface ZeroDowntimeRun {
  strategy: LabSettings['strategy'];
  total: WindowStats;
  operations: Operation[];
  /** Seconds the load ran. */
  seconds: number;
}

export async function zeroDowntime(
  ctx: BenchContext,
  strategy: LabSettings['strategy'],
  deploys: number,
  rollbacks: number,
  load: LoadSettings,
): Promise<ZeroDowntimeRun> {
  return withLab(ctx, `zero-${strategy}`, { strategy, keepReleases: deploys + 5 }, load, async (lab, gen) => {
    const windows: WindowStats[] = [];
    const operations: Operation[] = [];
    await sleep(1000);
    windows.push(await gen.window());
    const step = async (what: string, args: string[]) => {
      const run = await runCli(ctx.root, lab.dir, args);
      const w = await gen.window();
      windows.push(w);
      const ok = run.code === 0 && run.result?.ok === true;
      const op: Operation = {
        what,
        code: run.code,
        ok,
        ms: Math.round(run.endedAt - run.startedAt),
        requests: w.requests,
        failed: w.failed,
        failures: describeFailures(w),
        ...(ok ? {} : { detail: describeRun(args, run) }),
      };
      operations.push(op);
      ctx.log(
        `${strategy} ${what}: ${ok ? `v${run.result?.release}` : 'FAILED'} in ${(op.ms / 1000).toFixed(1)} s; ${w.requests} requests, ${w.failed} failed${w.failed ? ` (${op.failures})` : ''}`,
      );
      if (!ok) ctx.log(op.detail ?? '');
    };
    for (let i = 1; i <= deploys; i++) {
      lab.writeWeb(`${strategy}-d${i}`);
      await step(`deploy ${i}/${deploys}`, ['deploy', 'web', '-m', `bench deploy ${i}`]);
    }
    for (let i = 1; i <= rollbacks; i++)
      await step(`rollback ${i}/${rollbacks}`, ['rollback', 'web', '-m', `bench rollback ${i}`]);
    await sleep(1000);
    windows.push(await gen.stop());
    const total = mergeWindows(windows);
    if (total.failureLog.length)
      ctx.log(
        `${strategy}: first failures: ${total.failureLog
          .slice(0, 10)
          .map((f) => `${new Date(f.at).toISOString().slice(11, 23)} ${f.what}`)
          .join('; ')}`,
      );
    return { strategy, total, operations, seconds: (total.to - total.from) / 1000 };
  });
}

// ---------------------------------------------------------------- (b) rollback speed

export interface BadHealthSample {
  /** First /healthz of the bad release answered 503 → deploy result (rolled back). */
  fromFirst503Ms: number;
  /** The first failed check the daemon counts (see waitReady's start window) → deploy result. */
  fromFirstCountedMs: number;
  /** First counted failure → "failed N health checks in a row" line. */
  detectMs: number;
  /** That line → deploy result line (bad instance stopped, previous release serving). */
  restoreMs: number;
  checksToFail: number;
  probes: number;
  /** Answers from the bad release seen by the load (should be 0: it never got traffic). */
  badResponses: number;
  failedRequests: number;
  requests: number;
}

/** Deploys a good release, then one whose /healthz answers 503; returns the timings of the rollback. */
export async function badHealthRollback(ctx: BenchContext, lab: Lab, gen: Load, rep: number): Promise<BadHealthSample> {
  lab.writeWeb(`good-${rep}`);
  const good = await runCli(ctx.root, lab.dir, ['deploy', 'web', '-m', `good ${rep}`]);
  if (good.code !== 0 || !good.result?.ok)
    throw new Error(`the good deploy before the bad one failed: ${describeRun(['deploy', 'web'], good)}`);
  const probeLog = path.join(lab.dir, `probes-${rep}.log`);
  lab.writeWeb(`bad-${rep}`, { probeLog });
  await sleep(300);
  await gen.window();
  const args = ['deploy', 'web', '-m', `bad health ${rep}`];
  const run = await runCli(ctx.root, lab.dir, args);
  await sleep(300);
  const w = await gen.window();
  if (run.code === 0 || !run.result || run.result.ok || !run.result.rolledBack || run.resultAt === undefined) {
    throw new Error(`a release whose /healthz answers 503 should fail and roll back; ${describeRun(args, run)}`);
  }
  const probes = existsSync(probeLog) ? readFileSync(probeLog, 'utf8').split('\n').filter(Boolean).map(Number) : [];
  const failLine = progressOf(run)
    .map((p) => ({ at: p.at, m: /failed (\d+) health checks in a row/.exec(p.message) }))
    .find((p) => p.m);
  if (!failLine?.m || probes.length === 0)
    throw new Error(`no "failed N health checks" line or no probe was logged; ${describeRun(args, run)}`);
  const n = Number(failLine.m[1]);
  const before = probes.filter((t) => t <= failLine.at);
  const firstCounted = before[Math.max(0, before.length - n)] as number;
  const first503 = probes[0] as number;
  const badResponses = Object.entries(w.releases)
    .filter(([k]) => k.endsWith(` bad-${rep}`))
    .reduce((a, [, v]) => a + v.count, 0);
  return {
    fromFirst503Ms: run.resultAt - first503,
    fromFirstCountedMs: run.resultAt - firstCounted,
    detectMs: failLine.at - firstCounted,
    restoreMs: run.resultAt - failLine.at,
    checksToFail: n,
    probes: probes.length,
    badResponses,
    failedRequests: w.failed,
    requests: w.requests,
  };
}

export interface ExplicitRollbackSample {
  /** Command issued → the last request answered by the newer release was sent (after it, all went to the previous one). */
  allBackMs: number;
  /** Command issued → the CLI exited, or the API's result line arrived (the newer release's instances drained and stopped). */
  commandMs: number;
  newerResponses: number;
  previousResponses: number;
  failedRequests: number;
  requests: number;
}

/** Two good deploys (A, then B), then `groundwork rollback web` back to A under load. */
export async function explicitRollback(
  ctx: BenchContext,
  lab: Lab,
  gen: Load,
  label: string,
  via: { cli: true } | { api: BenchDaemon },
): Promise<ExplicitRollbackSample> {
  const deploy = async (build: string): Promise<number> => {
    lab.writeWeb(build);
    const run = await runCli(ctx.root, lab.dir, ['deploy', 'web', '-m', build]);
    if (run.code !== 0 || !run.result?.ok || run.result.release === null)
      throw new Error(`deploy of ${build} failed: ${describeRun(['deploy', 'web'], run)}`);
    return run.result.release;
  };
  const a = await deploy(`${label}-A`);
  const b = await deploy(`${label}-B`);
  const markerA = `v${a} ${label}-A`;
  await sleep(500);
  const steady = await gen.window();
  if (!steady.releases[`v${b} ${label}-B`])
    throw new Error(`before the rollback, no answer came from v${b}; seen: ${Object.keys(steady.releases).join(', ')}`);
  const args = ['rollback', 'web', '-m', `${label} rollback`];
  const run: CliRun =
    'cli' in via ? await runCli(ctx.root, lab.dir, args) : await rollbackThroughApi(via.api, `${label} rollback`);
  if (run.code !== 0 || run.result?.release !== a)
    throw new Error(`rollback to v${a} failed: ${describeRun(args, run)}`);
  await sleep(500);
  const w = await gen.window();
  const others = Object.entries(w.releases).filter(([k]) => k !== markerA);
  const lastOther = Math.max(run.startedAt, ...others.map(([, v]) => v.lastSent));
  if (!w.releases[markerA] || w.releases[markerA].lastSent < lastOther)
    throw new Error(`after the rollback, traffic is not on ${markerA}; seen: ${JSON.stringify(w.releases)}`);
  return {
    allBackMs: lastOther - run.startedAt,
    commandMs: run.endedAt - run.startedAt,
    newerResponses: others.reduce((x, [, v]) => x + v.count, 0),
    previousResponses: w.releases[markerA].count,
    failedRequests: w.failed,
    requests: w.requests,
  };
}

/** POST /v1/services/web/rollback from this process, shaped like a CLI run (the daemon's own time, without the CLI's start-up). */
async function rollbackThroughApi(d: BenchDaemon, message: string): Promise<CliRun> {
  const startedAt = epochNow();
  const r = await benchApi(d, 'POST', '/v1/services/web/rollback', { message, author: 'deploy-bench' });
  const endedAt = epochNow();
  const lines = r.text
    .split('\n')
    .filter(Boolean)
    .map((text) => ({ at: endedAt, text }));
  let result: DeployResultLine | undefined;
  for (const l of lines) {
    try {
      const j = JSON.parse(l.text) as { type?: string; result?: DeployResultLine };
      if (j.type === 'result') result = j.result;
    } catch {
      /* not JSON */
    }
  }
  return {
    code: r.status === 200 && result?.ok ? 0 : 1,
    startedAt,
    endedAt,
    lines,
    ...(result ? { result, resultAt: endedAt } : {}),
    stderr: r.status === 200 ? '' : r.text,
  };
}
