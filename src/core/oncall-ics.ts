/**
 * A schedule's shifts as an iCalendar file, from the operations' on-call view: what the dashboard's
 * download link (GET /v1/oncall/:schedule/ics) serves. The same reading as the CLI's `oncall ics`
 * (src/cli/commands/incident.ts), which computes it inline today; the two should become one call.
 */
import { shiftsToIcs } from '../incidents/ical.js';
import type { OncallQuery, OncallView } from './incidents-view.js';

const DAY_MS = 86_400_000;

/**
 * How far back the shift under way is looked for, so it is written from its real start (its UID,
 * made from the person and the start, is then the same in every export and a re-import updates
 * the event instead of adding a copy). A longer shift starts at the look-back instead.
 */
const LOOKBACK_DAYS = 35;

export interface OncallIcsInput {
  schedule: string;
  /** Shifts from now (or `at`) for this many days, 1 to 366. */
  days: number;
  /** ISO instant (default now). */
  at?: string;
}

export async function oncallIcs(
  oncall: (q: OncallQuery) => Promise<OncallView>,
  input: OncallIcsInput,
): Promise<{ ics: string; shifts: number }> {
  const { schedule, days } = input;
  const asked = await oncall({ schedule, days: 1, ...(input.at ? { at: input.at } : {}) });
  const at = Date.parse(asked.at);
  const back = Math.min(LOOKBACK_DAYS, 366 - days);
  const wide = await oncall({ schedule, days: days + back, at: new Date(at - back * DAY_MS).toISOString() });
  const until = at + days * DAY_MS;
  const shifts = (wide.schedules[0]?.shifts ?? [])
    .filter((x) => Date.parse(x.to) > at && Date.parse(x.from) < until)
    .map((x) => ({ ...x, from: new Date(x.from), to: new Date(Math.min(Date.parse(x.to), until)) }));
  return { ics: shiftsToIcs(schedule, shifts, new Date(at)), shifts: shifts.length };
}
