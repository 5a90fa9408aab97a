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
import { alertsOf, groupsAt, startGroupingLab, type GroupingLab } from './grouping-fixture.js';

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
  const wait = (n: number, what: string) =>
    waitFor(() => hooks().length >= n && ams().length >= n, { what, timeoutMs: 20_000, intervalMs: 20 });

  it('three failures within group_wait are one notification, the fourth the next; resolved and repeats follow', async () => {
    const { rx, failing } = lab;
    await new Promise((r) => setTimeout(r, 500)); // every check is up first
    expect(rx.received).toHaveLength(0);
    failing.add('a').add('b').add('c');
    await wait(1, 'the first group notification');
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
    await wait(2, 'the notification with the fourth alert');
    expect(alertsOf(hooks()[1])).toEqual(['a-down:firing', 'b-down:firing', 'c-down:firing', 'd-down:firing']);
    expect(ams()[1]?.groupKey).toBe(ams()[0]?.groupKey);

    failing.delete('a');
    await wait(3, 'the notification with the resolved alert');
    expect(alertsOf(hooks()[2])).toEqual(['a-down:resolved', 'b-down:firing', 'c-down:firing', 'd-down:firing']);
    expect(ams()[2]?.alerts.find((a) => a.labels.alertname === 'a-down')?.status).toBe('resolved');

    await wait(4, 'the repeat of the unchanged group');
    expect(alertsOf(hooks()[3])).toEqual(['b-down:firing', 'c-down:firing', 'd-down:firing']);
    // Every notification is a distinct outbox row, delivered once per channel.
    const keys = rx.received.map((r) => `${r.path} ${String(r.headers['idempotency-key'])}`);
    expect(new Set(keys).size).toBe(keys.length);
    failing.clear();
  });
});
