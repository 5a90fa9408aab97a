/**
 * Where a running daemon says where it is: `.groundwork/daemon.json` (url, pid) and the API token
 * `.groundwork/daemon.token` (0600). The CLI reads both to reach the daemon.
 */
import path from 'node:path';

export interface DaemonInfo {
  pid: number;
  startTicks?: number;
  url: string;
  startedAt: string;
  stackFile: string;
}

export function daemonInfoFile(stateDir: string): string {
  return path.join(stateDir, 'daemon.json');
}
export function tokenFile(stateDir: string): string {
  return path.join(stateDir, 'daemon.token');
}
