/**
 * buildRelease and pruneReleases called directly, over a real SQLite store answering through the
 * slow-store decorator (each call a turn late, as a networked store would), with real copies and
 * real build processes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildFailed, buildRelease, pruneReleases, type BuildInput } from '../../src/deploy/release-builder.js';
import type { ServiceSpec } from '../../src/kinds/service/service-spec.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ReleaseStore } from '../../src/store/store.js';
import { serviceSpecOf } from '../kinds/swarm-kind-context.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { slowStore } from '../helpers/slow-store.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('buildRelease over a slow store', () => {
  let dir: string;
  let store: SqliteStore;
  let releases: ReleaseStore;
  const clock = new ManualClock();
  beforeEach(() => {
    dir = makeTempDir('release-builder');
    writeFileSync(path.join(dir, 'server.js'), 'console.log("v")\n');
    store = SqliteStore.open(path.join(dir, '.groundwork', 'state.db'), clock);
    releases = slowStore(store).releases;
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  const spec = (build: string): ServiceSpec =>
    serviceSpecOf(
      { stack: 'b', services: { web: { command: 'node server.js', build: { command: build } } } },
      'web',
      dir,
    );
  const input = (build: string, message: string): BuildInput => ({
    service: 'web',
    spec: spec(build),
    stackDir: dir,
    stateDir: path.join(dir, '.groundwork'),
    message,
    author: 'ana',
    now: () => clock.now(),
    progress: () => undefined,
  });

  it('two builds at once take two numbers and two directories; a failed build keeps its log; pruning keeps the newest', async () => {
    const [a, b] = await Promise.all([
      buildRelease(releases, input('echo built > out.txt', 'a')),
      buildRelease(releases, input('echo built > out.txt', 'b')),
    ]);
    expect([a.seq, b.seq].sort()).toEqual([1, 2]);
    expect(a.dir).not.toBe(b.dir);
    for (const r of [a, b]) {
      expect(path.basename(r.dir)).toBe(`v${r.seq}`);
      expect(readFileSync(path.join(r.dir, 'out.txt'), 'utf8')).toBe('built\n');
      expect(await releases.tryGetRelease('web', r.seq)).toEqual(r);
    }
    expect(a).toMatchObject({ status: 'deploying', source: 'working tree', hash: b.hash });

    const failed = await buildRelease(releases, input('echo broken; exit 3', 'c')).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(BuildFailed);
    const record = await releases.tryGetRelease('web', 3);
    expect(record).toMatchObject({ status: 'build-failed', detail: expect.stringContaining('exit code 3') });
    expect(existsSync(record?.dir ?? '?')).toBe(false);
    expect(readFileSync(record?.buildLog ?? '?', 'utf8')).toBe('broken\n');

    const pruned: string[] = [];
    expect(await pruneReleases(releases, 'web', 1, new Set(), (m) => pruned.push(m))).toBe(1);
    expect(pruned).toEqual(['pruned release v1']);
    expect((await releases.listReleases('web')).map((r) => `v${r.seq} ${r.status}`)).toEqual([
      'v3 build-failed',
      'v2 deploying',
      'v1 pruned',
    ]);
    expect(existsSync(a.seq === 1 ? a.dir : b.dir)).toBe(false);
  });
});
