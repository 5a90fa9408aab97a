/** Reading /proc, so a pid is only ours when its start time matches too. */
import { readdirSync, readFileSync } from 'node:fs';

/** Field 22 of /proc/PID/stat (starttime, in clock ticks since boot), or undefined when the pid is gone. */
export function tryProcessStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses; the rest follows the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') return undefined;
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

export function isSameProcess(pid: number, startTicks: number): boolean {
  return tryProcessStartTicks(pid) === startTicks;
}

/** CPU seconds and RSS of a process group's members (the wrapper and its descendants). */
export function groupStats(pgid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  const ticks = 100; // USER_HZ on Linux
  let cpu = 0;
  let rss = 0;
  let found = false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) !== pgid) continue;
      found = true;
      cpu += (Number(rest[11]) + Number(rest[12])) / ticks;
      rss += Number(rest[21]) * 4096;
    } catch {
      /* raced with exit */
    }
  }
  return found ? { cpuSeconds: cpu, rssBytes: rss } : undefined;
}

/** Process group and session of a live process (from /proc/PID/stat), or undefined. */
export function tryGroupAndSession(pid: number): { pgid: number; sid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return { pgid: Number(rest[2]), sid: Number(rest[3]) };
  } catch {
    return undefined;
  }
}

function livePids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

/** Live processes whose process group or session is `id` (a setsid'd shim is leader of both). */
export function pidsInGroupOrSession(id: number): number[] {
  return livePids().filter((pid) => {
    const g = tryGroupAndSession(pid);
    return g !== undefined && (g.pgid === id || g.sid === id);
  });
}

/**
 * Live processes whose environment holds `name=value` exactly. Environments are inherited, so
 * this finds descendants that left the process group and session (setsid, double-fork daemons);
 * only a process that clears its environment hides from it. Needs read access to
 * /proc/PID/environ: the same user, or root.
 */
export function pidsWithEnv(name: string, value: string): number[] {
  const needle = Buffer.from(`${name}=${value}\0`);
  return livePids().filter((pid) => {
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      return false;
    }
    for (let at = env.indexOf(needle); at >= 0; at = env.indexOf(needle, at + 1))
      if (at === 0 || env[at - 1] === 0) return tryProcessStartTicks(pid) !== undefined;
    return false;
  });
}
