import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { OperationError } from '../../core/errors.js';
import type { ApplyEvent, ApplyResult } from '../../engine/apply.js';
import { PLAN_FORMAT_VERSION, type Plan } from '../../engine/plan.js';
import { planShapeProblem } from '../../engine/plan-schema.js';
import { errorMessage } from '../../util/error-message.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { varEnvOf } from '../daemon-client.js';
import { EXIT, UsageError, UserError } from '../io.js';
import { openOps } from '../open-ops.js';
import { renderPlan } from '../render-plan.js';
import { colourEnabled, makeStyle, type Style } from '../style.js';
import { authorOf, parseVars, requireModel } from '../workspace.js';
import { BREAK_GLASS_FLAG, DECISION_FLAG, parseDecisions } from './change-flags.js';

export function readSavedPlan(file: string): Plan {
  let plan: unknown;
  try {
    plan = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(
      `cannot read the saved plan ${file}: ${errorMessage(e)}; make one with \`groundwork plan --out ${path.basename(file)}\``,
    );
  }
  const problem = planShapeProblem(plan);
  if (problem) {
    throw new UserError(
      `${file} is not a Groundwork plan (format ${PLAN_FORMAT_VERSION}): ${problem}; make one with \`groundwork plan --out FILE\``,
    );
  }
  // planShapeProblem checked it against the plan's schema.
  return plan as Plan;
}

export function renderEvent(e: ApplyEvent, style: Style): string | undefined {
  switch (e.type) {
    case 'recovered':
      return style.yellow(
        `Recovered from an interrupted run: ${e.entries.map((x) => `${x.action} ${x.address}`).join(', ')} did not finish; this run completes it.`,
      );
    case 'change-start':
      return `Applying change #${e.changeId} (${e.steps} step${e.steps === 1 ? '' : 's'})`;
    case 'step-start':
      return `${e.address}: ${e.action === 'delete' ? 'deleting' : e.action === 'create' ? 'creating' : e.action === 'update' ? 'updating' : 'replacing'}...`;
    case 'progress':
      return style.dim(`${e.address}: ${e.message}`);
    case 'step-end':
      if (e.status === 'applied')
        return `${e.address}: ${style.green(`${e.action} done`)} ${style.dim(`(${(e.ms / 1000).toFixed(1)}s)`)}`;
      if (e.status === 'failed') return `${e.address}: ${style.red(`${e.action} failed`)}: ${e.error}`;
      return `${e.address}: ${style.yellow('skipped')} (${e.error})`;
    case 'change-end':
      return undefined;
  }
}

export function renderResult(r: ApplyResult, style: Style): string {
  const head =
    r.outcome === 'applied' || r.outcome === 'no-op'
      ? style.green('Apply complete!')
      : style.red(`Apply ${r.outcome === 'partial' ? 'partly failed' : 'failed'}.`);
  const lines = [
    `\n${head} ${r.applied.length} applied, ${r.failed.length} failed, ${r.skipped.length} skipped. (change #${r.changeId}, state serial ${r.serial})`,
  ];
  for (const f of r.failed) lines.push(`  ${style.red('failed')}  ${f.address}: ${f.error}`);
  for (const s of r.skipped) lines.push(`  ${style.yellow('skipped')} ${s.address}: ${s.because}`);
  return `${lines.join('\n')}\n`;
}

