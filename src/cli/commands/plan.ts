import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makePlan } from '../../engine/plan.js';
import { refresh } from '../../engine/refresh.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT } from '../io.js';
import { renderPlan } from '../render-plan.js';
import { colourEnabled, makeStyle } from '../style.js';
import { authorOf, makeRuntime, openStore, parseVars, requireModel, stackFileOf, stateDirOf } from '../workspace.js';
import { renderDrift } from './refresh.js';
import type { Plan } from '../../engine/plan.js';
import type { RefreshResult } from '../../engine/refresh.js';
import type { CliIo } from '../io.js';
import type { Style } from '../style.js';
import { getJson, tryConnect, varEnvOf } from '../daemon-client.js';

function emitPlan(
  io: CliIo,
  plan: Plan,
  flags: { out?: string; json: boolean; 'exit-code': boolean },
  style: Style,
  drift: RefreshResult | undefined,
): number {
  if (flags.out) writeFileSync(path.resolve(io.cwd, flags.out), `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 });
  if (flags.json) io.stdout(`${JSON.stringify(drift ? { ...plan, drift: drift.reports } : plan, null, 2)}\n`);
  else {
    io.stdout(renderPlan(plan, style));
    if (flags.out)
      io.stdout(
        `\nSaved the plan to ${flags.out}. Apply exactly this plan with: groundwork apply --plan ${flags.out}\n`,
      );
  }
  return flags['exit-code'] && plan.steps.length ? EXIT.changes : EXIT.ok;
}

export const planCommand = defineCommand({
  name: 'plan',
  summary: 'Show what apply would change (pure: reads recorded state, not the world)',
  usage: 'plan [-f FILE] [--out PLANFILE] [--refresh] [--exit-code] [--json]',
  flags: {
    ...STACK_FLAGS,
    out: { type: 'string', description: 'Save the plan for `groundwork apply --plan`', valueName: 'PLANFILE' },
    refresh: { type: 'boolean', description: 'Read the world first and record drift (like `groundwork refresh`)' },
    'exit-code': { type: 'boolean', description: 'Exit 3 when the plan has changes' },
  },
  async run(flags, _pos, io) {
    const model = await requireModel(io, flags);
    const stateDir = stateDirOf(io, flags);
    const connected = tryConnect(stateDir);
    // Planning is pure: another stack file than the daemon's is planned here, against the same state.
    const daemon =
      connected && path.resolve(connected.info.stackFile) === path.resolve(stackFileOf(io, flags))
        ? connected
        : undefined;
    if (daemon) {
      const style = makeStyle(colourEnabled(io.env, io.isTty));
      if (flags.refresh) {
        const r = await getJson<RefreshResult>(daemon, 'POST', '/v1/refresh', {});
        if (!flags.json) io.stdout(renderDrift(r.reports, style));
      }
      const plan = await getJson<Plan>(daemon, 'POST', '/v1/plan', {
        vars: parseVars(flags.var),
        varEnv: varEnvOf(io.env),
      });
      return emitPlan(io, plan, flags, style, undefined);
    }
    const store = openStore(stateDir);
    try {
      const style = makeStyle(colourEnabled(io.env, io.isTty));
      let drift;
      if (flags.refresh) {
        const rt = makeRuntime(model.stack, model.dir, stateDir, io.env);
        drift = await refresh(store, rt.kinds, rt.context, { author: authorOf(io.env), record: true });
        if (!flags.json) io.stdout(renderDrift(drift.reports, style));
      }
      const plan = makePlan(
        model,
        store.listResources(),
        store.serial(),
        makeRuntime(model.stack, model.dir, stateDir, io.env).kinds,
      );
      return emitPlan(io, plan, flags, style, drift);
    } finally {
      store.close();
    }
  },
});
