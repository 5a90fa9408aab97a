import { defineCommand, STACK_FLAGS } from '../command.js';
import { connect, streamLines } from '../daemon-client.js';
import { EXIT, UserError } from '../io.js';
import { stateDirOf } from '../workspace.js';

export const logsCommand = defineCommand({
  name: 'logs',
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
    const conn = connect(stateDirOf(io, flags));
    const q = new URLSearchParams();
    if (flags.instance !== undefined) q.set('instance', String(flags.instance));
    if (flags.lines !== undefined) q.set('lines', String(flags.lines));
    if (flags.since) q.set('since', flags.since);
    if (flags.follow) q.set('follow', '1');
    await streamLines(conn, 'GET', `/v1/services/${encodeURIComponent(service)}/logs?${q}`, undefined, (line) => {
      io.stdout(flags.json ? `${JSON.stringify({ service, line })}\n` : `${line}\n`);
    });
    return EXIT.ok;
  },
});
