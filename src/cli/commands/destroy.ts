/**
 * `groundwork destroy`: removes everything the stack created, planned and confirmed like
 * Terraform's destroy. The plan is made against a stack that declares nothing (volumes kept
 * unless --volumes), shown, confirmed, and then applied exactly (a saved plan: refused if state
 * moved in between).
 */
import type { ApplyResult } from '../../engine/apply.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { varEnvOf } from '../daemon-client.js';
import { EXIT, UserError } from '../io.js';
import { openOps } from '../open-ops.js';
import { renderPlan } from '../render-plan.js';
import { colourEnabled, makeStyle } from '../style.js';
import { authorOf, parseVars, requireModel } from '../workspace.js';
import { renderEvent, renderResult } from './apply.js';

export const destroyCommand = defineCommand({
  name: 'destroy',
  summary: 'Remove everything the stack created (volumes only with --volumes), after a plan and a confirmation',
  usage: 'destroy [-f FILE] [--volumes] [--auto-approve] [-m MESSAGE] [--json]',
  flags: {
    ...STACK_FLAGS,
    volumes: { type: 'boolean', description: 'Also delete volumes: their data is gone' },
    'auto-approve': {
      type: 'boolean',
      description: 'Do not ask for confirmation (needed without a terminal and with --json)',
    },
    message: { type: 'string', short: 'm', description: 'Why: recorded with the change', valueName: 'MESSAGE' },
  },
  async run(flags, _pos, io) {
    const model = await requireModel(io, flags);
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const inputs = {
      vars: parseVars(flags.var),
      varEnv: varEnvOf(io.env),
      destroy: { volumes: flags.volumes === true },
    };
    const { ops, close } = openOps(io, flags);
    let result: ApplyResult;
    try {
      const plan = await ops.plan(inputs);
      if (flags.json) io.stdout(`${JSON.stringify({ type: 'plan', plan })}\n`);
      else io.stdout(renderPlan(plan, style));
      if (plan.steps.length === 0) {
        if (!flags.json) io.stdout('\nNothing to destroy.\n');
        return EXIT.ok;
      }
      if (!flags['auto-approve']) {
        const kept = flags.volumes ? '' : ' Volumes are kept (--volumes deletes them too).';
        const answer = flags.json
          ? null
          : await io.ask?.(
              `\n${style.red(`Destroy ${plan.steps.length} resource(s) of stack ${model.stack}?`)}${kept}\nType the stack name to confirm: `,
            );
        if (answer === null || answer === undefined)
          throw new UserError(
            'destroy needs a confirmation and there is no terminal to ask on; review the plan above, then run again with --auto-approve',
            EXIT.usage,
          );
        if (answer.trim() !== model.stack) {
          io.stdout('Destroy cancelled: nothing was changed.\n');
          return EXIT.failed;
        }
      }
      result = await ops.apply(
        {
          ...inputs,
          plan,
          message: flags.message ?? `destroy${flags.volumes ? ' (with volumes)' : ''}`,
          author: authorOf(io.env),
        },
        {
          onEvent: (e) => {
            if (flags.json) io.stdout(`${JSON.stringify(e)}\n`);
            else {
              const line = renderEvent(e, style);
              if (line) io.stdout(`${line}\n`);
            }
          },
        },
      );
    } finally {
      await close();
    }
    if (!flags.json) io.stdout(renderResult(result, style).replace('Apply complete!', 'Destroy complete!'));
    return result.outcome === 'applied' || result.outcome === 'no-op' ? EXIT.ok : EXIT.failed;
  },
});
