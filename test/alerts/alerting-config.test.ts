/** The `notify:`, `alerts:` and `maintenance:` sections: what they plan to, and located errors with fixes. */
import { describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/config/load.js';
import { buildModel } from '../../src/model/build-model.js';

const GOOD = `stack: lab
secrets:
  hook-key: {}
services:
  web:
    command: node server.js
    ports: { http: auto }
notify:
  channels:
    ops:
      webhook: { url: "http://127.0.0.1:9000/hook", secret: "\${secret.hook-key}" }
    mail:
      email: { host: 127.0.0.1, port: 25, security: none, from: gw@lab.test, to: [ops@lab.test] }
  routes:
    - { match: ['severity="page"'], channels: [ops, mail], repeat_interval: 1h }
  default: [mail]
alerts:
  web-crashing: { event: crashloop, service: web, severity: page, for: 10s, summary: "web restarts in a loop" }
maintenance:
  backups:
    weekly: { days: [sun], from: "02:00", to: "04:00", timezone: Europe/Berlin }
`;

describe('alerting sections of the stack file', () => {
  it('plans channels, the notify policy, alert rules and maintenance windows as resources', () => {
    const r = parseStackText(GOOD, 'groundwork.yaml');
    expect(r.diagnostics).toEqual([]);
    if (!r.config) throw new Error('no config');
    const { model, diagnostics } = buildModel(
      r.config,
      { dir: '/tmp', configHash: 'x', file: 'groundwork.yaml' },
      { cli: {}, env: {} },
    );
    expect(diagnostics).toEqual([]);
    if (!model) throw new Error('no model');
    const addresses = model.resources.map((x) => x.address).filter((a) => !a.startsWith('service.'));
    expect(addresses.sort()).toEqual([
      'alert.web-crashing',
      'channel.mail',
      'channel.ops',
      'maintenance.backups',
      'notify-policy.default',
    ]);
    const ops = model.resources.find((x) => x.address === 'channel.ops');
    // The reference stays a reference: no secret value in the plan or state.
    expect(ops?.spec).toEqual({
      type: 'webhook',
      settings: { url: 'http://127.0.0.1:9000/hook', secret: '${secret.hook-key}' },
    });
    expect(model.resources.find((x) => x.address === 'alert.web-crashing')?.dependsOn).toEqual(['service.web']);
  });

  const bad: [string, string, { line: number; fix: RegExp }][] = [
    [
      'a channel of two kinds',
      'notify:\n  channels:\n    ops:\n      webhook: { url: "http://a" }\n      slack: { url: "http://b" }\n',
      { line: 3, fix: /one channel per kind/ },
    ],
    [
      'a route to an undeclared channel',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\n  routes:\n    - { channels: [opz] }\n',
      { line: 5, fix: /did you mean `ops`/ },
    ],
    [
      'an undeclared secret in a channel',
      'notify:\n  channels:\n    chat: { slack: { url: "${secret.slack-url}" } }\n',
      { line: 3, fix: /declare it under secrets/ },
    ],
    [
      'an alert without a condition',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\nalerts:\n  web-down: { severity: page }\n',
      { line: 5, fix: /event: crashloop/ },
    ],
    [
      'an alert on an undeclared service',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\nalerts:\n  web-down: { event: crashloop, service: wbe }\n',
      { line: 5, fix: /declare the service/ },
    ],
    [
      'an alert expression that does not parse',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\nalerts:\n  web-down:\n    expr: "rate(groundwork_check_up[1m]"\n',
      { line: 6, fix: /instant-vector PromQL/ },
    ],
    [
      'an alert expression that returns a range vector',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\nalerts:\n  web-down: { expr: "groundwork_check_up[5m]" }\n',
      { line: 5, fix: /instant-vector PromQL/ },
    ],
    [
      'an interval on a check rule',
      'checks:\n  web: { tcp: "127.0.0.1:80" }\nnotify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\nalerts:\n  web-down: { check: web, interval: 5s }\n',
      { line: 7, fix: /remove interval/ },
    ],
    [
      'an inhibit matcher whose regular expression does not compile',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\n  inhibit:\n    - source_matchers: [\'alertname="a"\']\n      target_matchers: [\'service=~"web(\']\n',
      { line: 6, fix: /fix the regular expression/ },
    ],
    [
      "group_by '...' with label names",
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\n  routes:\n    - { channels: [ops], group_by: [team, "..."] }\n',
      { line: 5, fix: /alone/ },
    ],
    [
      'a group_wait without group_by',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\n  group_wait: 10s\n',
      { line: 4, fix: /add group_by/ },
    ],
    [
      'a group_by label that is not a label name',
      'notify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\n  routes:\n    - { channels: [ops], group_by: [team-name] }\n',
      { line: 5, fix: /label names such as alertname/ },
    ],
    ['alerts with nobody to tell', 'alerts:\n  web-down: { event: crashloop }\n', { line: 1, fix: /notify:/ }],
    [
      'an unknown time zone',
      'maintenance:\n  nightly:\n    weekly: { days: [mon], from: "01:00", to: "02:00", timezone: Europe/Berlim }\n',
      { line: 3, fix: /IANA name/ },
    ],
    [
      'a weekday that does not exist',
      'maintenance:\n  nightly:\n    weekly: { days: [mnd], from: "01:00", to: "02:00" }\n',
      { line: 3, fix: /mon, tue/ },
    ],
    [
      'a bad clock time',
      'maintenance:\n  nightly:\n    weekly: { days: [mon], from: "25:00", to: "02:00" }\n',
      { line: 3, fix: /24-hour time/ },
    ],
  ];
  it("names the parser's message for a bad expression, and plans a good one with its interval", () => {
    const r = parseStackText(
      'stack: lab\nnotify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\nalerts:\n  a: { expr: "sum(groundwork_check_up" }\n  b: { expr: "groundwork_check_up == 0" }\n',
      'groundwork.yaml',
    );
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ path: 'alerts.a.expr', line: 6 });
    expect(r.diagnostics[0]?.message).toMatch(
      /^alert `a`: cannot use the expression `sum\(groundwork_check_up`: parse error at character \d+/,
    );
    const ok = parseStackText(
      'stack: lab\nnotify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\n  inhibit:\n    - { source_matchers: [\'alertname="b"\'], target_matchers: [\'severity="warning"\'], equal: [check] }\nalerts:\n  b: { expr: "groundwork_check_up == 0", for: 30s }\n',
      'groundwork.yaml',
    );
    if (!ok.config) throw new Error(JSON.stringify(ok.diagnostics));
    const { model } = buildModel(
      ok.config,
      { dir: '/tmp', configHash: 'x', file: 'groundwork.yaml' },
      { cli: {}, env: {} },
    );
    expect(model?.resources.find((x) => x.address === 'alert.b')?.spec).toMatchObject({
      expr: 'groundwork_check_up == 0',
      interval: '5s',
      check: null,
      for: '30s',
    });
    const grouped = parseStackText(
      'stack: lab\nnotify:\n  channels:\n    ops: { webhook: { url: "http://a" } }\n  routes:\n    - { channels: [ops], group_by: [team], group_wait: 1s }\n',
      'groundwork.yaml',
    );
    if (!grouped.config) throw new Error(JSON.stringify(grouped.diagnostics));
    const policy = buildModel(
      grouped.config,
      { dir: '/tmp', configHash: 'x', file: 'groundwork.yaml' },
      { cli: {}, env: {} },
    ).model?.resources.find((x) => x.address === 'notify-policy.default')?.spec;
    // Alertmanager's default group_interval where the stack file gives none; no grouping keys without group_by.
    expect(policy?.routes).toEqual([
      {
        match: [],
        channels: ['ops'],
        repeat_interval: '4h',
        continue: false,
        group_by: ['team'],
        group_wait: '1s',
        group_interval: '5m',
      },
    ]);
    expect(policy?.group_by).toBeUndefined();
    expect(model?.resources.find((x) => x.address === 'notify-policy.default')?.spec.inhibit).toEqual([
      { source_matchers: ['alertname="b"'], target_matchers: ['severity="warning"'], equal: ['check'] },
    ]);
  });

  for (const [what, body, want] of bad) {
    it(`reports ${what} at its line with a fix`, () => {
      const r = parseStackText(`stack: lab\n${body}`, 'groundwork.yaml');
      expect(r.config).toBeUndefined();
      expect(r.diagnostics.length).toBeGreaterThanOrEqual(1);
      const d = r.diagnostics[0];
      expect({ line: d?.line, fix: d?.fix }).toMatchObject({
        line: want.line + 1,
        fix: expect.stringMatching(want.fix),
      });
    });
  }
});
