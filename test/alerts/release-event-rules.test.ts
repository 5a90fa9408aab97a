/**
 * `event: deploy-failed` and `event: rolled-back` alert rules: read from the latest release of
 * each service (one `releases.latestByService()` per evaluation), composed as the daemon composes
 * them (core/alerting.ts over a real state store), on a ManualClock.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Alerting } from '../../src/core/alerting.js';
import { EventBus } from '../../src/core/bus.js';
import { EnvFileSecretSource } from '../../src/security/secret-source.js';
import type { NewRelease } from '../../src/store/store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { recordedRowsOf } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const STACK = `stack: lab
services:
  web: { command: node server.js }
  api: { command: node api.js }
  worker: { command: node worker.js }
notify:
  channels:
    ops: { webhook: { url: "http://127.0.0.1:9/hook" } } # nothing listens: delivery is not under test
alerts:
  deploy-failed: { event: deploy-failed, severity: page }
  api-rolled-back: { event: rolled-back, service: api }
`;

const release = (service: string): NewRelease => ({
  service,
  hash: 'h',
  status: 'deploying',
  kind: 'deploy',
  source: 'working tree',
  spec: {},
  dir: (n) => `/releases/${service}/v${n}`,
  buildLog: null,
  message: '',
  author: 'ana',
  createdAt: '2026-12-02T09:00:00.000Z',
  finishedAt: null,
  detail: null,
});

describe('release event alert rules', () => {
  let dir: string;
  let clock: ManualClock;
  let store: SqliteStore;
  let alerting: Alerting | undefined;
  beforeEach(() => {
    dir = makeTempDir('alerts-releases');
    clock = new ManualClock();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
  });
  afterEach(async () => {
    await alerting?.stop();
    store.closeNow();
    removeTempDir(dir);
  });

  it('fire for services whose latest release failed or was rolled back, and resolve on the next good release', async () => {
    const rows = recordedRowsOf(STACK);
    // The services are recorded (the rules look only at services state knows).
    const change = store.beginChange({ kind: 'apply', author: 'ana', message: '', planHash: '', summary: {} });
    for (const row of rows.filter((r) => r.kind === 'service'))
      store.finishStep(store.startStep(change, row.address, 'create'), 'applied', { kind: 'upsert', row });
    store.finishChange(change, 'applied', {});
    const settle = (service: string, seq: number, status: 'active' | 'failed' | 'rolled-back') =>
      store.releases.settle(service, seq, { status }, { supersedeActive: status === 'active' });
    for (const s of ['web', 'api', 'worker']) {
      await store.releases.createRelease(release(s));
      await settle(s, 1, 'active');
    }
    await store.releases.createRelease(release('web'));
    await settle('web', 2, 'failed');
    await store.releases.createRelease(release('api'));
    await settle('api', 2, 'rolled-back');
    // worker: an older release failed, the latest is good.
    await store.releases.createRelease(release('worker'));
    await settle('worker', 2, 'failed');
    await store.releases.createRelease(release('worker'));
    await settle('worker', 3, 'active');

    const a = new Alerting({
      store,
      bus: new EventBus(() => clock.now(), silentLogger),
      clock,
      logger: silentLogger,
      secrets: () => new EnvFileSecretSource({}, dir),
      daemonUrl: () => 'http://127.0.0.1:7070',
      instances: async () => [],
    });
    alerting = a;
    a.configure(rows);
    a.start();
    await a.evaluate();
    const firing = async (): Promise<string[]> =>
      (await store.alerts.listAlerts({ state: 'firing' })).map((x) => `${x.rule} ${x.labels.service}`).sort();
    expect(await firing()).toEqual(['api-rolled-back api', 'deploy-failed web']);

    await store.releases.createRelease(release('web'));
    await settle('web', 3, 'active');
    await clock.advance(1000); // the next tick
    expect(await firing()).toEqual(['api-rolled-back api']);
  });
});
