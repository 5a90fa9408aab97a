/**
 * The apply lease through the CLI and the real store: a live holder refuses apply (exit 4) and is
 * named; `unlock` shows it; a dead or expired holder is taken over; `unlock --force` releases.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APPLY_LEASE, isHolderDead, LEASE_TTL_MS, withLease } from '../../src/engine/lock.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { LeaseHolder, LeaseStore } from '../../src/store/store.js';
import type { Logger } from '../../src/util/logger.js';
import { systemClock } from '../../src/util/clock.js';
import { runCli, runCliOk, STACK_FRAME } from '../helpers/cli.js';
import { httpService, teardownStack, writeServerScript, writeStack } from '../helpers/lab.js';
import { isAlive } from '../helpers/processes.js';
import { instancesOf, readState, stateDbOf } from '../helpers/state.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { pidOf } from '../helpers/instance-pid.js';

const STACK = 'locklab';

/** Takes the apply lease as another holder would, through the real store. */
async function holdLease(dir: string, pid: number, ttlMs = 60_000, command = 'groundwork apply'): Promise<void> {
  const store = SqliteStore.open(stateDbOf(dir), systemClock);
  try {
    const r = await store.leases.acquireLease(
      APPLY_LEASE,
      { holder: `other-holder-${pid}`, pid, host: os.hostname(), command },
      ttlMs,
      isHolderDead,
    );
    expect(r.acquired).toBe(true);
  } finally {
    store.closeNow();
  }
}

async function lease(dir: string): Promise<LeaseHolder | undefined> {
  const store = SqliteStore.open(stateDbOf(dir), systemClock);
  try {
    return await store.leases.tryGetLease(APPLY_LEASE);
  } finally {
    store.closeNow();
  }
}

/**
 * Lease expiry and renewal on a ManualClock: a real SQLite store whose clock is the test's, so
 * a 30 s TTL is tested to the millisecond without waiting.
 */
