/** The release area of the store contract (ReleaseStore in src/store/store.ts), through the async API only. */
import { describe, expect, it } from 'vitest';
import type { NewRelease, ReleaseStatus, Store } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

function release(service: string, over: Partial<NewRelease> = {}): NewRelease {
  return {
    service,
    hash: 'h',
    status: 'deploying',
    kind: 'deploy',
    source: 'working tree',
    spec: { command: 'node server.js', replicas: 2 },
    dir: `/releases/${service}`,
    buildLog: null,
    message: 'm',
    author: 'ana',
    createdAt: '2026-12-02T09:00:00.000Z',
    finishedAt: null,
    detail: null,
    ...over,
  };
}

async function statuses(store: Store, service: string): Promise<[number, ReleaseStatus][]> {
  return (await store.releases.listReleases(service)).map((r) => [r.seq, r.status]);
}

export function describeReleasesContract(target: StoreTarget): void {
  describe(`releases (${target.name})`, () => {
    let t: OpenedStore;
    let store: Store;
    openEach(target, (o) => {
      t = o;
      store = o.store;
    });

    it('numbers concurrent releases of a service 1..n, each once, across handles', async () => {
      const other = await t.openAnother();
      const seqs = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? other : store).releases.createRelease(release('web'))),
      );
      expect([...seqs].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await store.releases.listReleases('web')).map((r) => r.seq)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      // Each service counts on its own.
      expect(await store.releases.createRelease(release('api'))).toBe(1);
      expect(await other.releases.createRelease(release('web'))).toBe(11);
    });

    it('names a directory after the number it takes, and reads back what it recorded', async () => {
      const seq = await store.releases.createRelease(release('web', { dir: (n) => `/state/releases/web/v${n}` }));
      const seq2 = await store.releases.createRelease(release('web', { dir: (n) => `/state/releases/web/v${n}` }));
      expect([seq, seq2]).toEqual([1, 2]);
      expect(await store.releases.tryGetRelease('web', 2)).toEqual({
        ...release('web'),
        seq: 2,
        dir: '/state/releases/web/v2',
      });
      expect(await store.releases.tryGetRelease('web', 3)).toBeUndefined();
      expect(await store.releases.tryGetRelease('api', 1)).toBeUndefined();
    });

    it('updates only the fields a patch names', async () => {
      await store.releases.createRelease(release('web', { status: 'building', source: '' }));
      await store.releases.updateRelease('web', 1, { source: 'git main@1a2b3c4', buildLog: '/b.log' });
      await store.releases.updateRelease('web', 1, {});
      expect(await store.releases.tryGetRelease('web', 1)).toMatchObject({
        status: 'building',
        source: 'git main@1a2b3c4',
        buildLog: '/b.log',
        hash: 'h',
        detail: null,
      });
    });

    it('settles a release active and supersedes the one active before, leaving other services alone', async () => {
      for (let i = 0; i < 3; i++) await store.releases.createRelease(release('web'));
      await store.releases.createRelease(release('api'));
      await store.releases.settle('api', 1, { status: 'active' }, { supersedeActive: true });
      await store.releases.settle('web', 1, { status: 'active' }, { supersedeActive: true });
      await store.releases.settle('web', 2, { status: 'failed', detail: 'unhealthy' }, { supersedeActive: false });
      expect(await statuses(store, 'web')).toEqual([
        [3, 'deploying'],
        [2, 'failed'],
        [1, 'active'],
      ]);
      await store.releases.settle(
        'web',
        3,
        { status: 'active', detail: null, finishedAt: '2026-12-02T09:01:00.000Z' },
        { supersedeActive: true },
      );
      expect(await statuses(store, 'web')).toEqual([
        [3, 'active'],
        [2, 'failed'],
        [1, 'superseded'],
      ]);
      expect(await store.releases.tryGetRelease('web', 3)).toMatchObject({ finishedAt: '2026-12-02T09:01:00.000Z' });
      expect(await statuses(store, 'api')).toEqual([[1, 'active']]);
      // Settling the active release again supersedes nothing (not even itself).
      await store.releases.settle('web', 3, { status: 'active' }, { supersedeActive: true });
      expect(await statuses(store, 'web')).toEqual([
        [3, 'active'],
        [2, 'failed'],
        [1, 'superseded'],
      ]);
    });

    it('leaves exactly one active release when rollouts of one service settle concurrently', async () => {
      for (let i = 0; i < 6; i++) await store.releases.createRelease(release('web'));
      await Promise.all(
        [1, 2, 3, 4, 5, 6].map((seq) =>
          store.releases.settle('web', seq, { status: 'active' }, { supersedeActive: true }),
        ),
      );
      const active = (await store.releases.listReleases('web')).filter((r) => r.status === 'active');
      expect(active).toHaveLength(1);
    });

    it('lists newest first, up to the limit (50 by default)', async () => {
      for (let i = 0; i < 53; i++) await store.releases.createRelease(release('web', { message: `r${i + 1}` }));
      const all = await store.releases.listReleases('web');
      expect(all).toHaveLength(50);
      expect(all[0]).toMatchObject({ seq: 53, message: 'r53' });
      expect(all[49]?.seq).toBe(4);
      expect((await store.releases.listReleases('web', 2)).map((r) => r.seq)).toEqual([53, 52]);
      expect(await store.releases.listReleases('nothing')).toEqual([]);
    });

    it('returns the newest release of every service in one call', async () => {
      expect(await store.releases.latestByService()).toEqual(new Map());
      for (let i = 0; i < 3; i++) await store.releases.createRelease(release('web'));
      await store.releases.createRelease(release('api', { status: 'building' }));
      await store.releases.settle('web', 3, { status: 'rolled-back' }, { supersedeActive: false });
      const latest = await store.releases.latestByService();
      expect([...latest.keys()].sort()).toEqual(['api', 'web']);
      expect(latest.get('web')).toMatchObject({ seq: 3, status: 'rolled-back' });
      expect(latest.get('api')).toMatchObject({ seq: 1, status: 'building' });
    });
  });
}
