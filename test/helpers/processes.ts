/**
 * Looking at real processes through /proc: liveness, command lines and environments, and a
 * sweep that kills whatever still runs inside a test's directory, so nothing leaks between tests.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { tryProcessStartTicks } from '../../src/runtime/process/proc.js';
import { waitFor } from './wait.js';

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  return tryProcessStartTicks(pid) !== undefined;
}

export async function waitForExit(pid: number, what = `pid ${pid} to exit`): Promise<void> {
  await waitFor(() => !isAlive(pid), { what });
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

export function tryCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s, i, all) => !(s === '' && i === all.length - 1));
  } catch {
    return undefined;
  }
}

export function tryEnviron(pid: number): Record<string, string> | undefined {
  try {
    const out: Record<string, string> = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = kv.indexOf('=');
      if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return out;
  } catch {
    return undefined;
  }
}

export function tryCwd(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** Live processes (not zombies) with `marker` as one whole argument (optionally only those whose argv[0] is `argv0`). */
export function processesWithArg(marker: string, argv0?: string): number[] {
  return allPids().filter((pid) => {
    const cmd = tryCmdline(pid);
    if (!cmd || !isAlive(pid)) return false;
    if (argv0 !== undefined && path.basename(cmd[0] ?? '') !== argv0) return false;
    return cmd.includes(marker);
  });
}

/** Live processes running in `dir` (cwd inside it) or naming it on their command line, except this one. */
export function processesUnder(dir: string): number[] {
  const inside = (p: string) => p === dir || p.startsWith(`${dir}/`);
  return allPids().filter((pid) => {
    if (pid === process.pid || !isAlive(pid)) return false;
    const cwd = tryCwd(pid);
    if (cwd !== undefined && inside(cwd)) return true;
    return (tryCmdline(pid) ?? []).some((a) => a.includes(dir));
  });
}

/**
 * SIGKILLs everything under `dir` until nothing is left; returns how many it found the first time.
 * A cleanup step; teardown that must prove nothing was left uses leftovers.ts.
 */
export async function killProcessesUnder(dir: string): Promise<number> {
  const first = processesUnder(dir);
  await waitFor(
    () => {
      const left = processesUnder(dir);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      return left.length === 0;
    },
    { what: `every process under ${dir} to be gone after SIGKILL`, timeoutMs: 10_000 },
  );
  return first.length;
}