describe('lease expiry and renewal, by the clock', () => {
  let dir: string;
  let store: SqliteStore;
  const clock = new ManualClock();
  const other = (holder: string, host = os.hostname()) => ({ holder, pid: process.pid, host, command: holder });
  const acquire = (holder: string, host?: string) =>
    store.leases.acquireLease(APPLY_LEASE, other(holder, host), LEASE_TTL_MS, isHolderDead);

  beforeEach(() => {
    dir = makeTempDir('lease-clock');
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  it('a live holder keeps the lease until its TTL has passed on the store clock, not a millisecond less', async () => {
    expect((await acquire('a')).acquired).toBe(true);
    await clock.advance(LEASE_TTL_MS - 1);
    expect(await acquire('b')).toMatchObject({ acquired: false, heldBy: { holder: 'a' } });
    await clock.advance(1);
    expect((await acquire('b')).acquired).toBe(true);
    expect((await store.leases.tryGetLease(APPLY_LEASE))?.holder).toBe('b');
  });

  it('a renewal moves the expiry to one TTL after it (a holder on another host that stopped renewing loses it then)', async () => {
    // Another host: liveness cannot be checked, only the expiry protects against a dead holder.
    expect((await acquire('far', 'another-host')).acquired).toBe(true);
    await clock.advance(20_000);
    expect(await store.leases.renewLease(APPLY_LEASE, 'far', LEASE_TTL_MS)).toBe(true);
    await clock.advance(LEASE_TTL_MS - 1);
    expect((await acquire('b')).acquired).toBe(false);
    await clock.advance(1);
    expect((await acquire('b')).acquired).toBe(true);
    // The old holder's renewal no longer applies.
    expect(await store.leases.renewLease(APPLY_LEASE, 'far', LEASE_TTL_MS)).toBe(false);
  });

  it('withLease renews every third of the TTL: a run four TTLs long keeps the lease throughout; it is released at the end', async () => {
    const run = withLease(store, 'groundwork apply (clock test)', () => clock.sleep(4 * LEASE_TTL_MS), clock);
    const held: (string | undefined)[] = [];
    for (let t = 0; t < 4 * LEASE_TTL_MS; t += LEASE_TTL_MS / 2) {
      await clock.advance(LEASE_TTL_MS / 2 - 1);
      const r = await acquire('intruder');
      held.push(r.acquired ? 'intruder' : r.heldBy.command);
      await clock.advance(1);
    }
    await clock.run(run);
    expect(held).toEqual(new Array(8).fill('groundwork apply (clock test)'));
    expect(await store.leases.tryGetLease(APPLY_LEASE)).toBeUndefined();
    // The renewal timer is gone with the lease.
    expect(clock.pending).toBe(0);
  });
});

/**
 * The renewal runs in the background of a timer. A store that answers slowly (as a networked one
 * may) must not let a renewal land after the release, and a failing renewal must be logged rather
 * than become an unhandled rejection (which ends a Node 20 daemon).
 */
describe('withLease against a slow or failing lease store', () => {
  let dir: string;
  let store: SqliteStore;
  const clock = new ManualClock();
  /** One macrotask turn: every continuation that can run has run. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

  beforeEach(() => {
    dir = makeTempDir('lease-slow');
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  it('the release waits for a renewal still in flight', async () => {
    const calls: string[] = [];
    let openGate = (): void => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const leases: LeaseStore = {
      ...store.leases,
      renewLease: async (name, holder, ttlMs) => {
        calls.push('renew start');
        await gate;
        const kept = await store.leases.renewLease(name, holder, ttlMs);
        calls.push(`renew end ${kept}`);
        return kept;
      },
      releaseLease: async (name, holder) => {
        calls.push('release');
        await store.leases.releaseLease(name, holder);
      },
    };
    let finishFn = (): void => undefined;
    let settled = false;
    const run = withLease(
      { leases },
      'groundwork apply (slow store)',
      () => new Promise<void>((resolve) => (finishFn = resolve)),
      clock,
    ).then(() => (settled = true));
    await clock.advance(LEASE_TTL_MS / 3);
    expect(calls).toEqual(['renew start']);
    finishFn();
    await settle();
    // fn is done, but the renewal has not answered: the lease is still held, nothing released.
    expect(settled).toBe(false);
    expect(calls).toEqual(['renew start']);
    expect((await store.leases.tryGetLease(APPLY_LEASE))?.command).toBe('groundwork apply (slow store)');
    openGate();
    await run;
    expect(calls).toEqual(['renew start', 'renew end true', 'release']);
    expect(await store.leases.tryGetLease(APPLY_LEASE)).toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it('a failed renewal and a lease taken over are logged; the run goes on and still releases', async () => {
    const logged: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { log: (level, msg, fields) => logged.push({ level, msg, fields }) };
    let renewals = 0;
    const leases: LeaseStore = {
      ...store.leases,
      renewLease: async (name, holder, ttlMs) => {
        renewals++;
        if (renewals === 1) throw new Error('database is locked');
        // The second renewal finds another holder (e.g. `unlock --force` ran meanwhile).
        await store.leases.forceReleaseLease(name);
        return store.leases.renewLease(name, holder, ttlMs);
      },
    };
    const run = withLease({ leases }, 'groundwork apply', () => clock.sleep(LEASE_TTL_MS), clock, logger);
    await clock.run(run);
    expect(renewals).toBe(2);
    expect(logged.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'cannot renew the state lock; it expires unless a later renewal works'],
      ['warn', 'the state lock was taken over while this command held it'],
    ]);
    expect(logged[0]?.fields?.error).toBe('database is locked');
    expect(await store.leases.tryGetLease(APPLY_LEASE)).toBeUndefined();
  });
});

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const c = spawn('true', [], { stdio: 'ignore' });
  const pid = c.pid as number;
  await new Promise<void>((resolve) => c.once('exit', () => resolve()));
  expect(isAlive(pid)).toBe(false);
  return pid;
}

describe('the apply lock', () => {
  let dir: string;
  const cli = (argv: string[], code = 0) => runCliOk(argv, { cwd: dir }, code);

  beforeEach(() => {
    dir = makeTempDir('lock');
    writeServerScript(dir);
    writeStack(dir, { stack: STACK, services: { a: httpService() } });
  });

  afterEach(async () => {
    const t = await teardownStack(dir, STACK);
    removeTempDir(dir);
    expect(t.deleteExit, t.deleteOutput).toBe(0);
    expect(t.leftovers).toBe(0);
  });

  it('a lease held by a live process refuses apply with exit 4, naming the holder; unlock shows it and keeps it', async () => {
    // This test process is alive, and the holder name is not the one apply would use.
    await holdLease(dir, process.pid, 60_000, 'groundwork apply (other terminal)');

    const r = await runCli(['apply'], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`pid ${process.pid}`);
    expect(r.stderr).toContain('groundwork apply (other terminal)');
    expect(r.stderr).toContain('groundwork unlock');
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(readState(dir).changes).toEqual([]);
    expect(instancesOf(dir, 'a')).toEqual([]);

    const shown = await cli(['unlock'], 4);
    expect(shown.stdout).toContain(
      `held by groundwork apply (other terminal) (pid ${process.pid} on ${os.hostname()})`,
    );
    expect(shown.stdout).toContain('Its holder is alive');
    const json = JSON.parse((await cli(['unlock', '--json'], 4)).stdout) as {
      held: boolean;
      holder: LeaseHolder;
      holderDead: boolean;
    };
    expect(json).toMatchObject({ held: true, holderDead: false, holder: { pid: process.pid } });
    // Looking did not release it.
    expect((await lease(dir))?.pid).toBe(process.pid);
    expect((await runCli(['apply'], { cwd: dir })).code).toBe(4);
  });

  it('a lease whose holder process is dead is taken over by the next apply', async () => {
    const pid = await deadPid();
    await holdLease(dir, pid);
    expect((await lease(dir))?.pid).toBe(pid);

    const r = await cli(['apply']);
    expect(r.stdout).toContain('Apply complete!');
    expect(instancesOf(dir, 'a')).toHaveLength(1);
    // Apply released its own lease when it finished.
    expect(await lease(dir)).toBeUndefined();
  });

  it("unlock releases a dead holder's lease without --force", async () => {
    const pid = await deadPid();
    await holdLease(dir, pid);
    const r = await cli(['unlock']);
    expect(r.stdout).toContain(`pid ${pid}`);
    expect(r.stdout).toContain('its holder is no longer running');
    expect(await lease(dir)).toBeUndefined();
  });

  it('an expired lease does not block apply, even when its holder is alive', async () => {
    await holdLease(dir, process.pid, -1000);
    await cli(['apply']);
    expect(await lease(dir)).toBeUndefined();
  });

  it("unlock --force releases a live holder's lease, and apply then works", async () => {
    await holdLease(dir, process.pid);
    const r = await cli(['unlock', '--force']);
    expect(r.stdout).toContain(`pid ${process.pid}`);
    expect(r.stdout).toContain('Released it (--force)');
    expect(await lease(dir)).toBeUndefined();
    expect((await cli(['unlock'])).stdout).toContain('The state lock is free.');
    await cli(['apply']);
    expect(isAlive(pidOf(instancesOf(dir, 'a')[0]))).toBe(true);
  });

  it('two applies at once: one runs, the other is refused with exit 4', async () => {
    const [x, y] = await Promise.all([runCli(['apply'], { cwd: dir }), runCli(['apply'], { cwd: dir })]);
    expect([x.code, y.code].sort()).toEqual([0, 4]);
    expect(instancesOf(dir, 'a')).toHaveLength(1);
    expect(readState(dir).changes).toHaveLength(1);
  });
});
