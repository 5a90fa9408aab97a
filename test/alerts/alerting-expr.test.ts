/**
 * `expr:` alert rules: a PromQL expression over the metrics store, evaluated on the rule's
 * interval, one alert per series with its labels and `{{ $value }}`. Composed as the daemon
 * composes it (core/alerting.ts over a real state store, a real MetricsDb file and a real webhook
 * receiver), with check samples appended exactly as the check runner appends them
 * (groundwork_check_up{check, type}), on a ManualClock so intervals cost no time. The daemon
 * passes its store with `metrics:` (see the report: one line in daemon.ts).
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Alerting } from '../../src/core/alerting.js';
import { EventBus } from '../../src/core/bus.js';
import { CHECK_METRICS } from '../../src/observe/checks/sample-sink.js';
import { MetricsDb } from '../../src/observe/tsdb/metrics-db.js';
import { EnvFileSecretSource } from '../../src/security/secret-source.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { silentLogger, type Logger } from '../../src/util/logger.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { recordedRowsOf } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { Receiver } from '../notify/receiver.js';

describe('expr alert rules', () => {
  let dir: string;
  let clock: ManualClock;
  let store: SqliteStore;
  let metrics: MetricsDb;
  let rx: Receiver;
  let alerting: Alerting | undefined;
  const logged: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    log: (level, message, fields) => logged.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`),
  };

  beforeEach(() => {
    dir = makeTempDir('alerts-expr');
    clock = new ManualClock();
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    metrics = MetricsDb.open({ path: path.join(dir, 'metrics.db') });
    rx = new Receiver();
    logged.length = 0;
  });
  afterEach(async () => {
    await alerting?.stop();
    await rx.stop();
    metrics.close();
    store.closeNow();
    removeTempDir(dir);
  });

  async function start(alerts: string, withMetrics = true): Promise<Alerting> {
    const url = await rx.start();
    const a = new Alerting({
      store,
      bus: new EventBus(() => clock.now(), silentLogger),
      clock,
      logger,
      secrets: () => new EnvFileSecretSource({}, dir),
      daemonUrl: () => 'http://127.0.0.1:7070',
      instances: async () => [],
      ...(withMetrics ? { metrics: () => metrics } : {}),
    });
    a.configure(
      recordedRowsOf(`stack: lab
notify:
  channels:
    ops: { webhook: { url: "${url}/hook" } }
alerts:
${alerts}`),
    );
    a.start();
    await a.evaluate(); // the first evaluation at t=0, so the intervals below fall at 10 s, 20 s, ...
    alerting = a;
    return a;
  }

  /** One check result, as CheckRunner appends it. */
  const up = (check: string, value: 0 | 1): void => {
    expect(metrics.append({ __name__: CHECK_METRICS.up, check, type: 'http' }, clock.now().getTime(), value)).toBe(
      'stored',
    );
  };

  const bodies = () =>
    rx.received.map(
      (r) =>
        (
          JSON.parse(r.body) as {
            notification: { status: string; summary: string; labels: Record<string, string> };
          }
        ).notification,
    );

  it('fires one alert per series on the interval, with the series labels and {{ $value }}; resolves', async () => {
    await start(`  check-down:
    expr: '${CHECK_METRICS.up} == 0'
    interval: 10s
    severity: page
    summary: '{{ $labels.check }} answers {{ $value }}'
`);
    up('web', 1);
    up('db', 1);
    await clock.advance(10_000);
    expect(await store.alerts.listAlerts()).toEqual([]);
    await clock.advance(1);
    up('web', 0);
    up('db', 0);
    await clock.advance(5000); // not due yet: 5 s into a 10 s interval
    expect(await store.alerts.listAlerts()).toEqual([]);
    await clock.advance(5000);
    const firing = await store.alerts.listAlerts({ state: 'firing' });
    expect(firing.map((a) => a.labels.check).sort()).toEqual(['db', 'web']);
    expect(firing[0]?.labels).toMatchObject({ alertname: 'check-down', severity: 'page', type: 'http' });
    expect(firing[0]?.labels.__name__).toBeUndefined(); // the comparison drops the metric name
    await waitFor(() => rx.received.length === 2, { what: 'two pages', timeoutMs: 5000, intervalMs: 10 });
    expect(
      bodies()
        .map((n) => `${n.status} ${n.summary}`)
        .sort(),
    ).toEqual(['firing db answers 0', 'firing web answers 0']);
    up('web', 1);
    await clock.advance(10_000);
    await waitFor(() => rx.received.length === 3, { what: 'web resolved', timeoutMs: 5000, intervalMs: 10 });
    expect(bodies()[2]).toMatchObject({ status: 'resolved', labels: { check: 'web' } });
    expect((await store.alerts.listAlerts({ state: 'firing' })).map((a) => a.labels.check)).toEqual(['db']);
  });

  it('`for` counts from the first evaluation that returned the series (default interval 5 s)', async () => {
    await start(`  web-down:
    expr: '${CHECK_METRICS.up}{check="web"} < 1'
    for: 10s
    summary: web is down
`);
    await clock.advance(1);
    up('web', 0);
    await clock.advance(5000); // default interval 5 s
    expect(await store.alerts.listAlerts()).toMatchObject([{ state: 'pending' }]);
    await clock.advance(4000);
    expect(await store.alerts.listAlerts()).toMatchObject([{ state: 'pending' }]);
    await clock.advance(11_000);
    expect(await store.alerts.listAlerts()).toMatchObject([{ state: 'firing' }]);
    await waitFor(() => rx.received.length === 1, { what: 'the page', timeoutMs: 5000, intervalMs: 10 });
  });

  it('without a metrics store expression rules are not evaluated, and the log says so once', async () => {
    await start(
      `  web-down:
    expr: '${CHECK_METRICS.up} == 0'
`,
      false,
    );
    await clock.advance(30_000);
    expect(await store.alerts.listAlerts()).toEqual([]);
    expect(logged.filter((l) => l.includes('need the metrics store'))).toHaveLength(1);
  });
});
