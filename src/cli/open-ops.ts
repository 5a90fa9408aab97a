/**
 * `const ops = await openOps(io, flags)`: the operations of the stack, through its daemon when one
 * runs, else on the installation opened in this process. Commands are written once against
 * `Operations` and do not know which they got.
 */
import path from 'node:path';
import { Installation } from '../core/installation.js';
import { LocalOperations } from '../core/local-operations.js';
import { LocalTraffic } from '../core/local-traffic.js';
import type { Operations } from '../core/operations.js';
import { systemClock } from '../util/clock.js';
import { silentLogger } from '../util/logger.js';
import { checkSameStack, tryConnect } from './daemon-client.js';
import { stackFileOf, stateDirOf, type StackFlags } from './workspace.js';
import type { CliIo } from './io.js';
import { RemoteOperations } from './remote-operations.js';

export interface OpenedOps {
  ops: Operations;
  /** Through a daemon, or in this process. */
  via: 'daemon' | 'local';
  close(): Promise<void>;
}

export interface OpenOpsOptions {
  /**
   * A daemon that manages another stack file: 'refuse' (the default, for commands that change
   * state) or 'local' (pure reads such as plan run here against the same state).
   */
  otherStack?: 'refuse' | 'local';
}

export function openOps(io: CliIo, flags: StackFlags, options: OpenOpsOptions = {}): OpenedOps {
  const stateDir = stateDirOf(io, flags);
  const stackFile = stackFileOf(io, flags);
  const conn = tryConnect(stateDir, io.env.GROUNDWORK_TOKEN);
  if (conn) {
    if (options.otherStack !== 'local') checkSameStack(conn, stackFile);
    if (options.otherStack !== 'local' || sameFile(conn.info.stackFile, stackFile))
      return { ops: new RemoteOperations(conn), via: 'daemon', close: async () => undefined };
  }
  const installation = Installation.open({
    stackFile,
    stateDir,
    env: io.env,
    clock: systemClock,
    logger: silentLogger,
  });
  // No daemon: operations that change services drive the data-plane process themselves.
  const traffic = new LocalTraffic(installation, (m) => io.stderr(`warning: ${m}\n`));
  const ops = new LocalOperations(installation, { traffic });
  return { ops, via: 'local', close: () => installation.close() };
}

function sameFile(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

/**
 * Runs `fn` with the stack's operations and closes them however it ends: the
 * open/try/finally/close every command would otherwise repeat.
 *
 *   return withOps(io, flags, async (ops) => { ...; return EXIT.ok; }, { otherStack: 'local' });
 */
export async function withOps<T>(
  io: CliIo,
  flags: StackFlags,
  fn: (ops: Operations, via: OpenedOps['via']) => Promise<T>,
  options: OpenOpsOptions = {},
): Promise<T> {
  const { ops, via, close } = openOps(io, flags, options);
  try {
    return await fn(ops, via);
  } finally {
    await close();
  }
}
