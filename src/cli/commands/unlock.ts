import { APPLY_LEASE, isHolderDead } from '../../engine/lock.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT } from '../io.js';
import { openStore, stateDirOf } from '../workspace.js';

export const unlockCommand = defineCommand({
  name: 'unlock',
  summary: 'Show who holds the state lock; with --force, release it',
  usage: 'unlock [-f FILE] [--force] [--json]',
  flags: { ...STACK_FLAGS, force: { type: 'boolean', description: 'Release the lock even if its holder looks alive' } },
  async run(flags, _pos, io) {
    const store = openStore(stateDirOf(io, flags));
    try {
      const held = await store.leases.tryGetLease(APPLY_LEASE);
      const expired = held ? new Date(held.expiresAt) < new Date() : false;
      const dead = held ? isHolderDead(held) : false;
      if (!held) {
        if (flags.json) io.stdout(`${JSON.stringify({ held: false })}\n`);
        else io.stdout('The state lock is free.\n');
        return EXIT.ok;
      }
      const release = flags.force || expired || dead;
      if (release) await store.leases.forceReleaseLease(APPLY_LEASE);
      if (flags.json) {
        io.stdout(
          `${JSON.stringify({ held: !release, released: release, holder: held, expired, holderDead: dead })}\n`,
        );
        return release ? EXIT.ok : EXIT.refused;
      }
      io.stdout(
        `The state lock is held by ${held.command} (pid ${held.pid} on ${held.host}) since ${held.acquiredAt}; lease until ${held.expiresAt}.\n`,
      );
      if (release)
        io.stdout(
          `Released it${dead ? ' (its holder is no longer running)' : expired ? ' (its lease had expired)' : ' (--force)'}.\n`,
        );
      else io.stdout('Its holder is alive. Wait for it, or pass --force if you are sure it is stuck.\n');
      return release ? EXIT.ok : EXIT.refused;
    } finally {
      await store.close();
    }
  },
});
