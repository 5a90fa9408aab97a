/**
 * On-call schedules: who is on call at an instant, and the shifts over a range.
 *
 * A schedule has layers and overrides. Each layer rotates its members in turns of a day, a week
 * or a custom number of hours, handing off at a wall-clock time in the schedule's time zone, and
 * may be restricted to windows (weekdays 09:00–17:00). Later layers take precedence where they
 * have someone (PagerDuty's order: the bottom layer wins); an override beats every layer; where
 * no layer has anyone, nobody is on call (and escalation skips the step).
 *
 * All turn arithmetic is done on wall-clock time in the schedule's zone (Luxon), never on
 * elapsed milliseconds: a handoff at "Monday 09:00 Europe/Berlin" stays at 09:00 local across
 * daylight-saving changes, so no shift moves or disappears. A 12-hour turn over the spring change
 * is one hour shorter in elapsed time, like the night it covers.
 */
import { DateTime } from 'luxon';

export interface Restriction {
  /** ISO weekdays the window starts on (1 = Monday ... 7 = Sunday); all when empty. */
  days: number[];
  /** Local start and end, minutes after midnight; an end at or before the start crosses midnight. */
  fromMinute: number;
  toMinute: number;
}

export interface Layer {
  name: string;
  members: string[];
  /** Turn length in wall-clock hours: 24 daily, 168 weekly, or any positive whole number. */
  turnHours: number;
  /**
   * When the first member's first turn starts (a handoff), e.g. 2026-01-05T09:00: a local date-time
   * in the schedule's zone, or an instant with its offset (2026-01-05T09:00+01:00, ...Z), whose
   * wall time in the schedule's zone is then the handoff time of day.
   */
  start: string;
  restrictions: Restriction[];
}

export interface Override {
  who: string;
  /** ISO instants. */
  from: string;
  to: string;
  reason?: string;
}

export interface Schedule {
  name: string;
  timeZone: string;
  layers: Layer[];
  overrides: Override[];
}

export interface Shift {
  who: string;
  from: Date;
  to: Date;
  /** `layer primary`, `override`. */
  source: string;
}

export class ScheduleError extends Error {}

const HOUR = 3_600_000;

/** Wall-clock milliseconds: the local date and time read as if it were UTC. */
function wallMs(at: Date, zone: string): number {
  const d = DateTime.fromJSDate(at, { zone });
  return Date.UTC(d.year, d.month - 1, d.day, d.hour, d.minute, d.second, d.millisecond);
}

/**
 * The instant at which the wall clock in `zone` shows `wall` (read as UTC). In the spring gap
 * (a wall time that does not exist) Luxon moves forward, to the first instant after the gap; in
 * the autumn overlap it takes the first of the two instants.
 */
function instantOfWall(wall: number, zone: string): Date {
  const w = new Date(wall);
  const d = DateTime.fromObject(
    {
      year: w.getUTCFullYear(),
      month: w.getUTCMonth() + 1,
      day: w.getUTCDate(),
      hour: w.getUTCHours(),
      minute: w.getUTCMinutes(),
      second: w.getUTCSeconds(),
      millisecond: w.getUTCMilliseconds(),
    },
    { zone },
  );
  return d.toJSDate();
}

/** Whether an ISO date-time names its offset (`Z`, `+01:00`, `-0500`): then it is an instant. */
export function hasOffset(text: string): boolean {
  return /T.*(?:Z|[+-]\d\d(?::?\d\d)?)$/i.test(text.trim());
}

/**
 * The layer's start on the schedule's wall clock (read as UTC). Written without an offset it is
 * that wall time already. With one it is an instant, and what counts is the wall clock in the
 * schedule's zone at that instant: `2026-03-01T09:00+01:00` in Europe/Berlin hands off at 09:00
 * Berlin time all year (10:00 wall time would be `+00:00`), never at 09:00 UTC.
 */
