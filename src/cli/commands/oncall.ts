/**
 * `groundwork oncall ...`: who is on call when, as a table or an iCalendar file people subscribe
 * to, and overrides. The calendar is built by core (src/core/oncall-ics.ts), the same call the
 * daemon's GET /v1/oncall/:schedule/ics makes, so both give the same events and UIDs.
 */
import { writeFileSync } from 'node:fs';
import type { OncallView } from '../../core/incidents-view.js';
import { oncallIcs } from '../../core/oncall-ics.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UsageError } from '../io.js';
import { group, who, withOps } from './incident.js';

/**
 * A local time in the schedule's zone, e.g. `Mon 07/12 09:00`; with `year`, `Mon 07/12/2025 09:00`
 * (a shift under way can have begun in another year).
 */
function local(iso: string, zone: string, year = false): string {
  return new Date(iso)
    .toLocaleString('en-GB', {
      timeZone: zone,
      weekday: 'short',
      ...(year ? { year: 'numeric' } : {}),
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hour12: false,
    })
    .replaceAll(',', '');
}

/** Who is on call at the view's time, and since when (the shift's real start, which may be long before). */
function nowLine(v: OncallView, s: OncallView['schedules'][number]): string {
  if (!s.now) return '  now: nobody is on call';
  const yearOf = (iso: string) => new Date(iso).toLocaleString('en-GB', { timeZone: s.timezone, year: 'numeric' });
  const since = s.nowSince
    ? `, on call since ${local(s.nowSince, s.timezone, yearOf(s.nowSince) !== yearOf(v.at))}`
    : '';
  return `  now: ${s.now.who}${since} (${s.now.source})`;
}

