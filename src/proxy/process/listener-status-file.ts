/**
 * What the data-plane process's listeners are, as a file in the state directory
 * (`dataplane-listeners.json`): written by the process whenever a listener binds, fails to bind
 * or goes away; read by `groundwork status`, with or without a daemon (the data plane outlives
 * it). Names, addresses and bind errors only.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ListenerStatus } from '../node/node-proxy.js';

export const LISTENER_STATUS_FILE = 'dataplane-listeners.json';

export interface ListenerStatusFile {
  /** Pid of the data-plane process that wrote it (the file outlives a process that was killed). */
  pid: number;
  updatedAt: string;
  listeners: ListenerStatus[];
}

export function writeListenerStatus(stateDir: string, status: ListenerStatusFile): void {
  const file = path.join(stateDir, LISTENER_STATUS_FILE);
  // Written whole then renamed: a reader never sees half a file.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(status, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The listeners last reported in a state directory; null when no data plane ever wrote them. */
export function readListenerStatus(stateDir: string): ListenerStatusFile | null {
  try {
    const parsed = JSON.parse(readFileSync(path.join(stateDir, LISTENER_STATUS_FILE), 'utf8')) as ListenerStatusFile;
    return Array.isArray(parsed.listeners) && typeof parsed.pid === 'number' ? parsed : null;
  } catch {
    return null;
  }
}