function startWall(layer: Layer, zone: string): number {
  const d = hasOffset(layer.start)
    ? DateTime.fromISO(layer.start.trim(), { zone })
    : DateTime.fromISO(layer.start, { zone: 'utc' });
  if (!d.isValid)
    throw new ScheduleError(`layer ${layer.name}: start '${layer.start}' is not a date-time like 2026-01-05T09:00`);
  return Date.UTC(d.year, d.month - 1, d.day, d.hour, d.minute, d.second, d.millisecond);
}

/**
 * An ISO time as typed by a person (`--at 2026-12-24T18:00`, an override's `--from`): one without
 * an offset is read on the wall clock of `zone` (the schedule's), never the host's, so the same
 * command means the same instant on a laptop in Auckland and a server in UTC. One with an offset
 * or `Z` is that instant. undefined when it is not an ISO date or date-time.
 */
export function instantIn(text: string, zone: string): Date | undefined {
  const d = DateTime.fromISO(text.trim(), { zone });
  return d.isValid ? d.toJSDate() : undefined;
}

export function validateSchedule(s: Schedule): void {
  if (!DateTime.local().setZone(s.timeZone).isValid) {
    throw new ScheduleError(
      `schedule ${s.name}: unknown time zone '${s.timeZone}' (use an IANA name such as Europe/Berlin)`,
    );
  }
  for (const l of s.layers) {
    if (l.members.length === 0) throw new ScheduleError(`schedule ${s.name}, layer ${l.name}: no members`);
    if (!Number.isInteger(l.turnHours) || l.turnHours <= 0) {
      throw new ScheduleError(`schedule ${s.name}, layer ${l.name}: a turn must be a whole number of hours`);
    }
    startWall(l, s.timeZone);
  }
  for (const o of s.overrides) {
    if (!(Date.parse(o.from) < Date.parse(o.to))) {
      throw new ScheduleError(`schedule ${s.name}: override for ${o.who} must end after it starts`);
    }
  }
}

function inRestriction(r: Restriction, wall: number): boolean {
  const d = new Date(wall);
  const isoDay = ((d.getUTCDay() + 6) % 7) + 1;
  const minute = d.getUTCHours() * 60 + d.getUTCMinutes();
  const days = r.days.length ? r.days : [1, 2, 3, 4, 5, 6, 7];
  if (r.fromMinute < r.toMinute) return days.includes(isoDay) && minute >= r.fromMinute && minute < r.toMinute;
  if (minute >= r.fromMinute) return days.includes(isoDay);
  const yesterday = isoDay === 1 ? 7 : isoDay - 1;
  return minute < r.toMinute && days.includes(yesterday);
}

/** The layer's member at wall time `wall`, or undefined outside its restrictions or before its start. */
function layerMember(layer: Layer, zone: string, wall: number): string | undefined {
  const start = startWall(layer, zone);
  if (wall < start) return undefined;
  if (layer.restrictions.length > 0 && !layer.restrictions.some((r) => inRestriction(r, wall))) return undefined;
  const turn = Math.floor((wall - start) / (layer.turnHours * HOUR));
  return layer.members[turn % layer.members.length];
}

/** Who is on call at `at`, and why; undefined when nobody is. */
export function onCallAt(s: Schedule, at: Date): { who: string; source: string } | undefined {
  const t = at.getTime();
  for (let i = s.overrides.length - 1; i >= 0; i--) {
    const o = s.overrides[i] as Override;
    if (Date.parse(o.from) <= t && t < Date.parse(o.to)) return { who: o.who, source: 'override' };
  }
  const wall = wallMs(at, s.timeZone);
  for (let i = s.layers.length - 1; i >= 0; i--) {
    const layer = s.layers[i] as Layer;
    const who = layerMember(layer, s.timeZone, wall);
    if (who !== undefined) return { who, source: `layer ${layer.name}` };
  }
  return undefined;
}

