/**
 * On-call schedules against a reference written without a time-zone library: the UTC offsets of
 * Europe/Berlin and America/New_York in 2026 are typed in by hand (EU: last Sunday of March and
 * October at 01:00 UTC; US: second Sunday of March and first Sunday of November at 02:00 local),
 * and the expected person for every hour of 8 weeks around each change follows from them.
 */
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { shiftsToIcs } from '../../src/incidents/ical.js';
import { onCallAt, shiftStartAt, shiftsBetween, type Schedule } from '../../src/incidents/schedule.js';
import { lintIcs } from './ics-lint.js';

const H = 3_600_000;
const utc = (s: string): number => Date.parse(s);

/** Hand-written: hours to add to UTC for local time in 2026. */
const OFFSETS: Record<string, (t: number) => number> = {
  'Europe/Berlin': (t) => (t < utc('2026-03-29T01:00:00Z') ? 1 : t < utc('2026-10-25T01:00:00Z') ? 2 : 1),
  'America/New_York': (t) => (t < utc('2026-03-08T07:00:00Z') ? -5 : t < utc('2026-11-01T06:00:00Z') ? -4 : -5),
};

const OVERRIDES = [
  { who: 'eve', from: '2026-03-28T20:00:00.000Z', to: '2026-03-29T08:00:00.000Z' },
  { who: 'eve', from: '2026-10-24T22:00:00.000Z', to: '2026-10-25T06:00:00.000Z' },
];

function schedule(timeZone: string): Schedule {
  return {
    name: 'primary',
    timeZone,
    layers: [
      {
        name: 'rotation',
        members: ['ana', 'ben', 'cara'],
        turnHours: 168,
        start: '2026-03-02T09:00',
        restrictions: [],
      },
      {
        name: 'business-hours',
        members: ['dan'],
        turnHours: 168,
        start: '2026-03-02T09:00',
        restrictions: [{ days: [1, 2, 3, 4, 5], fromMinute: 9 * 60, toMinute: 17 * 60 }],
      },
    ],
    overrides: OVERRIDES,
  };
}

/** The reference: override, else dan on weekdays 09–17 local, else the weekly rotation from Monday 09:00 local. */
function expected(zone: string, t: number): string {
  for (const o of OVERRIDES) if (utc(o.from) <= t && t < utc(o.to)) return 'eve';
  const local = t + (OFFSETS[zone] as (t: number) => number)(t) * H;
  const d = new Date(local);
  const weekday = d.getUTCDay(); // 0 Sunday
  const hour = d.getUTCHours();
  if (weekday >= 1 && weekday <= 5 && hour >= 9 && hour < 17) return 'dan';
  const week = Math.floor((local - Date.UTC(2026, 2, 2, 9)) / (7 * 24 * H));
  return ['ana', 'ben', 'cara'][week % 3] as string;
}

const WINDOWS = [
  ['2026-03-02T00:00:00Z', '2026-04-27T00:00:00Z'],
  ['2026-10-05T00:00:00Z', '2026-11-30T00:00:00Z'],
] as const;

