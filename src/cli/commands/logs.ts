import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError } from '../io.js';
import { openOps } from '../open-ops.js';

export const logsCommand = defineCommand({
  name: 'logs',
  args: ['SERVICE'],
  summary: 'Show (and follow) the logs of a service',
  usage: 'logs SERVICE [-F] [--since 10m] [--instance N] [--lines N]',
  flags: {
    ...STACK_FLAGS,
    follow: { type: 'boolean', short: 'F', description: 'Keep streaming new lines' },
    since: {
      type: 'string',
      description: 'Only lines written since (a duration like 10m, or a timestamp)',
      valueName: 'WHEN',
    },
    instance: { type: 'number', description: 'Only this instance', valueName: 'N' },
    lines: { type: 'number', short: 'n', description: 'Last N lines (default 200)', valueName: 'N' },
  },
  async run(flags, pos, io) {
    const service = pos[0];
    if (!service) throw new UserError('`groundwork logs` needs a service name, e.g. `groundwork logs web`', EXIT.usage);
    const { ops, close } = openOps(io, flags);
    try {
      await ops.logs(
        service,
        {
          ...(flags.instance !== undefined ? { instance: flags.instance } : {}),
          ...(flags.lines !== undefined ? { lines: flags.lines } : {}),
          ...(flags.since ? { since: flags.since } : {}),
          follow: flags.follow === true,
        },
        (text) => {
          if (!flags.json) {
            io.stdout(text);
            return;
          }
          for (const line of text.split('\n').filter((l, i, all) => i < all.length - 1 || l !== ''))
            io.stdout(`${JSON.stringify({ service, line })}\n`);
        },
      );
    } finally {
      close();
    }
    return EXIT.ok;
  },
});
