/** The slow-store decorator (test/helpers/slow-store.ts) that the release-path tests run through. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { NewRelease } from '../../src/store/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { slowStore } from '../helpers/slow-store.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const release: NewRelease = {
  service: 'web',
  hash: 'h',
  status: 'deploying',
  kind: 'config',
  source: 'stack directory',
  spec: {},
  dir: '/stack',
  buildLog: null,
  message: '',
  author: 'ana',
  createdAt: '2026-12-02T09:00:00.000Z',
  finishedAt: null,
  detail: null,
};

describe('slowStore', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = makeTempDir('slow-store');
    store = SqliteStore.open(path.join(dir, 'state.db'), new ManualClock());
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  it('runs a call of an async area a macrotask later, on the same store', async () => {
    const slow = slowStore(store);
    const created = slow.releases.createRelease(release);
    // The instant SQLite facade would already have written the row; the slow one has not.
    expect(store.releasesCore.listReleases('web')).toEqual([]);
    await Promise.resolve();
    expect(store.releasesCore.listReleases('web')).toEqual([]);
    expect(await created).toBe(1);
    expect(store.releasesCore.tryGetRelease('web', 1)).toMatchObject({ status: 'deploying' });
    expect((await slow.releases.listReleases('web')).map((r) => r.seq)).toEqual([1]);
  });

  it('lets timers and I/O run between two calls of one flow, and keeps failures as rejections', async () => {
    const slow = slowStore(store);
    const order: string[] = [];
    const flow = async (): Promise<void> => {
      order.push('reads');
      await slow.releases.listReleases('web');
      order.push('writes');
      await slow.releases.createRelease(release);
    };
    // Queued before the flow starts; with the instant facade the whole flow would finish first.
    setImmediate(() => order.push('other work'));
    await flow();
    expect(order).toEqual(['reads', 'other work', 'writes']);
    store.closeNow();
    await expect(slow.releases.listReleases('web')).rejects.toThrow(/not open/);
    store = SqliteStore.open(path.join(dir, 'state.db'), new ManualClock());
  });

  it('delays every area of the contract and leaves the synchronous SQLite core as it is', () => {
    const slow = slowStore(store);
    for (const area of ['resources', 'journal', 'leases', 'releases', 'events', 'tokens', 'audit'] as const)
      expect(slow[area]).not.toBe(store[area]);
    expect(slow.tokensCore).toBe(store.tokensCore);
    expect(slow.releasesCore).toBe(store.releasesCore);
    expect(slow.serial()).toBe(store.serial());
  });
});
