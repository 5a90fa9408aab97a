/**
 * `groundwork oncall` in-process on an applied stack (people and a schedule, no services): times
 * without an offset are read in the schedule's time zone whatever the host's (TZ is set to
 * Pacific/Auckland here), and the .ics export passes a strict RFC 5545 line check with UIDs that
 * stay the same from one export to the next.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentManager } from '../../src/incidents/incidents.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { jsonOf, runCli, runCliOk } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { lintIcs } from './ics-lint.js';

const STACK = `stack: oncall-cli
people:
  ana:
    contacts:
      phone: { webhook: { url: "http://127.0.0.1:9/ana" } }
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
    six-weeks:
      timezone: Europe/Berlin
      layers:
        - members: [ana, ben]
          rotation: 1008h
          start: "2026-01-05T09:00"
    nyc:
      timezone: America/New_York
      layers:
        - members: [ben]
          rotation: daily
          start: "2026-01-05T09:00"
  escalation:
    default:
      steps:
        - notify: [schedule:primary, schedule:nyc]
`;

interface WhoView {
  at: string;
  schedules: { name: string; now: { who: string; source: string } | null }[];
}

describe('oncall: local times and the calendar export', () => {
  const dir = makeTempDir('oncall-cli');
  const cli = (argv: string[]) => runCliOk(argv, { cwd: dir });
  const hostZone = process.env.TZ;

  beforeAll(async () => {
    writeFileSync(path.join(dir, 'groundwork.yaml'), STACK);
    await cli(['apply', '-y']);
    // The host is far from Berlin: a time read in the host's zone would be 12 hours off.
    process.env.TZ = 'Pacific/Auckland';
  }, 60_000);

  afterAll(() => {
    if (hostZone === undefined) delete process.env.TZ;
    else process.env.TZ = hostZone;
    removeTempDir(dir);
  });

  it('reads --at, --from and --to without an offset in the schedule’s zone, not the host’s', async () => {
    // The host's zone is in effect: a plain Date reads the same text 12 hours earlier.
    expect(new Date('2026-12-24T18:00').toISOString()).toBe('2026-12-24T05:00:00.000Z');

    const o = jsonOf<{ from: string; to: string }>(
      await cli([
        'oncall',
        'override',
        'primary',
        '--who',
        'ben',
        '--from',
        '2026-12-24T18:00',
        '--to',
        '2026-12-26T09:00',
        '--json',
      ]),
    );
    // Berlin is at +01:00 in December.
    expect([o.from, o.to]).toEqual(['2026-12-24T17:00:00.000Z', '2026-12-26T08:00:00.000Z']);

    const at = (t: string) => cli(['oncall', 'who', 'primary', '--at', t, '--json']).then((r) => jsonOf<WhoView>(r));
    const during = await at('2026-12-24T18:30');
    expect(during.at).toBe('2026-12-24T17:30:00.000Z');
    expect(during.schedules[0]?.now).toEqual({ who: 'ben', source: 'override' });
    // 17:59 Berlin is before the override: the weekly rotation (ana's week from Monday 21 Dec).
    expect((await at('2026-12-24T17:59')).schedules[0]?.now).toEqual({ who: 'ana', source: 'layer layer-1' });
    // In summer Berlin is at +02:00; an explicit offset or Z is taken as written.
    expect((await at('2026-07-01T09:00')).at).toBe('2026-07-01T07:00:00.000Z');
    expect((await at('2026-07-01T09:00Z')).at).toBe('2026-07-01T09:00:00.000Z');
    expect((await at('2026-07-01T09:00-04:00')).at).toBe('2026-07-01T13:00:00.000Z');
    // The New York schedule reads the same text in its own zone.
    const ny = jsonOf<WhoView>(await cli(['oncall', 'who', 'nyc', '--at', '2026-12-24T18:00', '--json']));
    expect(ny.at).toBe('2026-12-24T23:00:00.000Z');

    // No schedule named, and the schedules are in two zones: the time is ambiguous, and the error says so.
    const both = await runCli(['oncall', 'who', '--at', '2026-12-24T18:00'], { cwd: dir });
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(
      /has no offset, and the schedules are in different time zones \(America\/New_York, Europe\/Berlin\)/,
    );
    expect(both.stderr).toMatch(/name the schedule, or add the offset/);
  });

  it('`oncall show` says since when the person on call has been on call, in text and JSON', async () => {
    // Wednesday 2 Dec: ben's week began on Monday 30 Nov 09:00 Berlin, before the range shown.
    const text = (await cli(['oncall', 'show', 'primary', '--at', '2026-12-02T10:00Z', '--days', '7'])).stdout;
    expect(text).toContain('\n  now: ben, on call since Mon 30/11 09:00 (layer layer-1)\n');
    const json = jsonOf<{ schedules: { now: { who: string } | null; nowSince?: string }[] }>(
      await cli(['oncall', 'show', 'primary', '--at', '2026-12-02T10:00Z', '--days', '7', '--json']),
    );
    expect(json.schedules[0]).toMatchObject({ now: { who: 'ben' }, nowSince: '2026-11-30T08:00:00.000Z' });
    // A turn that began in another year shows the year: the six-week turn under way on 4 January
    // 2027 is ana's, from Monday 7 December 2026 09:00 Berlin.
    const six = (await cli(['oncall', 'show', 'six-weeks', '--at', '2027-01-04T10:00Z', '--days', '1'])).stdout;
    expect(six).toContain('\n  now: ana, on call since Mon 07/12/2026 09:00 (layer layer-1)\n');
  });

  it('an open incident whose escalation policy was removed stops escalating, and `incident show` says why', async () => {
    // The daemon's manager after an apply that renamed `default`: the incident's policy is gone.
    const store = SqliteStore.open(path.join(dir, '.groundwork', 'state.db'), systemClock);
    try {
      const m = new IncidentManager({
        store: store.incidents,
        outbox: store.outbox,
        clock: systemClock,
        people: new Map(),
        schedules: new Map(),
        policies: new Map(),
        defaultPolicy: undefined,
        pagingSeverities: ['critical'],
        externalUrl: 'http://127.0.0.1:7070',
        linkSecret: 'k',
      });
      const now = new Date().toISOString();
      const id = await store.incidents.saveIncident(
        {
          key: 'service:web',
          title: 'web is down',
          severity: 'critical',
          service: 'web',
          status: 'triggered',
          createdAt: now,
          ackedAt: null,
          ackedBy: null,
          resolvedAt: null,
          resolvedBy: null,
          assignee: null,
          policy: 'default',
          step: 0,
          loop: 0,
          stepStartedAt: now,
        },
        [{ kind: 'triggered', actor: 'alerts', text: 'opened by web-down' }],
        [],
      );
      await m.tick();
      await m.tick();
      expect((await store.incidents.timeline(id)).filter((e) => e.kind === 'escalation-stopped')).toHaveLength(1);
      expect(await store.outbox.listOutbox()).toEqual([]);
    } finally {
      store.closeNow();
    }
    const shown = (await cli(['incident', 'show', '1'])).stdout;
    expect(shown).toMatch(
      /status: {3}triggered\n.*\nescalation stopped: policy `default` is no longer applied \(renamed or removed\), so nobody more is paged; acknowledge or assign the incident, or declare `default` again/,
    );
  });

  it('exports a calendar that passes a strict RFC 5545 check, with the same UID for the same shift in every export', async () => {
    const ics = async (at: string): Promise<string> =>
      jsonOf<{ ics: string }>(await cli(['oncall', 'ics', 'primary', '--at', at, '--days', '28', '--json'])).ics;
    const first = lintIcs(await ics('2026-12-02T10:00Z'));
    const second = lintIcs(await ics('2026-12-03T15:30Z'));
    expect(first.problems).toEqual([]);
    expect(second.problems).toEqual([]);
    // The shift under way starts where it really starts (Monday 30 Nov 09:00 Berlin), not at --at.
    expect(first.events[0]).toMatchObject({
      dtstart: '20261130T080000Z',
      dtend: '20261207T080000Z',
      summary: 'On call (primary): ben',
    });
    expect(second.events[0]?.uid).toBe(first.events[0]?.uid);
    // Every shift in both exports has one UID; the override (24 Dec) is in both too.
    const byShift = (e: { dtstart: string; summary: string }) => `${e.dtstart} ${e.summary}`;
    const uidOf = new Map(first.events.map((e) => [byShift(e), e.uid]));
    const shared = second.events.filter((e) => uidOf.has(byShift(e)));
    expect(shared.length).toBeGreaterThanOrEqual(6);
    for (const e of shared) expect(e.uid).toBe(uidOf.get(byShift(e)));
    expect(second.events.some((e) => e.dtstart === '20261224T170000Z' && e.summary.endsWith(': ben'))).toBe(true);

    // A six-week turn: ben's from Monday 26 October 09:00 (CET) to Monday 7 December. Exported 30
    // and 37 days into it, a week apart: the same start and UID (the shift is not searched for
    // within some days back, where the second export would miss its start).
    const six = async (at: string) =>
      lintIcs(
        jsonOf<{ ics: string }>(await cli(['oncall', 'ics', 'six-weeks', '--at', at, '--days', '14', '--json'])).ics,
      );
    const [early, late] = [await six('2026-11-25T10:00Z'), await six('2026-12-02T10:00Z')];
    expect([early.problems, late.problems]).toEqual([[], []]);
    expect(early.events[0]).toMatchObject({ dtstart: '20261026T080000Z', summary: 'On call (six-weeks): ben' });
    expect(late.events[0]).toMatchObject({ dtstart: '20261026T080000Z', dtend: '20261207T080000Z' });
    expect(late.events[0]?.uid).toBe(early.events[0]?.uid);

    // The checker is strict: a bare LF, a long line and an unescaped comma are each found.
    const bad = lintIcs(
      (await ics('2026-12-02T10:00Z'))
        .replace('VERSION:2.0\r\n', 'VERSION:2.0\n')
        .replace(/SUMMARY:On call \(primary\): ana/, `SUMMARY:${'x'.repeat(80)}, ana`),
    );
    expect(bad.problems.join('\n')).toMatch(/bare CR or LF/);
    expect(bad.problems.join('\n')).toMatch(/octets \(at most 75\)/);
    expect(bad.problems.join('\n')).toMatch(/unescaped ; or ,/);
  });
});
