/**
 * The `people:` and `oncall:` sections: located errors with a fix for what the schema cannot
 * catch, the renamed `users:` section, and the resources a valid file plans.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/config/load.js';
import { buildModel } from '../../src/model/build-model.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');

const GOOD = `stack: s
secrets:
  ntfy-token: {}
notify:
  channels:
    ops: { webhook: { url: "http://127.0.0.1:9/ops" } }
people:
  ana:
    role: operator
    contacts:
      phone: { ntfy: { server: "http://127.0.0.1:2586", topic: ana, token: "\${secret.ntfy-token}" } }
      mail: { email: { host: 127.0.0.1, port: 25, security: none, from: gw@lab.test, to: [ana@lab.test] } }
    paging:
      - contact: phone
      - contact: mail
        after: 5m
  ben:
    contacts:
      phone: { webhook: { url: "http://127.0.0.1:9/ben" } }
oncall:
  schedules:
    primary:
      timezone: Europe/Berlin
      layers:
        - members: [ana, ben]
          rotation: weekly
          start: "2026-01-05T09:00"
        - name: office
          members: [ben]
          rotation: daily
          start: "2026-01-05T09:00"
          only: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }]
  escalation:
    default:
      steps:
        - notify: [schedule:primary]
          escalate_after: 5m
        - notify: [person:ana, channel:ops]
      repeat: 1
`;

describe('people and oncall in the stack file', () => {
  it('a valid file plans people, their contact channels, schedules, policies and the oncall policy', () => {
    const r = parseStackText(GOOD, '/tmp/oncall/groundwork.yaml', '/tmp/oncall');
    expect(r.diagnostics).toEqual([]);
    if (!r.config) throw new Error('no config');
    const { model } = buildModel(
      r.config,
      { dir: '/tmp/oncall', configHash: r.configHash, file: '/tmp/oncall/groundwork.yaml' },
      { cli: {}, env: {} },
    );
    if (!model) throw new Error('no model');
    const addrs = model.resources.map((x) => x.address);
    expect(addrs).toEqual(
      expect.arrayContaining([
        'person.ana',
        'person.ben',
        'channel.ana/phone',
        'channel.ana/mail',
        'channel.ben/phone',
        'schedule.primary',
        'escalation.default',
        'oncall-policy.default',
      ]),
    );
    const ana = model.resources.find((x) => x.address === 'person.ana');
    expect(ana?.spec).toEqual({
      paging: [
        { contact: 'phone', after: '0s' },
        { contact: 'mail', after: '5m' },
      ],
    });
    // The secret stays a reference in the plan.
    expect(JSON.stringify(model.resources)).toContain('${secret.ntfy-token}');
    const policy = model.resources.find((x) => x.address === 'oncall-policy.default');
    expect(policy?.spec).toEqual({ policy: 'default', page: ['critical'] });
  });

  it('locates every reference that goes nowhere, with a fix', () => {
    const bad = GOOD.replace('contact: mail', 'contact: sms')
      .replace('members: [ana, ben]', 'members: [ana, bne]')
      .replace('timezone: Europe/Berlin', 'timezone: Europe/Berln')
      .replace('person:ana, channel:ops', 'person:anna, channel:opps')
      .replace('${secret.ntfy-token}', '${secret.ntfy}');
    const r = parseStackText(bad, 'groundwork.yaml');
    const by = (p: string) => r.diagnostics.find((d) => d.path === p);
    expect(by('people.ana.paging.1.contact')).toMatchObject({ line: 15, code: 'dangling-reference' });
    expect(by('oncall.schedules.primary.layers.0.members.1')).toMatchObject({ fix: 'did you mean `ben`?' });
    expect(by('oncall.schedules.primary.timezone')?.fix).toMatch(/IANA/);
    expect(by('oncall.escalation.default.steps.1.notify.0')).toMatchObject({ fix: 'did you mean `ana`?' });
    expect(by('oncall.escalation.default.steps.1.notify.1')).toMatchObject({ fix: 'did you mean `ops`?' });
    expect(by('people.ana.contacts.phone.ntfy.token')).toMatchObject({ code: 'dangling-reference' });
  });

  it('a schedule member or a paged person with no contact to page is an error at the member, with a fix', () => {
    const bad = GOOD.replace(
      '  ben:\n    contacts:\n      phone: { webhook: { url: "http://127.0.0.1:9/ben" } }\n',
      '  ben:\n    role: viewer\n  cara:\n    contacts:\n      phone: { webhook: { url: "http://127.0.0.1:9/cara" } }\n    paging: []\n',
    )
      .replace('members: [ben]', 'members: [cara]')
      .replace('person:ana, channel:ops', 'person:ben, channel:ops');
    const r = parseStackText(bad, 'groundwork.yaml');
    const pageless = r.diagnostics.filter((d) => /cannot reach them/.test(d.message));
    expect(pageless).toEqual([
      expect.objectContaining({
        path: 'oncall.schedules.primary.layers.0.members.1',
        line: 28,
        message: '`ben` is a member of schedule `primary` but has no contact, so a page cannot reach them',
        fix: expect.stringContaining('add one under people.ben.contacts'),
      }),
      expect.objectContaining({
        path: 'oncall.schedules.primary.layers.1.members.0',
        message: expect.stringContaining('`paging: []` uses none of their contacts'),
        fix: expect.stringContaining('people.cara.paging'),
      }),
      expect.objectContaining({
        path: 'oncall.escalation.default.steps.1.notify.0',
        message: '`ben` is paged by escalation policy `default` but has no contact, so a page cannot reach them',
      }),
    ]);
    expect(r.diagnostics).toHaveLength(3);
  });

  it('says that users: is now people:, and asks which policy when there are two', () => {
    const r = parseStackText('stack: s\nusers:\n  ana: { role: viewer }\n', 'groundwork.yaml');
    expect(r.diagnostics).toEqual([
      expect.objectContaining({ line: 2, path: 'users', fix: expect.stringMatching(/now called `people:`/) }),
    ]);
    const two = GOOD.replace(
      '  escalation:\n',
      '  escalation:\n    quiet:\n      steps: [{ notify: [channel:ops] }]\n',
    );
    const d = parseStackText(two, 'groundwork.yaml').diagnostics;
    expect(d).toEqual([
      expect.objectContaining({ path: 'oncall', fix: 'add policy: quiet under oncall: (the default)' }),
    ]);
  });

  it('services and alert rules name their escalation policy; an unknown one is an error at its line, with the names', () => {
    const withTeams = GOOD.replace(
      '  escalation:\n',
      '  policy: default\n  escalation:\n    dba:\n      steps: [{ notify: [person:ben] }]\n',
    );
    const named = `${withTeams}services:
  web: { command: "node web.js", escalation: default }
  db: { command: "node db.js", escalation: dba }
  cache: { command: "node cache.js" }
alerts:
  db-slow: { check: db-up, severity: critical, escalation: default }
  web-down: { check: web-up, severity: critical }
checks:
  db-up: { tcp: "127.0.0.1:5432" }
  web-up: { tcp: "127.0.0.1:80" }
`;
    const r = parseStackText(named, '/tmp/oncall/groundwork.yaml', '/tmp/oncall');
    expect(r.diagnostics).toEqual([]);
    if (!r.config) throw new Error('no config');
    const { model } = buildModel(
      r.config,
      { dir: '/tmp/oncall', configHash: r.configHash, file: '/tmp/oncall/groundwork.yaml' },
      { cli: {}, env: {} },
    );
    // The choice travels in the on-call policy; services' own specs (and so their deploys) are untouched.
    expect(model?.resources.find((x) => x.address === 'oncall-policy.default')?.spec).toEqual({
      policy: 'default',
      page: ['critical'],
      services: { web: 'default', db: 'dba' },
      rules: { 'db-slow': 'default' },
    });
    expect(JSON.stringify(model?.resources.find((x) => x.address === 'service.db')?.spec)).not.toContain('dba');

    const typo = named
      .replace('escalation: dba }', 'escalation: dbas }')
      .replace('escalation: default }\n  web-down', 'escalation: night }\n  web-down');
    const d = parseStackText(typo, 'groundwork.yaml').diagnostics;
    const lineOf = (text: string) => typo.split('\n').findIndex((l) => l.includes(text)) + 1;
    expect(d).toEqual([
      expect.objectContaining({
        path: 'services.db.escalation',
        line: lineOf('escalation: dbas'),
        code: 'dangling-reference',
        message: 'no escalation policy named `dbas` (the policies are: dba, default)',
        fix: 'did you mean `dba`?',
      }),
      expect.objectContaining({
        path: 'alerts.db-slow.escalation',
        line: lineOf('escalation: night'),
        message: 'no escalation policy named `night` (the policies are: dba, default)',
        fix: 'use one of dba, default, or declare `night` under oncall.escalation',
      }),
    ]);
    // No oncall: section at all: the service names a policy nobody declared.
    const none = parseStackText(
      'stack: s\nservices:\n  web: { command: "x", escalation: web-team }\n',
      'groundwork.yaml',
    );
    expect(none.diagnostics).toEqual([
      expect.objectContaining({
        line: 3,
        message: 'no escalation policy named `web-team` (none is declared)',
        fix: expect.stringContaining('declare it under oncall.escalation'),
      }),
    ]);
  });
});

describe('a layer start with an offset', () => {
  it('is accepted; one that is not the zone’s offset on that date is a warning at its line saying the local handoff time', () => {
    const own = parseStackText(
      GOOD.replace('start: "2026-01-05T09:00"\n        - name', 'start: "2026-01-05T09:00+01:00"\n        - name'),
      'groundwork.yaml',
    );
    expect(own.diagnostics).toEqual([]);
    const summer = GOOD.replace(
      'start: "2026-01-05T09:00"\n        - name',
      'start: "2026-07-06T09:00+01:00"\n        - name',
    );
    expect(parseStackText(summer, 'groundwork.yaml').diagnostics).toEqual([
      expect.objectContaining({
        severity: 'warning',
        path: 'oncall.schedules.primary.layers.0.start',
        line: summer.split('\n').findIndex((l) => l.includes('2026-07-06T09:00+01:00')) + 1,
        message:
          '`2026-07-06T09:00+01:00` is 10:00 in Europe/Berlin (whose offset on that date is +02:00), so every handoff is at 10:00 local time',
        fix: expect.stringContaining('without an offset (2026-07-06T10:00)'),
      }),
    ]);
  });
});

describe('README: On call, incidents and postmortems', () => {
  it('the example is a valid part of a stack file', () => {
    const text = readFileSync(README, 'utf8');
    const section = text.slice(text.indexOf('#### On call, incidents and postmortems'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const stack = `stack: readme\nsecrets: { smtp: {} }\nnotify:\n  channels:\n    chat: { slack: { url: "https://hooks.slack.test/x" } }\n${block ?? ''}`;
    const r = parseStackText(stack, 'groundwork.yaml');
    expect(r.diagnostics).toEqual([]);
  });
});
