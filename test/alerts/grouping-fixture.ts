/**
 * What the grouping tests in a real daemon share: an HTTP server the test controls (a path in
 * `failing` answers 500), four http checks `a`–`d` on it every second, an alert `<name>-down` on
 * each labelled team=web, a stack file whose notify section the test gives (the receiver's URL in
 * hand), and a real webhook receiver that records what arrives.
 */
import http from 'node:http';
import type net from 'node:net';
import type { StackConfig } from '../../src/config/schema.js';
import type { Api } from '../daemon/daemon-harness.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { Receiver } from '../notify/receiver.js';

export const CHECKS = ['a', 'b', 'c', 'd'] as const;

/** The body of a generic webhook's group notification, as far as these tests read it. */
export interface GroupBody {
  idempotencyKey: string;
  notification: { status: string; group: { key: string; alerts: { alert: string; status: string }[] } };
}

export interface GroupingLab {
  /** The stack's folder (groundwork.yaml written). */
  dir: string;
  /** Check names whose endpoint answers 500 while they are in the set. */
  failing: Set<string>;
  rx: Receiver;
  /** Stops the server and the receiver and removes the folder (the daemon is the test's to stop first). */
  close(): Promise<void>;
}

/** `alert:status` of each alert in a group notification, sorted. */
export function alertsOf(b: GroupBody | undefined): string[] {
  return (b?.notification.group.alerts ?? []).map((a) => `${a.alert}:${a.status}`).sort();
}

/** The group notifications that arrived on `path` of the receiver, in order. */
export function groupsAt(rx: Receiver, path: string): GroupBody[] {
  return rx.received.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as GroupBody);
}

/** Waits until the daemon reports all four checks up (their endpoints answered). */
export function checksUp(api: Api): Promise<unknown> {
  return waitFor(
    async () => {
      const v = await api.json<{ checks?: { name: string; state: string }[] }>('GET', '/v1/status');
      return (v.checks ?? []).filter((c) => c.state === 'up').length === CHECKS.length;
    },
    { what: `the ${CHECKS.length} checks to be up`, timeoutMs: 30_000 },
  );
}

export async function startGroupingLab(
  name: string,
  notify: (receiverUrl: string) => NonNullable<StackConfig['notify']>,
): Promise<GroupingLab> {
  const dir = makeTempDir(name);
  const failing = new Set<string>();
  const web = http.createServer((req, res) => {
    const down = failing.has((req.url ?? '').slice(1));
    res.writeHead(down ? 500 : 200).end(down ? 'down' : 'ok');
  });
  const port = await new Promise<number>((r) =>
    web.listen(0, '127.0.0.1', () => r((web.address() as net.AddressInfo).port)),
  );
  const rx = new Receiver();
  const hook = await rx.start();
  writeStack(dir, {
    stack: name,
    checks: Object.fromEntries(
      CHECKS.map((n) => [
        n,
        {
          http: { url: `http://127.0.0.1:${port}/${n}` },
          // The timeout is the interval's at most. A slow answer of a busy machine, over the timeout,
          // counts as a failure: an alert the test did not cause (at 200 ms, with one failure enough,
          // it fired under load). A 1 s timeout and two failures in a row keep such alerts out;
          // the endpoint's 500s, the test's failures, are sure, and one success is a recovery.
          interval: '1s',
          timeout: '1s',
          failures: 2,
          successes: 1,
        },
      ]),
    ),
    alerts: Object.fromEntries(
      CHECKS.map((n) => [`${n}-down`, { check: n, severity: 'page', labels: { team: 'web' }, summary: `${n} fails` }]),
    ),
    notify: notify(hook),
  });
  return {
    dir,
    failing,
    rx,
    async close() {
      await rx.stop();
      await new Promise<void>((r) => web.close(() => r()));
      removeTempDir(dir);
    },
  };
}
