import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError } from '../io.js';
import { openOps } from '../open-ops.js';
import { stopDataPlane } from '../../proxy/process/launcher.js';
import { authorOf, stateDirOf } from '../workspace.js';

export const restartCommand = defineCommand({
  name: 'restart',
  args: ['SERVICE'],
  summary: 'Restart a service, one instance at a time (each ready before the next)',
  usage: 'restart SERVICE [--json]',
  flags: STACK_FLAGS,
  async run(flags, pos, io) {
    const service = pos[0];
    if (!service) throw new UserError('`groundwork restart` needs a service name', EXIT.usage);
    const { ops, close } = openOps(io, flags);
    try {
      await ops.restart(service, { author: authorOf(io.env) }, (message) => {
        if (flags.json) io.stdout(`${JSON.stringify({ type: 'progress', address: `service.${service}`, message })}\n`);
        else io.stdout(`${service}: ${message}\n`);
      });
    } finally {
      await close();
    }
    if (flags.json) io.stdout(`${JSON.stringify({ type: 'result', ok: true })}\n`);
    else io.stdout(`Restarted ${service}.\n`);
    return EXIT.ok;
  },
});

export const downCommand = defineCommand({
  name: 'down',
  summary: 'Stop every service (and the daemon, when one runs)',
  usage: 'down [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    const { ops, via, close } = openOps(io, flags);
    try {
      await ops.down({ author: authorOf(io.env) }, (message) => {
        if (flags.json) io.stdout(`${JSON.stringify({ type: 'progress', message })}\n`);
        else io.stdout(`${message}\n`);
      });
    } finally {
      await close();
    }
    // Without a daemon, the data plane it left serving (a Ctrl-C'd `up`) stops here.
    if (via === 'local') {
      const pid = await stopDataPlane(stateDirOf(io, flags));
      if (pid !== undefined && !flags.json) io.stdout(`Stopped the data plane (pid ${pid}).\n`);
    }
    if (flags.json)
      io.stdout(`${JSON.stringify({ type: 'result', ok: true, daemon: via === 'daemon' ? 'exiting' : 'none' })}\n`);
    else io.stdout(via === 'daemon' ? 'All services stopped; the daemon is exiting.\n' : 'All services stopped.\n');
    return EXIT.ok;
  },
});
