import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Plan } from '../../engine/plan.js';
import type { RefreshResult } from '../../engine/refresh.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { varEnvOf } from '../daemon-client.js';
import { EXIT, type CliIo } from '../io.js';
import { openOps } from '../open-ops.js';
import { renderPlan } from '../render-plan.js';
import { colourEnabled, makeStyle, type Style } from '../style.js';
import { authorOf, parseVars, requireModel, withPositionalFile } from '../workspace.js';
import { renderDrift } from './refresh.js';

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
  args: ['FILE'],
  summary: 'Show what apply would change (pure: reads recorded state, not the world)',
  usage: 'plan [FILE | -f FILE] [--out PLANFILE] [--refresh] [--exit-code] [--json]',
  flags: {
    ...STACK_FLAGS,
    out: { type: 'string', description: 'Save the plan for `groundwork apply --plan`', valueName: 'PLANFILE' },
    refresh: { type: 'boolean', description: 'Read the world first and record drift (like `groundwork refresh`)' },
    'exit-code': { type: 'boolean', description: 'Exit 3 when the plan has changes' },
  },
  async run(given, pos, io) {
    const flags = withPositionalFile(given, pos);
    await requireModel(io, flags);
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    // Planning is pure: another stack file than the daemon's is planned here, against the same state.
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      let drift: RefreshResult | undefined;
      if (flags.refresh) {
        drift = await ops.refresh({ author: authorOf(io.env) });
        if (!flags.json) io.stdout(renderDrift(drift.reports, style));
      }
      const plan = await ops.plan({ vars: parseVars(flags.var), varEnv: varEnvOf(io.env) });
      return emitPlan(io, plan, flags, style, drift);
    } finally {
      await close();
    }
  },
});
