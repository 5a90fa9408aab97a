/**
 * Log-pattern rules (`alerts.NAME.logs`): the pattern and the sliding window as pure code, the
 * stack file's located errors, and end to end in a real daemon: a real process service prints
 * lines (server.mjs's /say), the rule follows its log file, fires at the threshold with labels
 * service and rule, and resolves once the window has no more matches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LogPatternError,
  MatchWindow,
  lineMatches,
  parseLogPattern,
  splitLines,
} from '../../src/alerts/log-pattern.js';
import { parseStackText } from '../../src/config/load.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { httpGet } from '../helpers/http.js';
import {
  nodeService,
  startInProcess,
  writeServiceScript,
  writeStack,
  type InProcessDaemon,
} from '../daemon/daemon-harness.js';
import { Receiver } from '../notify/receiver.js';

describe('log patterns and windows', () => {
  it('text is a substring, /regex/flags a regular expression; bad ones say why', () => {
    expect(lineMatches(parseLogPattern('ERROR'), '12:00 ERROR disk full')).toBe(true);
    expect(lineMatches(parseLogPattern('ERROR'), '12:00 error disk full')).toBe(false);
    const re = parseLogPattern('/timeout|refused/i');
    expect(lineMatches(re, 'connect: Connection REFUSED')).toBe(true);
    expect(lineMatches(re, 'all good')).toBe(false);
    expect(() => parseLogPattern('/a(/')).toThrow(LogPatternError);
    expect(() => parseLogPattern('/a/g')).toThrow(/flags 'g'.*use i, m, s or u/);
  });

  it('counts matches within the window ending now; a line split between reads is matched once, whole', () => {
    const w = new MatchWindow(10_000);
    w.add(2, 1_000);
    w.add(1, 5_000);
    expect(w.count(5_000)).toBe(3);
    expect(w.count(11_000)).toBe(1); // the two of t=1 s left the window
    expect(w.count(15_000)).toBe(0);
    const a = splitLines('', 'ERROR one\nERR');
    expect(a).toEqual({ lines: ['ERROR one'], carry: 'ERR' });
    expect(splitLines(a.carry, 'OR two\n')).toEqual({ lines: ['ERROR two'], carry: '' });
  });

  const stack = (alert: string) =>
    `stack: lab\nservices:\n  web: { command: node server.js }\n  box: { runtime: docker, image: "busybox:latest" }\nnotify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\nalerts:\n${alert}`;
  it.each([
    [
      'a regex that does not compile',
      '  e: { logs: { service: web, pattern: "/disk (full/" } }\n',
      'alerts.e.logs.pattern',
      /regular expression/,
    ],
    [
      'an undeclared service',
      '  e: { logs: { service: wbe, pattern: ERROR } }\n',
      'alerts.e.logs.service',
      /did you mean `web`/,
    ],
    [
      'a container service',
      '  e: { logs: { service: box, pattern: ERROR } }\n',
      'alerts.e.logs.service',
      /process service/,
    ],
    [
      'a threshold of 0',
      '  e: { logs: { service: web, pattern: ERROR, threshold: 0 } }\n',
      'alerts.e.logs.threshold',
      /at least 1/,
    ],
  ])('reports %s at its line', (_what, alert, path, fix) => {
    const r = parseStackText(stack(alert), 'groundwork.yaml');
    expect(r.config).toBeUndefined();
    const d = r.diagnostics.find((x) => x.path === path);
    expect(d, JSON.stringify(r.diagnostics)).toMatchObject({ line: 9 });
    expect(`${d?.message ?? ''} ${d?.fix ?? ''}`).toMatch(fix);
  });
});

describe('log rules in the daemon', () => {
  const dir = makeTempDir('log-rules');
  const rx = new Receiver();
  let d: InProcessDaemon | undefined;

  beforeAll(async () => {
    writeServiceScript(dir);
    const hook = await rx.start();
    writeStack(dir, {
      stack: 'log-rules',
      services: { web: nodeService('log-rules-web') },
      alerts: {
        'web-disk-errors': {
          logs: { service: 'web', pattern: '/ERROR .*disk/', window: '5s', threshold: 3 },
          severity: 'page',
          summary: '{{ $value }} disk errors in the log of {{ $labels.service }}',
        },
      },
      notify: { channels: { ops: { webhook: { url: `${hook}/hook` } } } },
    });
    d = await startInProcess(dir);
  });
  afterAll(async () => {
    await d?.close();
    await rx.stop();
    removeTempDir(dir);
  });

  it('fires at the threshold of matching lines with labels service and rule, and resolves after the window', async () => {
    const port = await waitFor(
      async () => {
        const i = (await d?.daemon.status())?.services.find((s) => s.name === 'web')?.instances[0];
        return i?.state === 'healthy' ? (i.ports.http as number) : undefined;
      },
      { what: 'web healthy', timeoutMs: 20_000 },
    );
    const say = (m: string) => httpGet(port, `/say?m=${encodeURIComponent(m)}`);
    const alerts = async () => (await d?.daemon.operations.installation.store.alerts.listAlerts()) ?? [];
    // Lines that do not match, and two that do: below the threshold.
    await say('INFO disk at 40%');
    await say('ERROR network unreachable');
    await say('ERROR disk /dev/sda1 full');
    await say('ERROR disk /dev/sda1 full');
    await say('ERROR disk /dev/sda1 still full');
    await waitFor(() => rx.received.length >= 1, { what: 'the log alert', timeoutMs: 15_000, intervalMs: 20 });
    const n = (JSON.parse(rx.received[0]?.body ?? '{}') as { notification: Record<string, unknown> }).notification;
    expect(n).toMatchObject({
      alert: 'web-disk-errors',
      status: 'firing',
      summary: '3 disk errors in the log of web',
      labels: { service: 'web', rule: 'web-disk-errors', alertname: 'web-disk-errors', severity: 'page' },
    });
    // Only matching lines count: two more make 5 (the three that do not match would make it 8).
    await say('ERROR disk /dev/sdb1 full');
    await say('ERROR disk /dev/sdb1 full');
    await waitFor(async () => (await alerts())[0]?.value === 5, {
      what: 'the count to reach 5',
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    await waitFor(() => rx.received.length >= 2, {
      what: 'resolved after the window',
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    expect(JSON.parse(rx.received[1]?.body ?? '{}')).toMatchObject({ notification: { status: 'resolved' } });
  });
});
