/**
 * The store contract's tests run against every backend through a `StoreTarget`. Each area has a
 * file here (`<area>.contract.ts`) exporting `describe<Area>Contract(target)`; a backend's test file
 * (sqlite.contract.test.ts; later a PostgreSQL one that skips without `GROUNDWORK_TEST_PG_URL`)
 * calls them all. The tests use only the async contract in src/store/store.ts, never SQL.
 */
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { slowStore } from '../../helpers/slow-store.js';

export interface OpenedStore {
  store: Store;
  clock: ManualClock;
  /** A second handle on the same store, as another process (a CLI run beside the daemon) has. */
  openAnother(): Promise<Store>;
  dispose(): Promise<void>;
}

export interface StoreTarget {
  name: string;
  open(): Promise<OpenedStore>;
}

/**
 * Opens a fresh store before each test of the enclosing `describe` (handing it to `set`) and
 * disposes of it after.
 */
export function openEach(target: StoreTarget, set: (opened: OpenedStore) => void): void {
  let opened: OpenedStore | undefined;
  beforeEach(async () => {
    opened = await target.open();
    set(opened);
  });
  afterEach(async () => {
    await opened?.dispose();
    opened = undefined;
  });
}

export const sqliteTarget: StoreTarget = {
  name: 'sqlite',
  open: async () => {
    const dir = makeTempDir('store-contract');
    const file = path.join(dir, 'state.db');
    const clock = new ManualClock();
    const opened: Store[] = [];
    const openOne = (): Store => {
      const s = SqliteStore.open(file, clock);
      opened.push(s);
      return s;
    };
    const store = openOne();
    return {
      store,
      clock,
      openAnother: async () => openOne(),
      dispose: async () => {
        for (const s of opened) await s.close();
        removeTempDir(dir);
      },
    };
  },
};

/**
 * SQLite with every call answered a turn late (test/helpers/slow-store.ts), as a networked store
 * answers: concurrent calls interleave between their steps, so a race the contract's atomic
 * methods are there to prevent shows here and not only on PostgreSQL.
 */
export const slowSqliteTarget: StoreTarget = {
  name: 'sqlite, answering a turn late',
  open: async () => {
    const t = await sqliteTarget.open();
    return {
      ...t,
      store: slowStore(t.store),
      openAnother: async () => slowStore(await t.openAnother()),
    };
  },
};
