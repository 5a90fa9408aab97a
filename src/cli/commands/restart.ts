import { defineCommand, STACK_FLAGS } from '../command.js';
import { connect, streamLines } from '../daemon-client.js';
import { EXIT, UserError } from '../io.js';
import { stateDirOf } from '../workspace.js';

interface Line {
  type: string;
  message?: string;
  address?: string;
  error?: { message: string };
}

export const restartCommand = defineCommand({
  name: 'restart',
  summary: 'Restart a service, one instance at a time (each ready before the next)',
  usage: 'restart SERVICE [--json]',
  flags: STACK_FLAGS,
  async run(flags, pos, io) {
    const service = pos[0];
    if (!service) throw new UserError('`groundwork restart` needs a service name', EXIT.usage);
    const conn = connect(stateDirOf(io, flags));
    let failed: string | undefined;
    await streamLines(conn, 'POST', `/v1/services/${encodeURIComponent(service)}/restart`, {}, (raw) => {
      const l = JSON.parse(raw) as Line;
      if (flags.json) io.stdout(`${raw}\n`);
      else if (l.type === 'progress') io.stdout(`${service}: ${l.message}\n`);
      if (l.type === 'error') failed = l.error?.message;
    });
    if (failed) throw new UserError(failed);
    if (!flags.json) io.stdout(`Restarted ${service}.\n`);
    return EXIT.ok;
  },
});

export const downCommand = defineCommand({
  name: 'down',
  summary: 'Stop every service and the daemon',
  usage: 'down [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    const conn = connect(stateDirOf(io, flags));
    await streamLines(conn, 'POST', '/v1/down', {}, (raw) => {
      const l = JSON.parse(raw) as Line;
      if (flags.json) io.stdout(`${raw}\n`);
      else if (l.type === 'progress') io.stdout(`${l.message}\n`);
    });
    if (!flags.json) io.stdout('All services stopped; the daemon is exiting.\n');
    return EXIT.ok;
  },
});
