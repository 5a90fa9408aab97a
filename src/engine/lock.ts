/** The apply lease: one writer at a time; a dead holder's lease does not block anyone. */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { LeaseHolder, Store } from '../store/store.js';
import { systemClock, type Timers } from '../util/clock.js';
import { errorMessage } from '../util/error-message.js';
import { silentLogger, type Logger } from '../util/logger.js';

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
 * A renewal runs in the background (a timer cannot await): its failure, or finding the lease
 * taken over, is logged, and the release waits for a renewal still in flight so that the
 * renewal cannot land after it.
 */
export async function withLease<T>(
  store: Pick<Store, 'leases'>,
  command: string,
  fn: () => Promise<T>,
  timers: Timers = systemClock,
  logger: Logger = silentLogger,
): Promise<T> {
  const leases = store.leases;
  const holder = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const r = await leases.acquireLease(
    APPLY_LEASE,
    { holder, pid: process.pid, host: os.hostname(), command },
    LEASE_TTL_MS,
    isHolderDead,
  );
  if (!r.acquired) throw new LeaseHeldError(r.heldBy);
  let renewing: Promise<void> | undefined;
  const renew = (): void => {
    // A renewal still waiting on the store is as good as this one: do not stack them.
    if (renewing) return;
    renewing = leases
      .renewLease(APPLY_LEASE, holder, LEASE_TTL_MS)
      .then((kept) => {
        if (!kept) logger.log('warn', 'the state lock was taken over while this command held it', { command, holder });
      })
      .catch((e: unknown) => {
        logger.log('error', 'cannot renew the state lock; it expires unless a later renewal works', {
          command,
          error: errorMessage(e),
        });
      })
      .finally(() => {
        renewing = undefined;
      });
  };
  const timer = timers.setInterval(renew, LEASE_TTL_MS / 3, { background: true });
  try {
    return await fn();
  } finally {
    timer.cancel();
    // Never rejects (the chain above ends in catch).
    if (renewing) await renewing;
    await leases.releaseLease(APPLY_LEASE, holder);
  }
}
