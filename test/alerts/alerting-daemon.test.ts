/**
 * Alerting in a real daemon: an http check against a server the test controls, an alert rule on
 * it and a signed webhook channel to a real receiver. The server starts failing → the check goes
 * down → the alert fires → the receiver has the page; the server recovers → the resolved
 * notification arrives. The time from the first failing answer to the page is printed (the
 * bench measures it properly; no threshold here).
 */
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/notify/channels/webhook.js';
import { jsonOf, runCli } from '../helpers/cli.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { startInProcess, type InProcessDaemon } from '../daemon/daemon-harness.js';
import { Receiver } from '../notify/receiver.js';

describe('alerting in the daemon', () => {
  const dir = makeTempDir('alerting-daemon');
  let web: http.Server;
  let failing = false;
  let failingSince = 0;
  const rx = new Receiver();
  let d: InProcessDaemon | undefined;

  beforeAll(async () => {
    web = http.createServer((_req, res) => {
      if (failing && failingSince === 0) failingSince = Date.now();
      res.writeHead(failing ? 503 : 200).end(failing ? 'down' : 'ok');
    });
    const port = await new Promise<number>((r) =>
      web.listen(0, '127.0.0.1', () => r((web.address() as net.AddressInfo).port)),
    );
    const hook = await rx.start();
    writeStack(dir, {
      stack: 'alerting-daemon',
      checks: { web: { http: { url: `http://127.0.0.1:${port}/` }, interval: '200ms', failures: 2, successes: 2 } },
      alerts: {
        'web-down': {
          check: 'web',
          severity: 'page',
          summary: 'web answers {{ $labels.check }} with errors',
          runbook: 'https://wiki.lab.test/web',
        },
      },
      secrets: { 'pager-key': {} },
      notify: {
        channels: {
          ops: { webhook: { url: `${hook}/hook`, secret: 'signing-key-for-test' } },
          // Its secret has no value: the channel cannot be built, and `alerts` must say so.
          pager: { webhook: { url: `${hook}/pager`, secret: '${secret.pager-key}' } },
        },
        default: ['ops'],
      },
    });
    d = await startInProcess(dir);
  });
  afterAll(async () => {
    await d?.daemon.stop();
    await rx.stop();
    await new Promise<void>((r) => web.close(() => r()));
    removeTempDir(dir);
  });

  it('a failing endpoint pages through the webhook; recovery sends resolved, once each', async () => {
    const body = (i: number) =>
      JSON.parse(rx.received[i]?.body ?? '{}') as {
        notification: { status: string; summary: string; links: Record<string, string> };
      };
    await new Promise((r) => setTimeout(r, 600)); // the check is up first
    expect(rx.received).toHaveLength(0);
    failing = true;
    await waitFor(() => rx.received.length >= 1, { what: 'the page', timeoutMs: 15_000, intervalMs: 20 });
    const latencyMs = Date.now() - failingSince;
    console.log(`failure to page: ${latencyMs} ms (check every 200 ms, 2 failures to go down)`);
    const r0 = rx.received[0];
    expect(
      verifyWebhookSignature(
        'signing-key-for-test',
        String(r0?.headers['x-groundwork-signature']),
        r0?.body ?? '',
        Math.floor(Date.now() / 1000),
      ),
    ).toBe(true);
    expect(body(0).notification).toMatchObject({ status: 'firing', summary: 'web answers web with errors' });
    expect(body(0).notification.links.runbook).toBe('https://wiki.lab.test/web');
    failing = false;
    await waitFor(() => rx.received.length >= 2, {
      what: 'the resolved notification',
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    expect(body(1).notification.status).toBe('resolved');
    await new Promise((r) => setTimeout(r, 800));
    expect(rx.received).toHaveLength(2);
    const alerts = (await d?.daemon.operations.installation.store.alerts.listAlerts()) ?? [];
    expect(alerts).toMatchObject([{ rule: 'web-down', state: 'resolved', notifications: 1 }]);
  });

  it('`alerts` shows who was told; a silence holds the page back and its expiry sends it', async () => {
    const list = await runCli(['alerts', '--json'], { cwd: dir });
    expect(list.code, list.stderr).toBe(0);
    const v = jsonOf<{
      alerts: { rule: string; state: string; deliveries: { channel: string; status: string; kind: string }[] }[];
    }>(list);
    expect(v.alerts[0]).toMatchObject({ rule: 'web-down', state: 'resolved' });
    expect(v.alerts[0]?.deliveries.map((x) => `${x.channel} ${x.kind} ${x.status}`)).toEqual([
      'ops firing delivered',
      'ops resolved delivered',
    ]);
    const add = await runCli(['silence', 'add', 'check=web', '--for', '1h', '-m', 'replacing the switch', '--json'], {
      cwd: dir,
    });
    expect(add.code, add.stderr).toBe(0);
    const silence = jsonOf<{ id: number }>(add);
    failing = true;
    await waitFor(
      async () => {
        const r = jsonOf<{ alerts: { state: string; suppressedBy: string | null }[] }>(
          await runCli(['alerts', '--json'], { cwd: dir }),
        );
        return r.alerts.some((a) => a.state === 'firing' && a.suppressedBy === `silence ${silence.id}`);
      },
      { what: 'the alert firing, silenced', timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(rx.received).toHaveLength(2);
    const text = await runCli(['alerts'], { cwd: dir, env: { NO_COLOR: '1' } });
    expect(text.stdout).toMatch(/web-down\s+firing.*not sent: silence \d+/);
    expect(text.stdout).toContain('replacing the switch');
    const exp = await runCli(['silence', 'expire', String(silence.id)], { cwd: dir });
    expect(exp.code, exp.stderr).toBe(0);
    await waitFor(() => rx.received.length >= 3, {
      what: 'the page after the silence',
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    expect(JSON.parse(rx.received[2]?.body ?? '{}')).toMatchObject({ notification: { status: 'firing' } });
    failing = false;
  });

  it('a channel that cannot be built shows in `alerts` (text and --json) and GET /v1/alerts, with the fix', async () => {
    const list = await runCli(['alerts', '--json'], { cwd: dir });
    expect(list.code, list.stderr).toBe(0);
    const v = jsonOf<{ channelProblems: { channel: string; problem: string }[] }>(list);
    expect(v.channelProblems).toHaveLength(1);
    expect(v.channelProblems[0]?.channel).toBe('pager');
    expect(v.channelProblems[0]?.problem).toMatch(/secret pager-key has no value; .*GROUNDWORK_SECRET_PAGER_KEY/);
    const api = await d?.api.json<{ channelProblems: { channel: string; problem: string }[] }>('GET', '/v1/alerts');
    expect(api?.channelProblems).toEqual(v.channelProblems);
    const text = await runCli(['alerts'], { cwd: dir, env: { NO_COLOR: '1' } });
    expect(text.stdout).toMatch(
      /^channel pager cannot deliver; its notifications stay queued: .*secret pager-key has no value/,
    );
  });

  it('check samples are kept and queryable: PromQL through the CLI and /api/v1/query', async () => {
    const q = await runCli(['query', 'groundwork_check_up{check="web"}', '--json'], { cwd: dir });
    expect(q.code, q.stderr).toBe(0);
    const v = jsonOf<{
      status: string;
      data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    }>(q);
    expect(v.status).toBe('success');
    expect(v.data.resultType).toBe('vector');
    expect(v.data.result[0]?.metric).toMatchObject({ __name__: 'groundwork_check_up', check: 'web' });
    const range = await runCli(['query', 'count_over_time(groundwork_check_up[1m])', '--range', '1m', '--step', '1s'], {
      cwd: dir,
      env: { NO_COLOR: '1' },
    });
    expect(range.code, range.stderr).toBe(0);
    expect(range.stdout).toMatch(/check="web".*\n\s+last \d+\s+min \d+\s+max \d+\s+[▁▂▃▄▅▆▇█]+/);
    const bad = await runCli(['query', 'rate(groundwork_check_up[1m]'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^query failed: /);
  });
});