function renderWho(v: OncallView): string {
  if (v.schedules.length === 0) return 'No schedules are applied (declare them under oncall.schedules).\n';
  const lines = [`${'SCHEDULE'.padEnd(16)}${'ON CALL'.padEnd(14)}${'UNTIL'.padEnd(22)}FROM`];
  for (const s of v.schedules) {
    const current = s.shifts[0] && s.now && s.shifts[0].who === s.now.who ? s.shifts[0] : undefined;
    const until = current ? `${local(current.to, s.timezone)}` : '-';
    lines.push(
      `${s.name.padEnd(16)}${(s.now?.who ?? 'nobody').padEnd(14)}${until.padEnd(22)}${s.now?.source ?? ''} (${s.timezone})`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function renderShifts(v: OncallView): string {
  const lines: string[] = [];
  for (const s of v.schedules) {
    lines.push(`${s.name} (${s.timezone}), ${v.at.slice(0, 16)}Z to ${v.until.slice(0, 16)}Z`);
    lines.push(nowLine(v, s));
    lines.push(`  ${'FROM'.padEnd(18)}${'TO'.padEnd(18)}${'WHO'.padEnd(14)}SOURCE`);
    for (const x of s.shifts)
      lines.push(
        `  ${local(x.from, s.timezone).padEnd(18)}${local(x.to, s.timezone).padEnd(18)}${x.who.padEnd(14)}${x.source}`,
      );
    if (s.shifts.length === 0) lines.push('  nobody is on call in this range');
  }
  if (v.overrides.length) {
    lines.push('', 'overrides:');
    for (const o of v.overrides)
      lines.push(`  #${o.id} ${o.schedule}: ${o.who} from ${o.from} to ${o.to}${o.reason ? ` (${o.reason})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

const TIME_FLAGS = {
  ...STACK_FLAGS,
  at: { type: 'string', description: 'From this time (ISO, default now)', valueName: 'TIME' },
} as const;

const oncallWho = defineCommand({
  name: 'oncall who',
  summary: 'Who is on call now (or --at a time) in each schedule, and until when',
  usage: 'oncall who [SCHEDULE] [--at TIME] [-f FILE] [--json]',
  flags: TIME_FLAGS,
  args: ['SCHEDULE'],
  async run(flags, pos, io) {
    const v = await withOps(io, flags, (ops) =>
      ops.oncall({ ...(flags.at ? { at: flags.at } : {}), ...(pos[0] ? { schedule: pos[0] } : {}), days: 7 }),
    );
    io.stdout(flags.json ? `${JSON.stringify(v, null, 2)}\n` : renderWho(v));
    return EXIT.ok;
  },
});

const oncallShow = defineCommand({
  name: 'oncall show',
  summary: 'The shifts of a schedule for the next days, in its time zone',
  usage: 'oncall show SCHEDULE [--days 14] [--at TIME] [-f FILE] [--json]',
  flags: { ...TIME_FLAGS, days: { type: 'number', description: 'How many days (default 14)', valueName: 'N' } },
  args: ['SCHEDULE'],
  async run(flags, pos, io) {
    const schedule = pos[0];
    if (!schedule) throw new UsageError('oncall show needs a schedule, e.g. `groundwork oncall show primary`');
    const v = await withOps(io, flags, (ops) =>
      ops.oncall({ schedule, days: flags.days ?? 14, ...(flags.at ? { at: flags.at } : {}) }),
    );
    io.stdout(flags.json ? `${JSON.stringify(v, null, 2)}\n` : renderShifts(v));
    return EXIT.ok;
  },
});

const oncallIcsCommand = defineCommand({
  name: 'oncall ics',
  summary: "A schedule's shifts as an iCalendar file (.ics) for people's calendars",
  usage: 'oncall ics SCHEDULE [--days 90] [-o FILE] [-f FILE] [--json]',
  flags: {
    ...TIME_FLAGS,
    days: { type: 'number', description: 'How many days (default 90)', valueName: 'N' },
    output: { type: 'string', short: 'o', description: 'Write it to this file', valueName: 'FILE' },
  },
  args: ['SCHEDULE'],
  async run(flags, pos, io) {
    const schedule = pos[0];
    if (!schedule)
      throw new UsageError('oncall ics needs a schedule, e.g. `groundwork oncall ics primary -o primary.ics`');
    const days = flags.days ?? 90;
    if (!Number.isInteger(days) || days < 1 || days > 366)
      throw new UsageError(`--days must be a whole number from 1 to 366, not ${days}`);
    const { ics, shifts } = await withOps(io, flags, (ops) =>
      oncallIcs((q) => ops.oncall(q), { schedule, days, ...(flags.at ? { at: flags.at } : {}) }),
    );
    if (flags.output) writeFileSync(flags.output, ics);
    if (flags.json)
      io.stdout(`${JSON.stringify({ schedule, shifts, ...(flags.output ? { file: flags.output } : { ics }) })}\n`);
    else io.stdout(flags.output ? `wrote ${flags.output}: ${shifts} shifts\n` : ics);
    return EXIT.ok;
  },
});

const oncallOverride = defineCommand({
  name: 'oncall override',
  summary: 'Someone covers a schedule for a while (`oncall override rm ID` removes it)',
  usage: 'oncall override SCHEDULE --who PERSON --from TIME --to TIME [-m REASON] | oncall override rm ID',
  flags: {
    ...STACK_FLAGS,
    who: { type: 'string', description: 'The person who covers', valueName: 'PERSON' },
    from: { type: 'string', description: 'Start (ISO time)', valueName: 'TIME' },
    to: { type: 'string', description: 'End (ISO time)', valueName: 'TIME' },
    message: { type: 'string', short: 'm', description: 'Why', valueName: 'REASON' },
  },
  args: ['SCHEDULE', 'ID'],
  async run(flags, pos, io) {
    if (pos[0] === 'rm') {
      if (flags.who !== undefined || flags.from !== undefined || flags.to !== undefined || flags.message !== undefined)
        throw new UsageError('oncall override rm takes only the override number');
      const id = Number(pos[1]);
      if (!Number.isInteger(id) || id <= 0)
        throw new UsageError(
          `oncall override rm needs an override number (see \`groundwork oncall show\`), got '${pos[1] ?? ''}'`,
        );
      await withOps(io, flags, (ops) => ops.removeOverride(id));
      io.stdout(flags.json ? `${JSON.stringify({ id, removed: true })}\n` : `override #${id} removed\n`);
      return EXIT.ok;
    }
    const schedule = pos[0];
    if (pos.length > 1) throw new UsageError(`oncall override takes one schedule; found ${pos.slice(1).join(' ')}`);
    if (!schedule || !flags.who || !flags.from || !flags.to)
      throw new UsageError(
        'oncall override needs a schedule, --who, --from and --to, e.g. `groundwork oncall override primary --who ben --from 2026-12-24T18:00+01:00 --to 2026-12-26T09:00+01:00`',
      );
    const input = {
      schedule,
      who: flags.who,
      from: flags.from,
      to: flags.to,
      author: who(io),
      ...(flags.message ? { reason: flags.message } : {}),
    };
    const o = await withOps(io, flags, (ops) => ops.addOverride(input));
    io.stdout(
      flags.json
        ? `${JSON.stringify(o, null, 2)}\n`
        : `override #${o.id}: ${o.who} covers ${o.schedule} from ${o.from} to ${o.to}\n`,
    );
    return EXIT.ok;
  },
});

export const oncallCommand = group('oncall', 'On call: who, show, ics, override', [
  oncallWho,
  oncallShow,
  oncallIcsCommand,
  oncallOverride,
]);
