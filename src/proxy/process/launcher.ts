/**
 * Starting and stopping the data-plane process of a state directory. It runs detached (its own
 * session, stdio on `dataplane.log`), so it outlives whoever started it: a daemon's SIGKILL or a
 * Ctrl-C of `groundwork up` leaves it serving.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogLevel } from '../../util/logger.js';
import { ControlConnection } from './control-client.js';
import { LOG_FILE, PID_FILE, SOCKET_FILE, type Hello } from './protocol.js';

export interface DataPlaneLaunch {
  stateDir: string;
  /** The entry to run with this Node. Default: `main.js` beside this module (dist/proxy/process/). */
  entry?: string;
  /** More arguments for the entry (e.g. `--eject-for 500ms`). */
  args?: string[];
  /** Default info. */
  logLevel?: LogLevel;
  /** How long the process may take to answer on its socket. Default 10 s. */
  startTimeoutMs?: number;
}

export function socketPathOf(stateDir: string): string {
  return path.join(stateDir, SOCKET_FILE);
}

export function logFileOf(stateDir: string): string {
  return path.join(stateDir, LOG_FILE);
}

/** The compiled entry beside this module; a clear error when there is none (running from src/). */
export function defaultEntry(): string {
  let entry = fileURLToPath(new URL('./main.js', import.meta.url));
  // Run from src/ (tsx, the tests' in-process CLI): the compiled entry of the same tree.
  const built = fileURLToPath(new URL('../../../dist/proxy/process/main.js', import.meta.url));
  if (!existsSync(entry) && existsSync(built)) entry = built;
  if (!existsSync(entry))
    throw new Error(
      `the data-plane entry ${entry} does not exist; build with \`npm run build\` and run dist/, or pass its path`,
    );
  return entry;
}

/** What `dataplane.pid` says (it may be stale: check the pid or the socket). */
export function readPidFile(stateDir: string): Hello | undefined {
  try {
    return JSON.parse(readFileSync(path.join(stateDir, PID_FILE), 'utf8')) as Hello;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the process detached and resolves once it answers on its socket (with its pid). Only a
 * few environment variables are passed on: the data plane needs none of the daemon's.
 */
export async function spawnDataPlane(l: DataPlaneLaunch): Promise<number> {
  const entry = l.entry ?? defaultEntry();
  mkdirSync(l.stateDir, { recursive: true, mode: 0o711 });
  const log = openSync(logFileOf(l.stateDir), 'a', 0o600);
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'LANG', 'TZ', 'NODE_OPTIONS']) if (process.env[k]) env[k] = process.env[k] as string;
  let child;
  try {
    child = spawn(
      process.execPath,
      [entry, '--state-dir', path.resolve(l.stateDir), '--log-level', l.logLevel ?? 'info', ...(l.args ?? [])],
      { cwd: l.stateDir, detached: true, stdio: ['ignore', log, log], env },
    );
  } finally {
    closeSync(log);
  }
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}`;
  });
  child.once('error', (e) => {
    exited = `could not start: ${e.message}`;
  });
  child.unref();
  const deadline = Date.now() + (l.startTimeoutMs ?? 10_000);
  const socket = socketPathOf(l.stateDir);
  for (;;) {
    if (exited) throw new Error(`the data plane ${exited}; see ${logFileOf(l.stateDir)}:\n${logTail(l.stateDir)}`);
    try {
      const c = await ControlConnection.connect(socket, 1000);
      const hello = await c.request('hello', {}).finally(() => c.close());
      if (hello.pid === child.pid) return hello.pid;
      // Another one won a race for the socket: ours exits by itself ("already answers").
      return hello.pid;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
      throw new Error(`the data plane did not answer on ${socket} within ${l.startTimeoutMs ?? 10_000} ms`);
    }
    await sleep(20);
  }
}

function logTail(stateDir: string): string {
  try {
    return readFileSync(logFileOf(stateDir), 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Stops the data plane of `stateDir` if one runs: `shutdown` on its socket, else SIGTERM to the
 * pid in its pid file (when that process is still a data plane of this directory); waits for it
 * to exit. Resolves with the pid it stopped, or undefined when none ran.
 */
export async function stopDataPlane(stateDir: string, timeoutMs = 10_000): Promise<number | undefined> {
  let pid: number | undefined;
  try {
    const c = await ControlConnection.connect(socketPathOf(stateDir), 1000);
    try {
      pid = (await c.request('hello', {})).pid;
      await c.request('shutdown', {});
    } finally {
      c.close();
    }
  } catch {
    const p = readPidFile(stateDir)?.pid;
    if (p !== undefined && alive(p) && isDataPlaneOf(p, stateDir)) {
      pid = p;
      process.kill(p, 'SIGTERM');
    }
  }
  if (pid === undefined) return undefined;
  await waitForExit(pid, timeoutMs);
  return pid;
}

/** Waits until `pid` is gone; SIGKILLs it after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await sleep(20);
  }
}

/**
 * SIGKILLs `pid` when it is this state directory's data plane (checked on its command line, so a
 * reused pid is never hit): for a process that is alive but no longer answers. Returns whether
 * it was killed.
 */
export function killDataPlane(pid: number, stateDir: string): boolean {
  if (!alive(pid) || !isDataPlaneOf(pid, stateDir)) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` runs a data plane for `stateDir` (its command line names the directory). */
function isDataPlaneOf(pid: number, stateDir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = argv.indexOf('--state-dir');
    const named = argv[i + 1];
    if (i < 0 || named === undefined) return false;
    // The same directory however it was named (a symlink, a relative path).
    return named === path.resolve(stateDir) || realpathSync(named) === realpathSync(stateDir);
  } catch {
    return false;
  }
}
