/**
 * A schedule's shifts as an iCalendar file, from the operations' on-call view: what the dashboard's
 * download link (GET /v1/oncall/:schedule/ics) serves and what the CLI's `oncall ics` prints or
 * writes. One code path, so a calendar subscribed to either gets the same events and UIDs.
 */
import { shiftsToIcs } from '../incidents/ical.js';
import type { OncallQuery, OncallView } from './incidents-view.js';

export interface OncallIcsInput {
  schedule: string;
  /** Shifts from now (or `at`) for this many days, 1 to 366. */
  days: number;
  /** ISO instant, or a time in the schedule's zone (default now). */
  at?: string;
}

export async function oncallIcs(
  oncall: (q: OncallQuery) => Promise<OncallView>,
  input: OncallIcsInput,
): Promise<{ ics: string; shifts: number }> {
  const { schedule, days } = input;
  const v = await oncall({ schedule, days, ...(input.at ? { at: input.at } : {}) });
  const at = Date.parse(v.at);
  const view = v.schedules[0];
  // The shift under way at `at` is written from its real start (`nowSince`, worked out from the
  // layer's start and turn length however long ago), not cut at `at`: its UID (made from the
  // person and the start) is then the same in every export, so a subscribed calendar updates the
  // event instead of adding a copy each time.
  const shifts = (view?.shifts ?? []).map((x, i) => ({
    ...x,
    from: new Date(i === 0 && Date.parse(x.from) === at && view?.nowSince ? view.nowSince : x.from),
    to: new Date(x.to),
  }));
  return { ics: shiftsToIcs(schedule, shifts, new Date(at)), shifts: shifts.length };
}
