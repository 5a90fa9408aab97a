/**
 * The acceptance bench of planning at scale: a 5,000-resource stack (2,000 services in a
 * dependency DAG, 1,500 volumes, 1,500 routes). Each measurement runs in a fresh process, as
 * the CLI would, and each must take at most one second:
 *   (a) load + validate + model + plan against empty state: 5,000 creates
 *   (b) no-op plan against a store that has all 5,000 rows
 *   (c) no-op apply: open the store, take the lease, plan, applyPlan with zero steps
 *   (d) validating the file alone (reported, not judged: (a) contains it)
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineBench, type BenchResult } from './harness/bench.js';
import { runChild } from './harness/child.js';
import { median } from './harness/median.js';
import { generateStack, PLAN_SCALE_SHAPE } from './plan-scale/generate-stack.js';
import type { MeasureConfig, MeasureReport, Scenario } from './plan-scale/scenario.js';

const MEASURE = fileURLToPath(new URL('./plan-scale/measure.ts', import.meta.url));
const TARGET_MS = 1000;

interface Measurement {
  scenario: Exclude<Scenario, 'seed'>;
  /** Row name in the table. */
  name: string;
  /** Start from the seeded store (else from an empty state directory). */
  seeded: boolean;
  /** Judge the wall time against TARGET_MS. */
  judged: boolean;
}

export default defineBench({
  name: 'plan-scale',
  description: 'validate / plan / no-op plan / no-op apply of a 5,000-resource stack, each in a fresh process',
  async run(ctx) {
    const stack = generateStack(PLAN_SCALE_SHAPE);
    const n = stack.resources.toLocaleString('en-US');
    const measurements: Measurement[] = [
      { scenario: 'validate', name: `(d) validate ${n}-resource file`, seeded: false, judged: false },
      { scenario: 'plan-create', name: `(a) plan, ${n} creates`, seeded: false, judged: true },
      { scenario: 'plan-noop', name: `(b) no-op plan, ${n} recorded`, seeded: true, judged: true },
      { scenario: 'apply-noop', name: `(c) no-op apply, ${n} recorded`, seeded: true, judged: true },
      { scenario: 'baseline', name: 'baseline: modules loaded, no work', seeded: false, judged: false },
    ];

    const stackDir = path.join(ctx.workDir, 'stack');
    mkdirSync(stackDir, { recursive: true });
    const file = path.join(stackDir, 'groundwork.yaml');
    writeFileSync(file, stack.yaml);
    const bytes = Buffer.byteLength(stack.yaml);
    ctx.log(
      `stack: ${n} resources, ${stack.serviceEdges.toLocaleString('en-US')} service edges, ${(bytes / 1024 / 1024).toFixed(2)} MiB of YAML`,
    );
    const config = (stateDir: string): string =>
      JSON.stringify({ root: ctx.root, file, stateDir, resources: stack.resources } satisfies MeasureConfig);

    const seededDir = path.join(ctx.workDir, 'seeded-state');
    const seedStart = performance.now();
    const seed = await runChild<MeasureReport>(MEASURE, ['seed', config(seededDir)], { cwd: ctx.root });
    ctx.log(
      `seeded ${seed.outcome.rows} rows with record-only kinds in ${((performance.now() - seedStart) / 1000).toFixed(1)} s (not measured)`,
    );

    const results: BenchResult[] = [];
    for (const m of measurements) {
      const reports: MeasureReport[] = [];
      for (let i = 0; i < ctx.repeat; i++) {
        const stateDir = path.join(ctx.workDir, 'runs', `${m.scenario}-${i}`);
        if (m.seeded) cpSync(seededDir, stateDir, { recursive: true });
        else mkdirSync(stateDir, { recursive: true });
        // Under --profile, the first run of each measurement is profiled (the others stay undisturbed).
        const cpuProfile =
          ctx.cpuProfileDir && i === 0 && m.scenario !== 'baseline'
            ? path.join(ctx.cpuProfileDir, `${m.scenario}.cpuprofile`)
            : undefined;
        reports.push(
          await runChild<MeasureReport>(MEASURE, [m.scenario, config(stateDir)], {
            cwd: ctx.root,
            ...(cpuProfile ? { cpuProfile } : {}),
          }),
        );
      }
      const ms = reports.map((r) => round2(r.ms));
      const rss = reports.map((r) => round2(r.rssMiB));
      const phases = medianPhases(reports);
      ctx.log(
        `${m.scenario}: ${
          Object.entries(phases)
            .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
            .join(' · ') || 'no phases'
        }; runs ${ms.map((x) => x.toFixed(0)).join(', ')} ms`,
      );
      const details = { ...prefixed('phase ms: ', phases), ...reports[0]?.outcome, 'stack bytes': bytes };
      const metricSuffix = ` (median of ${ctx.repeat})`;
      if (m.scenario !== 'baseline') {
        results.push({
          name: m.name,
          metric: `wall time${metricSuffix}`,
          value: median(ms),
          unit: 'ms',
          samples: ms,
          details,
          ...(m.judged ? { target: { kind: 'max', value: TARGET_MS } as const } : {}),
        });
      }
      results.push({ name: m.name, metric: `peak RSS${metricSuffix}`, value: median(rss), unit: 'MiB', samples: rss });
    }
    return results;
  },
});

/** Median of each phase over the runs. */
function medianPhases(reports: readonly MeasureReport[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(reports[0]?.phases ?? {})) out[key] = median(reports.map((r) => r.phases[key] ?? 0));
  return out;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function prefixed(prefix: string, o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}${k}`, Math.round(v * 10) / 10]));
}
