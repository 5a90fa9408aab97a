/**
 * On call: who is on call now in each schedule and who takes over when; a calendar of the next
 * weeks (days × schedules; a list per day on a narrow screen); and the overrides. From GET
 * /v1/oncall, which answers the shifts from now to `days` ahead, already merged with overrides.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Oncall, OncallOverride, OncallSchedule, OncallShift } from '../api-types.js';
import { Table, type Column } from '../table.js';
import { useApi } from '../use-api.js';

const DAY_MS = 86_400_000;
const RANGES = [14, 28] as const;
type Range = (typeof RANGES)[number];

const when = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});
const dayName = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** The local calendar day of a time, as YYYY-MM-DD (the calendar's rows, and what tests ask for). */
export function dayKey(t: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}`;
}

/** Local midnights from the day of `from` for `days` days. */
export function daysFrom(from: Date, days: number): Date[] {
  const out: Date[] = [];
  for (let i = 0; i < days; i++) out.push(new Date(from.getFullYear(), from.getMonth(), from.getDate() + i));
  return out;
}

/** The shifts that overlap [start, end), in order. */
export function shiftsIn(shifts: readonly OncallShift[], start: number, end: number): OncallShift[] {
  return shifts.filter((s) => Date.parse(s.from) < end && Date.parse(s.to) > start);
}

/** Who takes over after the shift under way at `at`, and when (undefined: nobody within the answer's range). */
export function nextHandoff(s: OncallSchedule, at: number): { who: string; from: string } | undefined {
  const current = s.now?.who;
  const next = s.shifts.find((x) => Date.parse(x.from) > at && x.who !== current);
  return next ? { who: next.who, from: next.from } : undefined;
}

function Who(p: { who: string; source: string }): JSX.Element {
  return (
    <>
      <strong>{p.who}</strong>
      {p.source === 'override' ? <span class="badge degraded">override</span> : null}
    </>
  );
}

function nowColumns(at: number): Column<OncallSchedule>[] {
  return [
    { head: 'Schedule', cell: (s) => s.name },
    { head: 'On call now', cell: (s) => (s.now ? <Who who={s.now.who} source={s.now.source} /> : 'nobody') },
    {
      head: 'Next',
      cell: (s) => {
        const n = nextHandoff(s, at);
        return n ? (
          <>
            {n.who}{' '}
            <span class="muted small">
              from <time dateTime={n.from}>{when.format(new Date(n.from))}</time>
            </span>
          </>
        ) : (
          <span class="muted">—</span>
        );
      },
    },
    { head: 'Time zone', cell: (s) => s.timezone, wide: true },
    {
      head: 'Calendar',
      // The API's file, read with the session cookie: 90 days, as `groundwork oncall ics`.
      cell: (s) => (
        <a
          href={`/v1/oncall/${encodeURIComponent(s.name)}/ics?days=90`}
          download={`${s.name}.ics`}
          data-testid="ics"
          aria-label={`${s.name} as an iCalendar file, 90 days`}
        >
          .ics
        </a>
      ),
    },
  ];
}

/** One calendar cell: the person on call that day, or each person with the hour they start or stop. */
function DayCell(p: { shifts: OncallShift[]; start: number; end: number }): JSX.Element {
  if (p.shifts.length === 0) return <span class="muted">nobody</span>;
  return (
    <ul class="shifts">
      {p.shifts.map((s) => {
        const from = Date.parse(s.from);
        const to = Date.parse(s.to);
        const note =
          from > p.start && to < p.end
            ? `${clock.format(from)}–${clock.format(to)}`
            : from > p.start
              ? `from ${clock.format(from)}`
              : to < p.end
                ? `until ${clock.format(to)}`
                : '';
        return (
          <li key={s.from} class={s.source === 'override' ? 'override' : undefined} data-who={s.who}>
            <Who who={s.who} source={s.source} />
            {note ? <span class="muted small"> {note}</span> : null}
          </li>
        );
      })}
    </ul>
  );
}

function Calendar(p: { data: Oncall; days: number }): JSX.Element {
  const at = new Date(p.data.at);
  const days = daysFrom(at, p.days);
  return (
    <table class="calendar" aria-labelledby="calendar-h">
      <thead>
        <tr>
          <th scope="col">Day</th>
          {p.data.schedules.map((s) => (
            <th key={s.name} scope="col">
              {s.name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {days.map((d) => {
          const start = Math.max(d.getTime(), at.getTime());
          const end = d.getTime() + DAY_MS;
          const key = dayKey(d);
          return (
            <tr key={key} data-day={key} class={d.getDay() === 0 || d.getDay() === 6 ? 'weekend' : undefined}>
              <th scope="row">{dayName.format(d)}</th>
              {p.data.schedules.map((s) => (
                <td key={s.name} data-schedule={s.name} data-label={s.name}>
                  <DayCell shifts={shiftsIn(s.shifts, start, end)} start={start} end={end} />
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const OVERRIDE_COLUMNS: Column<OncallOverride>[] = [
  { head: 'Schedule', cell: (o) => o.schedule },
  { head: 'Who', cell: (o) => o.who },
  { head: 'From', cell: (o) => when.format(new Date(o.from)) },
  { head: 'To', cell: (o) => when.format(new Date(o.to)) },
  {
    head: 'Why',
    cell: (o) => (
      <>
        {o.reason || '—'} <span class="muted small">({o.author})</span>
      </>
    ),
    wide: true,
  },
];

export function OncallPage(): JSX.Element {
  const [range, setRange] = useState<Range>(14);
  // One more day than shown: the last row's day runs past `days` × 24 h from now.
  const oncall = useApi<Oncall>(`/v1/oncall?days=${range + 1}`, { every: 60_000 });
  const data = oncall.data;
  const at = data ? Date.parse(data.at) : Date.now();
  const now = Date.now();
  return (
    <main id="main">
      <h1>On call</h1>
      {oncall.error ? (
        <p class="error" role="alert">
          {oncall.error}
        </p>
      ) : null}
      {data && data.schedules.length === 0 ? (
        <p class="muted">No on-call schedules in this stack (the stack file's oncall: schedules).</p>
      ) : null}
      <section aria-labelledby="now-h" hidden={data?.schedules.length === 0}>
        <h2 id="now-h">Now</h2>
        <Table
          class="oncall-now"
          rows={data?.schedules}
          columns={nowColumns(at)}
          rowKey={(s) => s.name}
          rowAttrs={(s) => ({ 'data-schedule': s.name })}
          labelledBy="now-h"
        />
      </section>
      {data && data.schedules.length > 0 ? (
        <section aria-labelledby="calendar-h">
          <h2 id="calendar-h">Next {range / 7} weeks</h2>
          <div class="actions" role="group" aria-label="Weeks shown">
            {RANGES.map((r) => (
              <button key={r} type="button" aria-pressed={range === r} onClick={() => setRange(r)}>
                {r / 7} weeks
              </button>
            ))}
            <span class="muted small">times in your time zone; as of {clock.format(now)}</span>
          </div>
          <Calendar data={data} days={range} />
        </section>
      ) : null}
      <section aria-labelledby="overrides-h">
        <h2 id="overrides-h">Overrides</h2>
        <Table
          rows={data?.overrides}
          columns={OVERRIDE_COLUMNS}
          rowKey={(o) => o.id}
          empty="No overrides: the rotations decide."
          labelledBy="overrides-h"
        />
      </section>
    </main>
  );
}
