/**
 * Maintenance windows: times when matching alerts are shown as "in maintenance" and not sent.
 * A window is either one stretch of time or a weekly recurrence in a time zone
 * (`mon-fri 02:00-04:00 Europe/Berlin`), evaluated with Intl so daylight saving is right.
 */
import type { LabelMatcher } from '../store/store.js';
import { matches } from './matchers.js';

export type TimeWindow =
  | { kind: 'once'; start: Date; end: Date }
  | {
      kind: 'weekly';
      /** 0 = Sunday ... 6 = Saturday. */
      days: number[];
      /** Minutes after local midnight; `to` may be smaller than `from` (a window over midnight). */
      fromMinute: number;
      toMinute: number;
      timeZone: string;
    };

export interface MaintenanceWindow {
  name: string;
  matchers: LabelMatcher[];
  windows: TimeWindow[];
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Local weekday and minute of the day of `at` in `timeZone`. */
function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return { day: WEEKDAYS.indexOf(get('weekday')), minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

export function windowActive(w: TimeWindow, at: Date): boolean {
  if (w.kind === 'once') return at >= w.start && at < w.end;
  const { day, minute } = localTime(at, w.timeZone);
  if (w.fromMinute <= w.toMinute) return w.days.includes(day) && minute >= w.fromMinute && minute < w.toMinute;
  // Over midnight: the evening part belongs to the listed day, the morning part to the day after.
  if (minute >= w.fromMinute) return w.days.includes(day);
  if (minute < w.toMinute) return w.days.includes((day + 6) % 7);
  return false;
}

/** The name of the first window that covers these labels now, if any. */
export function activeMaintenance(
  windows: readonly MaintenanceWindow[],
  labels: Record<string, string>,
  at: Date,
): string | undefined {
  for (const m of windows) {
    if (matches(labels, m.matchers) && m.windows.some((w) => windowActive(w, at))) return m.name;
  }
  return undefined;
}