describe('on-call schedule across daylight-saving changes', () => {
  for (const zone of Object.keys(OFFSETS)) {
    it(`${zone}: the expected person for every hour of 8 weeks around each change`, () => {
      const s = schedule(zone);
      let hours = 0;
      const wrong: string[] = [];
      for (const [a, b] of WINDOWS) {
        for (let t = utc(a); t < utc(b); t += H) {
          // Each hour and the last minute of it: a boundary cannot hide inside the hour.
          for (const at of [t, t + H - 60_000]) {
            const got = onCallAt(s, new Date(at))?.who;
            if (got !== expected(zone, at))
              wrong.push(`${new Date(at).toISOString()}: got ${got}, want ${expected(zone, at)}`);
          }
          hours++;
        }
      }
      expect(hours).toBe(2 * 8 * 7 * 24);
      expect(wrong.slice(0, 10)).toEqual([]);
    });
  }

  it('hand-checked boundary hours', () => {
    const berlin = schedule('Europe/Berlin');
    const ny = schedule('America/New_York');
    const who = (s: Schedule, iso: string): string | undefined => onCallAt(s, new Date(iso))?.who;
    expect(who(berlin, '2026-03-29T07:59:00Z')).toBe('eve'); // the override over the spring night
    expect(who(berlin, '2026-03-29T08:00:00Z')).toBe('ana'); // Sunday 10:00 CEST, week 3
    expect(who(berlin, '2026-03-30T06:59:00Z')).toBe('ana'); // Monday 08:59 CEST, first Monday after the change
    expect(who(berlin, '2026-03-30T07:00:00Z')).toBe('dan'); // 09:00 CEST, business hours
    expect(who(berlin, '2026-03-30T15:00:00Z')).toBe('ben'); // 17:00 CEST, week 4
    expect(who(berlin, '2026-10-26T07:59:00Z')).toBe('ana'); // Monday 08:59 CET after the autumn change, week 33
    expect(who(berlin, '2026-10-26T16:00:00Z')).toBe('ben'); // 17:00 CET, week 34
    expect(who(ny, '2026-03-09T12:59:00Z')).toBe('ana'); // Monday 08:59 EDT, the day after the change, week 0
    expect(who(ny, '2026-03-09T13:00:00Z')).toBe('dan'); // 09:00 EDT
    expect(who(ny, '2026-03-09T21:00:00Z')).toBe('ben'); // 17:00 EDT, week 1
    expect(who(ny, '2026-11-02T13:59:00Z')).toBe('ben'); // Monday 08:59 EST, week 34 began a week ago
    expect(who(ny, '2026-11-02T14:00:00Z')).toBe('dan');
  });

  it('shifts are contiguous, and the .ics export parses to the same shifts', () => {
    const s = schedule('Europe/Berlin');
    const from = new Date('2026-03-23T00:00:00Z');
    const to = new Date('2026-04-06T00:00:00Z');
    const shifts = shiftsBetween(s, from, to);
    expect(shifts[0]?.from).toEqual(from);
    expect(shifts.at(-1)?.to).toEqual(to);
    for (let i = 1; i < shifts.length; i++) {
      expect(shifts[i]?.from).toEqual(shifts[i - 1]?.to);
      expect(shifts[i]?.who === shifts[i - 1]?.who && shifts[i]?.source === shifts[i - 1]?.source).toBe(false);
    }
    // Weekday business hours (10) + the rotation around them + the override: a known count.
    expect(shifts.filter((x) => x.who === 'dan')).toHaveLength(10);
    expect(shifts.filter((x) => x.who === 'eve')).toHaveLength(1);

    const ics = shiftsToIcs('primary', shifts, new Date('2026-03-20T00:00:00Z'));
    expect(ics.split('\r\n').every((l) => Buffer.byteLength(l) <= 75)).toBe(true);
    expect(lintIcs(ics).problems).toEqual([]);
    const cal = new ICAL.Component(ICAL.parse(ics));
    const events = cal.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    expect(events).toHaveLength(shifts.length);
    for (const [i, e] of events.entries()) {
      const sh = shifts[i];
      expect(e.startDate.toJSDate().getTime()).toBe(sh?.from.getTime());
      expect(e.endDate.toJSDate().getTime()).toBe(sh?.to.getTime());
      expect(e.summary).toBe(`On call (primary): ${sh?.who}`);
    }
    // Every hour, the calendar says what onCallAt says.
    for (let t = from.getTime(); t < to.getTime(); t += H) {
      const e = events.find((x) => x.startDate.toJSDate().getTime() <= t && t < x.endDate.toJSDate().getTime());
      expect(e?.summary.replace('On call (primary): ', '')).toBe(onCallAt(s, new Date(t))?.who);
    }
  });
});

