import path from 'node:path';
import { Daemon } from '../../daemon/daemon.js';
import { RemoteDataPlane } from '../../proxy/process/remote-data-plane.js';
import { systemClock } from '../../util/clock.js';
import { streamLogger } from '../../util/logger.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { tryConnect } from '../daemon-client.js';
import { OperationError } from '../../core/errors.js';
import { errorMessage } from '../../util/error-message.js';
import { EXIT, UserError } from '../io.js';
import { colourEnabled, makeStyle } from '../style.js';
import { parseVars, stackFileOf, stateDirOf } from '../workspace.js';
import { renderEvent } from './apply.js';

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UserError(
      `--listen needs HOST:PORT (e.g. 127.0.0.1:7420, or port 0 for any free port), found "${text}"`,
      EXIT.usage,
    );
  return { host: (m[1] ?? m[2]) as string, port };
}

export const upCommand = defineCommand({
  name: 'up',
  args: ['DIR'],
  summary: 'Run the daemon in the foreground: apply the stack, supervise it, serve the API',
  usage: 'up [DIR] [--listen HOST:PORT] [--var NAME=VALUE]... [--no-apply]',
  flags: {
    ...STACK_FLAGS,
    listen: {
      type: 'string',
      description: 'API address (default 127.0.0.1:0: any free port, written to .groundwork/daemon.json)',
      valueName: 'HOST:PORT',
    },
    'no-apply': { type: 'boolean', description: 'Do not apply the stack at start (only adopt and supervise)' },
    'log-level': { type: 'string', description: 'debug | info | warn | error (default info)', valueName: 'LEVEL' },
  },
  async run(flags, pos, io) {
    const f = { ...flags, file: flags.file ?? pos[0] };
    const stackFile = stackFileOf(io, f);
    const stateDir = stateDirOf(io, f);
    const running = tryConnect(stateDir);
    if (running)
      throw new UserError(
        `a daemon (pid ${running.info.pid}) already runs for this stack at ${running.info.url}`,
        EXIT.refused,
      );
    const listen = parseListen(flags.listen ?? io.env.GROUNDWORK_LISTEN ?? '127.0.0.1:0');
    if (listen.host !== '127.0.0.1' && listen.host !== '::1' && listen.host !== 'localhost' && !flags.json) {
      io.stderr(
        `warning: the API listens on ${listen.host}, not only on loopback; every route still needs the token.\n`,
      );
    }
    const level = (flags['log-level'] ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
    if (!['debug', 'info', 'warn', 'error'].includes(level))
      throw new UserError('--log-level is one of debug, info, warn, error', EXIT.usage);
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const logger = streamLogger((l) => io.stderr(l), level);
    // The data plane runs in its own process so traffic outlives this one: adopt the one that
    // serves this state directory (it keeps its configuration until the daemon reconciles it).
    let dataPlane: RemoteDataPlane;
    try {
      const attached = await RemoteDataPlane.attach({ launch: { stateDir, logLevel: level }, logger });
      dataPlane = attached.plane;
      const f = attached.found;
      if (!flags.json && f.kind === 'adopted')
        io.stdout(
          `Adopted the running data plane (pid ${f.hello.pid}: ${f.listeners} listeners, ${f.routes} routes, ${f.pools} pools); reconciling it.\n`,
        );
      if (!flags.json && f.kind === 'replaced')
        io.stdout(`Replaced the data plane of another version (pid ${f.old.pid} → ${f.hello.pid}).\n`);
    } catch (e) {
      throw new UserError(`the data plane could not start: ${errorMessage(e)}`);
    }
    const daemon = new Daemon({
      dataPlane,
      stackFile,
      stateDir,
      host: listen.host,
      port: listen.port,
      vars: parseVars(flags.var),
      env: io.env,
      clock: systemClock,
      logger,
      applyOnStart: !flags['no-apply'],
      onApplyEvent: (e) => {
        if (flags.json) {
          io.stdout(`${JSON.stringify(e)}\n`);
          return;
        }
        const line = renderEvent(e, style);
        if (line) io.stdout(`${line}\n`);
      },
    });
    const stopping = new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
      void daemon.exited.then(() => resolve('down'));
    });
    try {
      await daemon.start();
    } catch (e) {
      await daemon.stop().catch(() => undefined);
      const fix = e instanceof OperationError && e.fix ? `\n  fix: ${e.fix}` : '';
      throw new UserError(`the daemon could not start: ${errorMessage(e)}${fix}`);
    }
    const ready = {
      type: 'ready',
      url: daemon.url,
      dashboard: `${daemon.url}/ui/`,
      pid: process.pid,
      token: path.join(stateDir, 'daemon.token'),
    };
    if (flags.json) io.stdout(`${JSON.stringify(ready)}\n`);
    else
      io.stdout(
        `Groundwork daemon ready at ${daemon.url} (pid ${process.pid}; token in ${ready.token}). Ctrl-C stops the daemon; services keep running.\n` +
          `Dashboard: ${ready.dashboard} (log in with that token, or one from \`groundwork token create\`)\n`,
      );
    const why = await stopping;
    await daemon.stop();
    if (!flags.json)
      io.stdout(
        why === 'down'
          ? 'Services stopped; daemon exiting.\n'
          : `Daemon stopped (${why}); services and the data plane keep running. \`groundwork up\` adopts them again.\n`,
      );
    return EXIT.ok;
  },
});
