/**
 * CPU time of processes from /proc (Linux): user + system seconds of a process and, for nginx,
 * its worker children. CPU time per request does not depend on how the scheduler shares the
 * cores with wrk, the backends and anything else running, so it complements requests/s on a
 * busy machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Fields of /proc/PID/stat after the command name (which may contain spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process and its direct children (nginx: master and workers). */
export function withChildren(pid: number): number[] {
  const out = [pid];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(Number(e));
    if (f && Number(f[1]) === pid) out.push(Number(e)); // field 4 (ppid) is index 1 after the name
  }
  return out;
}

/** User + system CPU seconds used so far by these processes (all their threads). */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime: fields 14 and 15
  }
  return ticks / clockTicks();
}
