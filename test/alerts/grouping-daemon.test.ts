/**
 * Grouping end to end in a real daemon: four http checks against a server the test controls, one
 * alert rule on each, a route that groups them by team, and two real receivers (the generic
 * webhook and the Alertmanager-compatible one). Three failures within group_wait arrive as ONE
 * notification; a fourth arrives as the next one; a recovery is sent as resolved with the group;
 * an unchanged group is sent again after repeat_interval. Short durations (1–3 s) keep it quick.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { startInProcess, type InProcessDaemon } from '../daemon/daemon-harness.js';
import { alertsOf, checksUp, groupsAt, startGroupingLab, type GroupingLab } from './grouping-fixture.js';

interface AmBody {
  version: string;
  groupKey: string;
  status: string;
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string> }[];
}

describe('alert grouping in the daemon', () => {
  let lab: GroupingLab;
  let d: InProcessDaemon | undefined;

  beforeAll(async () => {
    lab = await startGroupingLab('grouping-daemon', (hook) => ({
      channels: {
        ops: { webhook: { url: `${hook}/hook` } },
        am: { alertmanager: { url: `${hook}/am`, receiver: 'web-team' } },
      },
      routes: [
        {
          match: ['team="web"'],
          channels: ['ops', 'am'],
          group_by: ['team'],
          group_wait: '2s',
          group_interval: '1s',
          repeat_interval: '3s',
        },
      ],
    }));
    d = await startInProcess(lab.dir);
  });
  afterAll(async () => {
    await d?.daemon.stop();
    await lab.close();
  });

  const hooks = () => groupsAt(lab.rx, '/hook');
  const ams = (): AmBody[] => lab.rx.received.filter((r) => r.path === '/am').map((r) => JSON.parse(r.body) as AmBody);
  /**
   * The first notification after the one at `after` whose alerts `want` accepts (and its
   * Alertmanager twin), by index. Any sent between are repeats of the one at `after`: on a busy
   * machine, repeat_interval can run out before the change the test made is seen.
   */
  const next = async (after: number, want: (alerts: string[]) => boolean, what: string): Promise<number> => {
    const i = await waitFor(
      () => {
        const found = hooks().findIndex((g, j) => j > after && want(alertsOf(g)));
        return found >= 0 && ams().length > found ? found : undefined;
      },
      { what, timeoutMs: 20_000, intervalMs: 20 },
    );
    for (const g of hooks().slice(after + 1, i)) expect(alertsOf(g)).toEqual(alertsOf(hooks()[after]));
    return i;
  };

  it('three failures within group_wait are one notification, the fourth the next; resolved and repeats follow', async () => {
    const { rx, failing } = lab;
    if (!d) throw new Error('the daemon did not start (see beforeAll)');
    await checksUp(d.api);
    expect(rx.received).toHaveLength(0);
    failing.add('a').add('b').add('c');
    const first = await next(-1, () => true, 'the first group notification');
    expect(first).toBe(0);
    expect(alertsOf(hooks()[0])).toEqual(['a-down:firing', 'b-down:firing', 'c-down:firing']);
    expect(ams()[0]).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'web-team',
      groupLabels: { team: 'web' },
      commonLabels: { team: 'web', severity: 'page' },
    });
    expect(ams()[0]?.alerts).toHaveLength(3);

    failing.add('d');
    const fourth = await next(0, (a) => a.includes('d-down:firing'), 'the notification with the fourth alert');
    expect(alertsOf(hooks()[fourth])).toEqual(['a-down:firing', 'b-down:firing', 'c-down:firing', 'd-down:firing']);
    expect(ams()[fourth]?.groupKey).toBe(ams()[0]?.groupKey);

    failing.delete('a');
    const resolved = await next(
      fourth,
      (a) => a.includes('a-down:resolved'),
      'the notification with the resolved alert',
    );
    expect(alertsOf(hooks()[resolved])).toEqual(['a-down:resolved', 'b-down:firing', 'c-down:firing', 'd-down:firing']);
    expect(ams()[resolved]?.alerts.find((a) => a.labels.alertname === 'a-down')?.status).toBe('resolved');

    // The repeat of the unchanged group: the resolved alert is not in it again.
    const repeat = await next(resolved, () => true, 'the repeat of the unchanged group');
    expect(alertsOf(hooks()[repeat])).toEqual(['b-down:firing', 'c-down:firing', 'd-down:firing']);
    // Every notification is a distinct outbox row, delivered once per channel.
    const keys = rx.received.map((r) => `${r.path} ${String(r.headers['idempotency-key'])}`);
    expect(new Set(keys).size).toBe(keys.length);
    failing.clear();
  });
});
