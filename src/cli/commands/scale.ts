import type { ApplyResult } from '../../engine/apply.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { varEnvOf } from '../daemon-client.js';
import { EXIT, UserError } from '../io.js';
import { openOps } from '../open-ops.js';
import { colourEnabled, makeStyle } from '../style.js';
import { authorOf, parseVars } from '../workspace.js';
import { renderEvent, renderResult } from './apply.js';

export const scaleCommand = defineCommand({
  name: 'scale',
  args: ['SERVICE', 'N'],
  summary: 'Run N instances of a service (recorded as a change; the stack file keeps its own count)',
  usage: 'scale SERVICE N [-m MESSAGE] [--json]',
  flags: {
    ...STACK_FLAGS,
    message: { type: 'string', short: 'm', description: 'Why: recorded with the change', valueName: 'MESSAGE' },
  },
  async run(flags, pos, io) {
    const [service, count] = pos;
    if (!service || count === undefined)
      throw new UserError('`groundwork scale` needs a service and a count, e.g. `groundwork scale web 3`', EXIT.usage);
    const replicas = Number(count);
    if (!/^\d+$/.test(count) || replicas > 64)
      throw new UserError(`the count must be a whole number from 0 to 64, found \`${count}\``, EXIT.usage);
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const { ops, close } = openOps(io, flags);
    let result: ApplyResult;
    try {
      result = await ops.scale(
        service,
        {
          replicas,
          vars: parseVars(flags.var),
          varEnv: varEnvOf(io.env),
          author: authorOf(io.env),
          ...(flags.message ? { message: flags.message } : {}),
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
    if (flags.json) {
      if (result.outcome === 'no-op') io.stdout(`${JSON.stringify({ seq: 0, type: 'change-end', result })}\n`);
    } else if (result.outcome === 'no-op') io.stdout(`${service} already runs ${replicas} instance(s).\n`);
    else io.stdout(renderResult(result, style));
    return result.outcome === 'applied' || result.outcome === 'no-op' ? EXIT.ok : EXIT.failed;
  },
});