/** Instants in [from, to) at which the answer of onCallAt may change. */
function boundaries(s: Schedule, from: Date, to: Date): number[] {
  const out = new Set<number>([from.getTime()]);
  const w0 = wallMs(from, s.timeZone) - 48 * HOUR;
  const w1 = wallMs(to, s.timeZone) + 48 * HOUR;
  for (const layer of s.layers) {
    const start = startWall(layer, s.timeZone);
    const len = layer.turnHours * HOUR;
    const first = Math.max(0, Math.floor((w0 - start) / len));
    for (let w = start + first * len; w <= w1; w += len) out.add(instantOfWall(w, s.timeZone).getTime());
    for (const r of layer.restrictions) {
      for (let day = Math.floor(w0 / (24 * HOUR)) * 24 * HOUR; day <= w1; day += 24 * HOUR) {
        out.add(instantOfWall(day + r.fromMinute * 60_000, s.timeZone).getTime());
        out.add(instantOfWall(day + r.toMinute * 60_000, s.timeZone).getTime());
      }
    }
  }
  for (const o of s.overrides) {
    out.add(Date.parse(o.from));
    out.add(Date.parse(o.to));
  }
  return [...out].filter((t) => t >= from.getTime() && t < to.getTime()).sort((a, b) => a - b);
}

/** The shifts that cover [from, to), merged where the same person continues from the same source. */
export function shiftsBetween(s: Schedule, from: Date, to: Date): Shift[] {
  const cuts = boundaries(s, from, to);
  const shifts: Shift[] = [];
  for (let i = 0; i < cuts.length; i++) {
    const a = cuts[i] as number;
    const b = i + 1 < cuts.length ? (cuts[i + 1] as number) : to.getTime();
    const who = onCallAt(s, new Date(a));
    if (!who) continue;
    const last = shifts.at(-1);
    if (last && last.who === who.who && last.source === who.source && last.to.getTime() === a) {
      last.to = new Date(b);
    } else {
      shifts.push({ who: who.who, source: who.source, from: new Date(a), to: new Date(b) });
    }
  }
  return shifts;
}

/**
 * When the shift under way at `at` began (as shiftsBetween would merge it), or undefined when
 * nobody is on call. Worked out from the layer's start and turn length, not by searching back a
 * fixed stretch, so a shift of any length (a six-week turn, one person always on call) has the
 * same start, and its calendar entry the same UID, in every export.
 */
export function shiftStartAt(s: Schedule, at: Date): Date | undefined {
  const now = onCallAt(s, at);
  if (!now) return undefined;
  const t = at.getTime();
  // An earliest instant the shift can have begun at: before it, the same person cannot have been
  // on call from the same source. The shifts from there up to `at` then say exactly where it began.
  let anchor: number;
  if (now.source === 'override') {
    const mine = s.overrides.filter((o) => o.who === now.who);
    anchor = t;
    // Back through this person's overrides that touch or overlap the one under way.
    for (let moved = true; moved;) {
      moved = false;
      for (const o of mine) {
        const from = Date.parse(o.from);
        if (from < anchor && Date.parse(o.to) >= anchor) {
          anchor = from;
          moved = true;
        }
      }
    }
  } else {
    const layer = s.layers.find((l) => `layer ${l.name}` === now.source) as Layer;
    const start = startWall(layer, s.timeZone);
    const len = layer.turnHours * HOUR;
    let turn = Math.floor((wallMs(at, s.timeZone) - start) / len);
    // Back over earlier turns of the same person: at most once round the members (all of them
    // the same person: since the layer's start).
    for (let i = 0; turn > 0 && i < layer.members.length; i++) {
      if (layer.members[(turn - 1) % layer.members.length] !== now.who) break;
      turn--;
    }
    if (turn > 0 && layer.members.every((m) => m === now.who)) turn = 0;
    anchor = instantOfWall(start + turn * len, s.timeZone).getTime();
  }
  if (anchor >= t) return at;
  return shiftsBetween(s, new Date(anchor), new Date(t + 1)).at(-1)?.from;
}