export const applyCommand = defineCommand({
  name: 'apply',
  args: ['REQUEST|PLANFILE'],
  summary: 'Make the running stack match the stack file (or apply a saved plan, or an approved change request)',
  usage:
    'apply [REQUEST | PLANFILE] [-f FILE] [--plan PLANFILE] [-m MESSAGE] [--decision N] [--break-glass REASON] [--parallelism N] [-y] [--json]',
  flags: {
    ...STACK_FLAGS,
    plan: {
      type: 'string',
      description: 'Apply exactly this saved plan; refused when state or stack changed since',
      valueName: 'PLANFILE',
    },
    message: { type: 'string', short: 'm', description: 'Why: recorded with the change', valueName: 'MESSAGE' },
    parallelism: { type: 'number', description: 'Steps run at once (default 8)', valueName: 'N' },
    yes: { type: 'boolean', short: 'y', description: 'Do not ask for confirmation on a terminal' },
    decision: DECISION_FLAG,
    'break-glass': BREAK_GLASS_FLAG,
  },
  async run(flags, pos, io) {
    // `apply 7` carries out approved change request #7; `apply plan.json` is `apply --plan plan.json`.
    const arg = pos[0];
    const request = arg !== undefined && /^\d+$/.test(arg) ? Number(arg) : undefined;
    const planFile = request === undefined ? (arg ?? flags.plan) : flags.plan;
    if (arg !== undefined && request === undefined && flags.plan)
      throw new UserError('give the saved plan once: as an argument or with --plan', EXIT.usage);
    // A stray word (`apply now`) is neither a request number nor a plan file: a usage error, not a missing file.
    if (arg !== undefined && request === undefined && !existsSync(path.resolve(io.cwd, arg)))
      throw new UsageError(
        `unexpected argument \`${arg}\`: apply takes REQUEST|PLANFILE (a change request number or a saved plan file, and there is no file \`${arg}\`); usage: groundwork apply [REQUEST|PLANFILE] [--yes] [-m MESSAGE]`,
      );
    // Validated here, so a broken stack file reads the same with or without a daemon.
    await requireModel(io, flags);
    const parallelism = flags.parallelism ?? 8;
    if (!Number.isInteger(parallelism) || parallelism < 1)
      throw new UserError('--parallelism needs a whole number of at least 1', EXIT.usage);
    let saved = planFile ? readSavedPlan(path.resolve(io.cwd, planFile)) : undefined;
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const { ops, close } = openOps(io, flags);
    let result: ApplyResult;
    let printedPlan = false;
    try {
      // On a terminal, like Terraform: the plan first, then a question; what was confirmed is
      // applied exactly (as a saved plan, refused if state moved meanwhile). Never asked without one.
      if (!saved && request === undefined && !flags.yes && !flags.json && io.isTty && io.ask) {
        const plan = await ops.plan({ vars: parseVars(flags.var), varEnv: varEnvOf(io.env) });
        io.stdout(renderPlan(plan, style));
        printedPlan = true;
        if (plan.steps.length === 0) return EXIT.ok;
        const answer = await io.ask('\nApply these changes? Only `yes` is accepted: ');
        if (answer !== null) {
          if (answer.trim() !== 'yes') {
            io.stdout('Apply cancelled: nothing was changed.\n');
            return EXIT.failed;
          }
          saved = plan;
        }
      }
      result = await ops.apply(
        {
          vars: parseVars(flags.var),
          varEnv: varEnvOf(io.env),
          message: flags.message ?? '',
          author: authorOf(io.env),
          parallelism,
          decisions: parseDecisions(flags.decision),
          ...(flags['break-glass'] !== undefined ? { breakGlass: flags['break-glass'] } : {}),
          ...(request !== undefined ? { request } : {}),
          ...(saved ? { plan: saved } : {}),
        },
        {
          onPlan: (plan) => {
            if (flags.json || printedPlan) return;
            io.stdout(renderPlan(plan, style));
            if (plan.steps.length) io.stdout('\n');
          },
          onEvent: (e) => {
            if (flags.json) {
              io.stdout(`${JSON.stringify(e)}\n`);
              return;
            }
            const line = renderEvent(e, style);
            if (line) io.stdout(`${line}\n`);
          },
        },
      );
    } catch (e) {
      if (e instanceof OperationError && e.code === 'refused' && (planFile || request !== undefined))
        throw new UserError(
          `Refusing to apply ${planFile ?? `change request #${request}`}: ${e.message}${e.fix ? `\n  fix: ${e.fix}` : ''}`,
          EXIT.refused,
        );
      throw e;
    } finally {
      await close();
    }
    if (!flags.json && result.outcome !== 'no-op') io.stdout(renderResult(result, style));
    if (flags.json && result.outcome === 'no-op')
      io.stdout(`${JSON.stringify({ seq: 0, type: 'change-end', result })}\n`);
    return result.outcome === 'applied' || result.outcome === 'no-op' ? EXIT.ok : EXIT.failed;
  },
});
