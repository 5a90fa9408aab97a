/** How a container's exit code reads as an InstanceStatus. */
import { constants } from 'node:os';
import type { InstanceStatus } from '../runtime-driver.js';

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * Containers run under an init (tini), which exits with 128+N when the service died of signal N,
 * the same convention shells use; so 137 reads as SIGKILL and 143 as SIGTERM. A service that
 * itself exits with such a code is indistinguishable, as under any shell.
 */
export function exitStatus(code: number | null | undefined, oomKilled = false): InstanceStatus {
  if (oomKilled)
    return {
      state: 'exited',
      exitCode: code === 137 || code === null || code === undefined ? null : code,
      signal: 'SIGKILL (out of memory)',
    };
  if (code === null || code === undefined) return { state: 'exited', exitCode: null, signal: null };
  if (code > 128 && code <= 128 + 64)
    return { state: 'exited', exitCode: null, signal: SIGNAL_NAMES.get(code - 128) ?? `signal ${code - 128}` };
  return { state: 'exited', exitCode: code, signal: null };
}

export function describeStatus(s: InstanceStatus): string {
  if (s.state === 'running') return `running (pid ${s.pid})`;
  if (s.state === 'missing') return 'gone';
  if (s.signal) return `killed by ${s.signal}${s.exitCode !== null ? ` (exit code ${s.exitCode})` : ''}`;
  return s.exitCode === null ? 'exited' : `exited with code ${s.exitCode}`;
}
