/** The apply lease: one writer at a time; a dead holder's lease does not block anyone. */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { LeaseHolder, Store } from '../store/store.js';
import { systemClock, type Timers } from '../util/clock.js';

export const APPLY_LEASE = 'apply';
export const LEASE_TTL_MS = 30_000;

export function isHolderDead(h: LeaseHolder): boolean {
  if (h.host !== os.hostname()) return false; // cannot tell; the lease will expire
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class LeaseHeldError extends Error {
  constructor(readonly heldBy: LeaseHolder) {
    super(
      `another ${heldBy.command} (pid ${heldBy.pid} on ${heldBy.host}) holds the state lock since ${heldBy.acquiredAt}; wait for it, or run \`groundwork unlock\` if it is gone`,
    );
  }
}

/**
 * Holds the lease while `fn` runs, renewing it every third of its TTL on `timers`; always
 * releases. Expiry is judged by the store's clock: give both the same clock (a test's ManualClock).
 */
export async function withLease<T>(
  store: Store,
  command: string,
  fn: () => Promise<T>,
  timers: Timers = systemClock,
): Promise<T> {
  const holder = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const r = store.acquireLease(
    APPLY_LEASE,
    { holder, pid: process.pid, host: os.hostname(), command },
    LEASE_TTL_MS,
    isHolderDead,
  );
  if (!r.acquired) throw new LeaseHeldError(r.heldBy);
  const timer = timers.setInterval(() => store.renewLease(APPLY_LEASE, holder, LEASE_TTL_MS), LEASE_TTL_MS / 3, {
    background: true,
  });
  try {
    return await fn();
  } finally {
    timer.cancel();
    store.releaseLease(APPLY_LEASE, holder);
  }
}
