/** The CLI's side of the daemon API: finds the daemon of a state dir and talks to it. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApiClient, ApiConnectionError, ApiRequestError } from '../daemon/api/client.js';
import { daemonInfoFile, tokenFile, type DaemonInfo } from '../daemon/info.js';
import { UserError } from './io.js';
import { tryProcessStartTicks } from '../runtime/process/proc.js';

export interface DaemonConnection {
  info: DaemonInfo;
  token: string;
}

/**
 * The daemon of `stateDir`, reached with `token` when given (GROUNDWORK_TOKEN: a token from
 * `groundwork token create`), else with the daemon's own token file (the local admin).
 */
export function tryConnect(stateDir: string, token?: string): DaemonConnection | undefined {
  const file = daemonInfoFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as DaemonInfo;
    // A zombie or a reused pid is not our daemon.
    const ticks = tryProcessStartTicks(info.pid);
    if (ticks === undefined || (info.startTicks !== undefined && ticks !== info.startTicks)) return undefined;
    return { info, token: token || readFileSync(tokenFile(stateDir), 'utf8').trim() };
  } catch {
    return undefined;
  }
}

export function connect(stateDir: string): DaemonConnection {
  const c = tryConnect(stateDir);
  if (!c) throw new UserError(`the Groundwork daemon is not running for ${stateDir}; start it with \`groundwork up\``);
  return c;
}

/** The typed client of this daemon (one method per route). */
export function apiClient(conn: DaemonConnection): ApiClient {
  return new ApiClient(conn.info.url, conn.token);
}

/** The CLI's form of the client's errors: a message with its fix; a conflict exits with 4. */
export function asUserError(e: unknown, conn: DaemonConnection): unknown {
  if (e instanceof ApiRequestError)
    return new UserError(`${e.message}${e.fix ? `\n  fix: ${e.fix}` : ''}`, e.status === 409 ? 4 : 1);
  if (e instanceof ApiConnectionError)
    return new UserError(
      `cannot reach the daemon at ${conn.info.url}: ${e.cause.message}; is it running? (\`groundwork up\`)`,
    );
  return e;
}

/** GROUNDWORK_VAR_* of the client's environment, sent along so the daemon sees the same inputs. */
export function varEnvOf(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('GROUNDWORK_VAR_') && v !== undefined) out[k] = v;
  return out;
}

/** The daemon serves one stack file; a command aimed at another file must not silently use it. */
export function checkSameStack(conn: DaemonConnection, stackFile: string): void {
  if (path.resolve(conn.info.stackFile) !== path.resolve(stackFile)) {
    throw new UserError(
      `the daemon at ${conn.info.url} manages ${conn.info.stackFile}, not ${stackFile}; run the command for that file, or stop the daemon (\`groundwork down\`) first`,
    );
  }
}
