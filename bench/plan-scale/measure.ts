/**
 * Child process of plan-scale.bench.ts: runs one scenario once, the way the CLI does it, and
 * reports its wall time (modules already loaded), per-phase times and peak RSS.
 *
 *   node --import tsx bench/plan-scale/measure.ts SCENARIO '{"root":...,"file":...,"stateDir":...}'
 */
import path from 'node:path';
import { peakRssMiB, reportToParent, startCpuProfile } from '../harness/child.js';
import { importDist } from '../harness/dist.js';
import { recordOnlyKinds } from './record-only-kinds.js';
import { SCENARIOS, type MeasureConfig, type MeasureReport, type Scenario } from './scenario.js';

async function main(): Promise<void> {
  const scenario = process.argv[2] as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`unknown scenario ${scenario}; one of ${SCENARIOS.join(', ')}`);
  const cfg = JSON.parse(process.argv[3] ?? '{}') as MeasureConfig;
  const { root } = cfg;
  const { loadStack } = await importDist<typeof import('../../src/config/load.js')>(root, 'config/load.js');
  const { buildModel } = await importDist<typeof import('../../src/model/build-model.js')>(
    root,
    'model/build-model.js',
  );
  const { makePlan } = await importDist<typeof import('../../src/engine/plan.js')>(root, 'engine/plan.js');
  const { applyPlan } = await importDist<typeof import('../../src/engine/apply.js')>(root, 'engine/apply.js');
  const { withLease } = await importDist<typeof import('../../src/engine/lock.js')>(root, 'engine/lock.js');
  const { Installation } = await importDist<typeof import('../../src/core/installation.js')>(
    root,
    'core/installation.js',
  );
  const { systemClock } = await importDist<typeof import('../../src/util/clock.js')>(root, 'util/clock.js');
  const { silentLogger } = await importDist<typeof import('../../src/util/logger.js')>(root, 'util/logger.js');
  // As the CLI opens it (cli/open-ops.ts): one installation per command.
  const open = () =>
    Installation.open({
      stackFile: cfg.file,
      stateDir: cfg.stateDir,
      env: {},
      clock: systemClock,
      logger: silentLogger,
    });

  const phases: Record<string, number> = {};
  const outcome: Record<string, number | string> = {};
  const stopProfile = await startCpuProfile();
  const started = performance.now();
  let last = started;
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = (phases[name] ?? 0) + (now - last);
    last = now;
  };
  const expect = (what: string, actual: number | string, wanted: number | string) => {
    outcome[what] = actual;
    if (actual !== wanted)
      throw new Error(
        `${scenario}: expected ${what} = ${wanted}, found ${actual}; the bench is not measuring what it says`,
      );
  };

  // As `groundwork validate|plan|apply` do it: workspace.requireModel, then the installation.
  const model = async () => {
    const loaded = await loadStack(cfg.file);
    phase('load+validate');
    if (!loaded.config)
      throw new Error(
        `the generated stack is invalid:\n${loaded.diagnostics
          .slice(0, 5)
          .map((d) => `${d.line}:${d.column} ${d.message}`)
          .join('\n')}`,
      );
    const built = buildModel(
      loaded.config,
      { dir: loaded.dir, configHash: loaded.configHash, file: loaded.file },
      { cli: {}, env: {} },
    );
    if (!built.model) throw new Error(`buildModel failed: ${built.diagnostics[0]?.message ?? 'no model'}`);
    phase('model');
    return built.model;
  };

  switch (scenario) {
    case 'baseline':
      break;
    case 'validate': {
      const loaded = await loadStack(cfg.file);
      phase('load+validate');
      expect('diagnostics', loaded.diagnostics.length, 0);
      break;
    }
    case 'plan-create':
    case 'plan-noop': {
      const m = await model();
      const inst = open();
      const store = inst.store;
      phase('open store');
      const { rows, serial } = await store.resources.readState();
      phase('read state');
      const plan = makePlan(m, rows, serial, inst.kinds);
      phase('plan');
      await inst.close();
      phase('close store');
      if (scenario === 'plan-create') expect('creates', plan.summary.create, cfg.resources);
      else expect('unchanged', plan.summary.unchanged, cfg.resources);
      expect('steps', plan.steps.length, scenario === 'plan-create' ? cfg.resources : 0);
      break;
    }
    case 'apply-noop': {
      const m = await model();
      const inst = open();
      const store = inst.store;
      phase('open store');
      try {
        await withLease(store, 'groundwork apply', async () => {
          phase('take lease');
          const { rows, serial } = await store.resources.readState();
          phase('read state');
          const plan = makePlan(m, rows, serial, inst.kinds);
          phase('plan');
          expect('steps', plan.steps.length, 0);
          const result = await applyPlan(plan, {
            store,
            kinds: inst.kinds,
            context: inst.baseContext(),
            parallelism: 8,
            author: 'bench',
            message: 'plan-scale no-op apply',
          });
          phase('apply');
          expect('outcome', result.outcome, 'no-op');
        });
        phase('release lease');
      } finally {
        await inst.close();
        phase('close store');
      }
      break;
    }
    case 'seed': {
      // Not a measurement: records every resource through the real apply path, with kinds that
      // only record (see record-only-kinds.ts).
      const m = await model();
      const inst = open();
      const store = inst.store;
      try {
        const { rows, serial } = await store.resources.readState();
        const plan = makePlan(m, rows, serial, inst.kinds);
        phase('plan');
        const result = await applyPlan(plan, {
          store,
          kinds: recordOnlyKinds(inst.kinds),
          context: inst.baseContext(),
          parallelism: 8,
          author: 'bench',
          message: 'plan-scale seed (record-only kinds)',
        });
        phase('apply (record only)');
        expect('outcome', result.outcome, 'applied');
        expect('rows', (await store.resources.listResources()).length, cfg.resources);
      } finally {
        await inst.close();
      }
      break;
    }
  }
  const ms = performance.now() - started;
  await stopProfile();
  reportToParent({ scenario, ms, rssMiB: peakRssMiB(), phases, outcome } satisfies MeasureReport);
}

main().catch((e: unknown) => {
  process.stderr.write(
    `${path.basename(process.argv[1] ?? 'measure')}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exitCode = 1;
});
