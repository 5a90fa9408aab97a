/**
 * The data-plane process: one NodeProxy, configured over the control socket of a state
 * directory, so traffic keeps flowing while the daemon that configures it stops, crashes or is
 * upgraded. The daemon starts it detached (launcher.ts); by hand:
 *
 *   node dist/proxy/process/main.js --state-dir .groundwork [--log-level info]
 *
 * Files in the state directory: `dataplane.sock` (the control socket, 0600), `dataplane.pid`
 * (pid, version, start time; removed at exit). Operational log lines go to stderr, which the
 * launcher points at `dataplane.log`. SIGTERM or SIGINT (or `shutdown` on the socket) closes
 * every listener and exits.
 */
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NodeProxy } from '../node/node-proxy.js';
import { CertificateManager } from '../../tls/certificate-manager.js';
import { tlsStoreDir } from '../../tls/certificate-files.js';
import { systemClock } from '../../util/clock.js';
import { Duration } from '../../util/duration.js';
import { errorMessage } from '../../util/error-message.js';
import { streamLogger, type LogLevel } from '../../util/logger.js';
import { ControlServer } from './control-server.js';
import { PID_FILE, PROTOCOL, SOCKET_FILE, type Hello } from './protocol.js';
import { dataPlaneVersion } from './version.js';
import { writeListenerStatus } from './listener-status-file.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'state-dir': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'eject-for': { type: 'string' },
      'timer-resolution': { type: 'string' },
    },
    strict: true,
  });
  const stateDir = values['state-dir'];
  if (!stateDir) throw new Error('--state-dir is required: the directory of dataplane.sock (e.g. .groundwork)');
  const level = values['log-level'] as LogLevel;
  if (!LEVELS.includes(level)) throw new Error(`--log-level is one of ${LEVELS.join(', ')}, found "${level}"`);
  const logger = streamLogger((l) => process.stderr.write(l), level);
  // Certificates live with the process that serves them: it reads keys from files (never from the socket).
  const certificates = new CertificateManager({ storeDir: tlsStoreDir(stateDir), clock: systemClock, logger });
  const proxy = new NodeProxy({
    logger,
    clock: systemClock,
    certificates,
    onListenerStatus: (listeners) =>
      writeListenerStatus(stateDir, { pid: process.pid, updatedAt: new Date().toISOString(), listeners }),
    ...(values['eject-for'] ? { ejectFor: Duration.parse(values['eject-for']) } : {}),
    ...(values['timer-resolution'] ? { timerResolution: Duration.parse(values['timer-resolution']) } : {}),
  });
  const hello: Hello = {
    protocol: PROTOCOL,
    version: dataPlaneVersion(fileURLToPath(import.meta.url)),
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  const pidFile = path.join(stateDir, PID_FILE);
  const leave = (code: number) => {
    try {
      const cur = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid?: number };
      if (cur.pid === process.pid) rmSync(pidFile, { force: true });
    } catch {
      /* gone already */
    }
    process.exit(code);
  };
  const server = new ControlServer(proxy, { hello, logger, onShutdown: () => leave(0) });
  await server.listen(path.join(stateDir, SOCKET_FILE));
  writeFileSync(pidFile, `${JSON.stringify(hello)}\n`, { mode: 0o600 });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log('info', 'data plane stopping', { signal });
      void proxy
        .close()
        .then(() => server.close())
        .finally(() => leave(0));
    });
  }
  // Nothing is written to a terminal: the launcher detached us. A closed log pipe is no reason to die.
  process.stderr.on('error', () => undefined);
  process.on('uncaughtException', (e) => {
    logger.log('error', 'data plane crashed', { error: errorMessage(e), stack: e.stack });
    leave(70);
  });
  logger.log('info', 'data plane ready', { ...hello, socket: path.join(stateDir, SOCKET_FILE) });
}

main().catch((e: unknown) => {
  process.stderr.write(`groundwork data plane: ${errorMessage(e)}\n`);
  process.exit(1);
});
