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
