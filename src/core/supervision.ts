/**
 * What operations need from whoever keeps instances running (the daemon's supervisor). Without a
 * daemon nobody supervises: operations then work on recorded state and the drivers alone.
 */
import type { Queryable } from '../observe/promql/engine.js';
import type { Address } from '../model/resource.js';
import type { LogIndex } from '../observe/log-files.js';
import type { InstanceView } from './status.js';

export interface Supervision {
  /** Stop watching a service while an operation changes it; resolves when no restart is in flight. */
  pause(address: Address): Promise<void>;
  /** Watch it again, from what the operation recorded. */
  resume(address: Address): Promise<void>;
  /** Forget a service whose instances were stopped on purpose (`down`): no restarts. */
  forget(address: Address): void;
  view(): InstanceView[];
}

/** Where the daemon hooks into operations: supervision, and traffic after a change. */
export interface OperationsRuntime {
  supervision?: Supervision;
  /** After apply, deploy or rollback changed state (the daemon reconfigures its data plane). */
  afterChange?(): Promise<void>;
  /** The daemon's time index of log files (for `logs --since`). */
  logIndex?: LogIndex;
  /**
   * Without a daemon: runs an operation that changes services with traffic moved through the
   * data-plane process, and leaves it configured after (core/local-traffic.ts).
   */
  traffic?: { around<T>(fn: () => Promise<T>): Promise<T> };
  /** The daemon's metrics store (queried in memory: its unflushed samples count). */
  metrics?: Queryable;
  /** The daemon's own facts for `status`. */
  daemon?(): { pid: number; startedAt: string; url: string; rssBytes: number };
}
