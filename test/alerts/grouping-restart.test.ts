/**
 * A group notification across a real daemon crash: `groundwork up` (an OS process) with three
 * http checks failing together and a route that groups them with a group_wait; the daemon is
 * SIGKILLed while the group waits (its alerts firing, nothing sent), started again, and the group
 * notification then arrives exactly once, carrying all three alerts. A fourth failure afterwards
 * is the barrier: its notification (after group_interval, same group) is queued after anything a
 * restart could have repeated, so when it has arrived, a repeat of the first would have too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertsView } from '../../src/core/alerts-view.js';
import { spawnUp, teardownSpawned, type SpawnedDaemon } from '../daemon/daemon-harness.js';
import { isAlive } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { alertsOf, checksUp, groupsAt, startGroupingLab, type GroupingLab } from './grouping-fixture.js';

/** Long enough that the test sees the alerts firing and kills the daemon well inside it. */
const GROUP_WAIT_MS = 6000;

describe('alert grouping across a daemon SIGKILL', () => {
  let lab: GroupingLab;
  let d: SpawnedDaemon | undefined;

  beforeAll(async () => {
    lab = await startGroupingLab('grouping-restart', (hook) => ({
      channels: { ops: { webhook: { url: `${hook}/hook` } } },
      routes: [
        {
          match: ['team="web"'],
          channels: ['ops'],
          group_by: ['team'],
          group_wait: `${GROUP_WAIT_MS}ms`,
          group_interval: '1s',
          repeat_interval: '0s',
        },
      ],
    }));
  });
  afterAll(async () => {
    await teardownSpawned(lab.dir, d);
    await lab.close();
  }, 60_000);

  const groups = () => groupsAt(lab.rx, '/hook');

  it('a SIGKILL inside group_wait: after the restart the group arrives once, with all its alerts', async () => {
    const { dir, rx, failing } = lab;
    d = await spawnUp(dir);
    const first = d;
    await checksUp(first.api);
    failing.add('a').add('b').add('c');
    const firing = await waitFor(
      async () => {
        const v = await first.api.json<AlertsView>('GET', '/v1/alerts');
        const f = v.alerts.filter((a) => a.state === 'firing');
        return f.length === 3 ? f : undefined;
      },
      { what: 'three alerts firing', timeoutMs: 30_000, intervalMs: 20 },
    );
    first.child.kill('SIGKILL');
    const killedAt = Date.now();
    await first.exited;
    // The kill came inside group_wait: nothing was sent, and the wait had not run out.
    expect(rx.received).toHaveLength(0);
    const firstFired = Math.min(...firing.map((a) => Date.parse(a.firedAt ?? a.activeAt)));
    expect(killedAt - firstFired).toBeLessThan(GROUP_WAIT_MS);
    expect(isAlive(first.pid)).toBe(false);

    d = await spawnUp(dir);
    await waitFor(() => groups().length >= 1, { what: 'the group notification after the restart', timeoutMs: 40_000 });
    expect(alertsOf(groups()[0])).toEqual(['a-down:firing', 'b-down:firing', 'c-down:firing']);

    // The barrier: the next notification of the same group.
    failing.add('d');
    await waitFor(() => groups().some((g) => alertsOf(g).includes('d-down:firing')), {
      what: "the group's next notification, with d",
      timeoutMs: 30_000,
    });
    const all = groups();
    expect(all.map(alertsOf)).toEqual([
      ['a-down:firing', 'b-down:firing', 'c-down:firing'],
      ['a-down:firing', 'b-down:firing', 'c-down:firing', 'd-down:firing'],
    ]);
    expect(all[1]?.notification.group.key).toBe(all[0]?.notification.group.key);
    expect(new Set(all.map((g) => g.idempotencyKey)).size).toBe(2);
    failing.clear();
  }, 150_000);
});