describe('a layer start written with an offset', () => {
  const weekly = (zone: string, start: string): Schedule => ({
    name: 'primary',
    timeZone: zone,
    layers: [{ name: 'rotation', members: ['ana', 'ben'], turnHours: 168, start, restrictions: [] }],
    overrides: [],
  });
  const who = (s: Schedule, iso: string): string | undefined => onCallAt(s, new Date(iso))?.who;

  it('is that instant, read on the schedule’s wall clock: handoffs stay at that local time across the change', () => {
    // Monday 23 March 09:00 in Berlin (CET, +01:00), written three ways; the next handoff is on
    // Monday 30 March, after the spring change, at 09:00 CEST = 07:00 UTC (not 08:00 UTC).
    for (const start of ['2026-03-23T09:00', '2026-03-23T09:00+01:00', '2026-03-23T08:00:00Z']) {
      const s = weekly('Europe/Berlin', start);
      expect([start, who(s, '2026-03-23T07:59:00Z')]).toEqual([start, undefined]); // 08:59 CET: not started
      expect([start, who(s, '2026-03-23T08:00:00Z')]).toEqual([start, 'ana']);
      expect([start, who(s, '2026-03-30T06:59:00Z')]).toEqual([start, 'ana']); // 08:59 CEST
      expect([start, who(s, '2026-03-30T07:00:00Z')]).toEqual([start, 'ben']); // 09:00 CEST
      // And back in autumn: Monday 26 October 09:00 CET = 08:00 UTC.
      expect([start, who(s, '2026-10-26T07:59:00Z')]).toEqual([start, who(s, '2026-10-19T08:00:00Z')]);
      expect(who(s, '2026-10-26T08:00:00Z')).not.toBe(who(s, '2026-10-26T07:59:00Z'));
    }
    // New York: 09:00 EST (-05:00) on 2 March; after the change on 8 March, 09:00 EDT = 13:00 UTC.
    const ny = weekly('America/New_York', '2026-03-02T09:00-05:00');
    expect(who(ny, '2026-03-09T12:59:00Z')).toBe('ana');
    expect(who(ny, '2026-03-09T13:00:00Z')).toBe('ben');
  });

  it('in another zone’s offset, gives the local time it means in the schedule’s zone, kept across the change', () => {
    // 09:00 in New York (-04:00 in summer) is 13:00 UTC = 14:00 CET on 23 March: handoffs at 14:00 Berlin time.
    const s = weekly('Europe/Berlin', '2026-03-23T09:00-04:00');
    expect(who(s, '2026-03-23T12:59:00Z')).toBeUndefined();
    expect(who(s, '2026-03-23T13:00:00Z')).toBe('ana');
    expect(who(s, '2026-03-30T11:59:00Z')).toBe('ana'); // 13:59 CEST
    expect(who(s, '2026-03-30T12:00:00Z')).toBe('ben'); // 14:00 CEST
  });
});

describe('the start of the shift under way', () => {
  const since = (s: Schedule, iso: string) => shiftStartAt(s, new Date(iso))?.toISOString();

  it('comes from the layer’s start and turn length, for any length, and from overrides and restrictions', () => {
    // One person always on call since January: the shift began at the layer's start.
    const solo: Schedule = {
      name: 'solo',
      timeZone: 'Europe/Berlin',
      layers: [{ name: 'l', members: ['ana'], turnHours: 24, start: '2026-01-05T09:00', restrictions: [] }],
      overrides: [],
    };
    expect(since(solo, '2026-12-02T10:00:00Z')).toBe('2026-01-05T08:00:00.000Z');
    // Two overrides of eve's that touch make one shift; it began at the first.
    const covered: Schedule = {
      ...solo,
      overrides: [
        { who: 'eve', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' },
        { who: 'eve', from: '2026-12-02T00:00:00Z', to: '2026-12-03T00:00:00Z' },
      ],
    };
    expect(since(covered, '2026-12-02T10:00:00Z')).toBe('2026-12-01T00:00:00.000Z');
    // After the overrides, ana's shift began where they ended.
    expect(since(covered, '2026-12-04T10:00:00Z')).toBe('2026-12-03T00:00:00.000Z');
    // The 8-week reference schedule: on a weekday evening the rotation resumed at 17:00 local.
    expect(since(schedule('Europe/Berlin'), '2026-03-31T18:00:00Z')).toBe('2026-03-31T15:00:00.000Z');
    expect(since(schedule('Europe/Berlin'), '2026-03-02T07:59:00Z')).toBeUndefined(); // 08:59 CET, before any layer starts
  });
});
