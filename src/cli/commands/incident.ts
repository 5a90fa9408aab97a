/**
 * `groundwork incident ...`: the incidents alerts opened (with their timelines), the on-call's
 * actions on them and postmortem drafts. `groundwork oncall ...` is in ./oncall.ts.
 */
import { writeFileSync } from 'node:fs';
import type { IncidentActionName } from '../../core/incidents-view.js';
import type { Operations } from '../../core/operations.js';
import { ESCALATION_STOPPED, lastEscalationEvent } from '../../incidents/incidents.js';
import { INCIDENT_STATUSES, type IncidentRow } from '../../store/store.js';
import { didYouMean } from '../../util/did-you-mean.js';
import { defineCommand, STACK_FLAGS, type Command } from '../command.js';
import { EXIT, UsageError, type CliIo } from '../io.js';
import { withOps as withSharedOps } from '../open-ops.js';
import type { StackFlags } from '../workspace.js';
import { colourEnabled, makeStyle } from '../style.js';
import { ago } from './checks.js';

/** Incidents and on-call read the state directory of another stack's folder too. */
export const withOps = <T>(io: CliIo, flags: StackFlags, fn: (ops: Operations) => Promise<T>): Promise<T> =>
  withSharedOps(io, flags, fn, { otherStack: 'local' });

function idOf(cmd: string, raw: string | undefined): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || id <= 0)
    throw new UsageError(`${cmd} needs an incident number (see \`groundwork incident list\`), got '${raw ?? ''}'`);
  return id;
}

export const who = (io: CliIo): string => io.env.USER ?? 'cli';

function incidentLine(i: IncidentRow, now: number): string {
  const status = i.status === 'acknowledged' ? `acked by ${i.ackedBy ?? '?'}` : i.status;
  return `${`#${i.id}`.padEnd(6)}${status.padEnd(22)}${ago(i.createdAt, now).padEnd(7)}${i.severity.padEnd(10)}${(i.service ?? '-').padEnd(14)}${i.title}`;
}

const incidentList = defineCommand({
  name: 'incident list',
  summary: 'Incidents, newest first: status, age, severity, service, title',
  usage: 'incident list [--status triggered|acknowledged|resolved] [--limit N] [-f FILE] [--json]',
  flags: {
    ...STACK_FLAGS,
    status: { type: 'string', description: 'Only incidents in this state', valueName: 'STATUS' },
    limit: { type: 'number', description: 'At most N (default 50)', valueName: 'N' },
  },
  async run(flags, _pos, io) {
    const status = INCIDENT_STATUSES.find((s) => s === flags.status);
    if (flags.status !== undefined && !status)
      throw new UsageError(`--status must be one of ${INCIDENT_STATUSES.join(', ')}, not '${flags.status}'`);
    const list = await withOps(io, flags, (ops) =>
      ops.incidents({ ...(status ? { status } : {}), limit: flags.limit ?? 50 }),
    );
    if (flags.json) io.stdout(`${JSON.stringify({ incidents: list }, null, 2)}\n`);
    else if (list.length === 0) io.stdout('No incidents.\n');
    else {
      const now = Date.now();
      io.stdout(
        `${'ID'.padEnd(6)}${'STATUS'.padEnd(22)}${'AGE'.padEnd(7)}${'SEVERITY'.padEnd(10)}${'SERVICE'.padEnd(14)}TITLE\n${list.map((i) => incidentLine(i, now)).join('\n')}\n`,
      );
    }
    return EXIT.ok;
  },
});

const incidentShow = defineCommand({
  name: 'incident show',
  summary: 'An incident with its timeline: alerts, pages, escalations, acknowledgement, notes, changes',
  usage: 'incident show ID [-f FILE] [--json]',
  flags: STACK_FLAGS,
  args: ['ID'],
  async run(flags, pos, io) {
    const id = idOf('incident show', pos[0]);
    const d = await withOps(io, flags, (ops) => ops.incident(id));
    if (flags.json) {
      io.stdout(`${JSON.stringify(d, null, 2)}\n`);
      return EXIT.ok;
    }
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const i = d.incident;
    const lines = [
      style.bold(`incident #${i.id}: ${i.title}`),
      `status:   ${i.status}${i.ackedBy ? ` (acknowledged by ${i.ackedBy} at ${i.ackedAt})` : ''}${i.resolvedBy ? ` (resolved by ${i.resolvedBy} at ${i.resolvedAt})` : ''}`,
      `service:  ${i.service ?? '-'}    severity: ${i.severity}    policy: ${i.policy ?? '-'} (step ${i.step + 1}${i.loop ? `, round ${i.loop + 1}` : ''})${i.assignee ? `    assigned to ${i.assignee}` : ''}`,
      // Which policy, and why: its alert rule's, its service's or the default (who will be paged next).
      ...(d.policyReason ? [`          ${d.policyReason}`] : []),
      // An open incident whose policy went away says why nobody more is paged, next to its status.
      ...(i.status === 'triggered' && lastEscalationEvent(d.timeline) === ESCALATION_STOPPED
        ? [style.bold(d.timeline.filter((e) => e.kind === ESCALATION_STOPPED).at(-1)?.text ?? '')]
        : []),
      '',
      ...d.timeline.map((e) => `${e.at}  ${e.kind.padEnd(13)}${e.actor.padEnd(18)}${e.text}`),
    ];
    if (d.actionItems.length)
      lines.push(
        '',
        'action items:',
        ...d.actionItems.map((a) => `  [${a.done ? 'x' : ' '}] ${a.text} (${a.owner}${a.due ? `, due ${a.due}` : ''})`),
      );
    io.stdout(`${lines.join('\n')}\n`);
    return EXIT.ok;
  },
});

/** What a command that changes an incident prints: the JSON form and the sentence. */
interface Changed {
  json: unknown;
  text: string;
}

/**
 * The commands that change an incident (ack, resolve, note, assign, action items) differ only in
 * their arguments and in what they say, so each gives `change`: it checks the arguments (a
 * UsageError names what is missing) before anything opens, and returns the act; this runs it and
 * prints the result as JSON or as the sentence.
 */
function changed<F extends StackFlags>(
  change: (flags: F, pos: string[], io: CliIo) => (ops: Operations) => Promise<Changed>,
): (flags: F, pos: string[], io: CliIo) => Promise<number> {
  return async (flags, pos, io) => {
    const act = change(flags, pos, io);
    const out = await withOps(io, flags, act);
    io.stdout(flags.json ? `${JSON.stringify(out.json, null, 2)}\n` : `${out.text}\n`);
    return EXIT.ok;
  };
}

const MESSAGE = {
  type: 'string',
  short: 'm',
  description: 'The note (incident note only)',
  valueName: 'TEXT',
} as const;

/** ack, resolve, note and assign: one incident, one action, and what the person is told. */
const INCIDENT_ACTIONS: {
  action: IncidentActionName;
  summary: string;
  usage: string;
  /** The note or the person, read from -m or the second argument; undefined for ack and resolve. */
  text?: (message: string | undefined, pos: string[]) => string;
  said: (id: number, text: string) => string;
}[] = [
  {
    action: 'ack',
    summary: 'Acknowledge an incident: escalation stops, and pages not yet sent are cancelled',
    usage: 'incident ack ID',
    said: (id) => `incident #${id} acknowledged: escalation stopped`,
  },
  {
    action: 'resolve',
    summary: 'Resolve an incident: everyone paged is told',
    usage: 'incident resolve ID',
    said: (id) => `incident #${id} resolved: everyone paged is told`,
  },
  {
    action: 'note',
    summary: "Add a note to an incident's timeline (it goes into the postmortem)",
    usage: 'incident note ID -m TEXT',
    text: (message) => {
      if (!message?.trim()) throw new UsageError('incident note needs the text: -m "what you found or did"');
      return message;
    },
    said: (id) => `noted on incident #${id}`,
  },
  {
    action: 'assign',
    summary: 'Assign an incident to a person',
    usage: 'incident assign ID PERSON',
    text: (_message, pos) => {
      const person = pos[1];
      if (!person) throw new UsageError('incident assign needs the person, e.g. `groundwork incident assign 3 ana`');
      return person;
    },
    said: (id, person) => `incident #${id} assigned to ${person}`,
  },
];

const incidentActions = INCIDENT_ACTIONS.map((a) =>
  defineCommand({
    name: `incident ${a.action}`,
    summary: a.summary,
    usage: `${a.usage} [-f FILE] [--json]`,
    flags: { ...STACK_FLAGS, message: MESSAGE },
    args: a.action === 'assign' ? ['ID', 'PERSON'] : ['ID'],
    run: changed((flags, pos, io) => {
      // Only note takes -m: `incident ack 3 -m why` is a usage error, not a silently dropped note.
      if (a.action !== 'note' && flags.message !== undefined)
        throw new UsageError(
          `incident ${a.action} takes no -m; add a note with \`groundwork incident note ID -m TEXT\``,
        );
      const id = idOf(`incident ${a.action}`, pos[0]);
      const text = a.text?.(flags.message, pos);
      return async (ops) => {
        const incident = await ops.incidentAction(id, {
          action: a.action,
          by: who(io),
          ...(text !== undefined ? { text } : {}),
        });
        return { json: { incident }, text: a.said(id, text ?? '') };
      };
    }),
  }),
);

const incidentActionItem = defineCommand({
  name: 'incident action',
  summary: 'Action items: `action add ID -m TEXT --owner P [--due DATE]`, `action done ITEM`, `action undone ITEM`',
  usage: 'incident action add ID -m TEXT --owner PERSON [--due 2026-12-31] | incident action done|undone ITEM [--json]',
  flags: {
    ...STACK_FLAGS,
    message: { ...MESSAGE, description: 'What is to be done' },
    owner: { type: 'string', description: 'Who does it', valueName: 'PERSON' },
    due: { type: 'string', description: 'By when (a date)', valueName: 'DATE' },
  },
  args: ['add|done|undone', 'ID'],
  run: changed((flags, pos, io) => {
    const [verb, raw] = pos;
    if (verb === 'add') {
      const id = idOf('incident action add', raw);
      if (!flags.message?.trim() || !flags.owner?.trim())
        throw new UsageError(
          'incident action add needs -m TEXT and --owner PERSON, e.g. -m "alert on disk" --owner ana',
        );
      const input = {
        text: flags.message,
        owner: flags.owner,
        by: who(io),
        ...(flags.due !== undefined ? { due: flags.due } : {}),
      };
      return async (ops) => {
        const item = await ops.addActionItem(id, input);
        return { json: item, text: `action item #${item.id} on incident #${id}` };
      };
    }
    if (verb === 'done' || verb === 'undone') {
      const item = Number(raw);
      if (!Number.isInteger(item) || item <= 0)
        throw new UsageError(`incident action ${verb} needs an action item number, got '${raw ?? ''}'`);
      if (flags.message !== undefined || flags.owner !== undefined || flags.due !== undefined)
        throw new UsageError(`incident action ${verb} takes no -m, --owner or --due`);
      return async (ops) => ({
        json: await ops.setActionItemDone(item, verb === 'done', who(io)),
        text: `action item #${item} ${verb}`,
      });
    }
    throw new UsageError(
      'incident action needs add, done or undone, e.g. `groundwork incident action add 3 -m TEXT --owner ana`',
    );
  }),
});

const incidentPostmortem = defineCommand({
  name: 'incident postmortem',
  summary: 'A postmortem draft in Markdown: summary, impact window, time to acknowledge and resolve, changes, timeline',
  usage: 'incident postmortem ID [-o FILE] [-f FILE] [--json]',
  flags: {
    ...STACK_FLAGS,
    output: { type: 'string', short: 'o', description: 'Write it to this file', valueName: 'FILE' },
  },
  args: ['ID'],
  async run(flags, pos, io) {
    const id = idOf('incident postmortem', pos[0]);
    const markdown = await withOps(io, flags, (ops) => ops.postmortem(id));
    if (flags.output) writeFileSync(flags.output, markdown);
    if (flags.json) io.stdout(`${JSON.stringify({ markdown, ...(flags.output ? { file: flags.output } : {}) })}\n`);
    else io.stdout(flags.output ? `wrote ${flags.output}\n` : markdown);
    return EXIT.ok;
  },
});

const incidentStatsCmd = defineCommand({
  name: 'incident stats',
  summary: 'Mean time to acknowledge and to resolve, per service and month',
  usage: 'incident stats [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    const stats = await withOps(io, flags, (ops) => ops.incidentStats());
    if (flags.json) io.stdout(`${JSON.stringify({ stats }, null, 2)}\n`);
    else if (stats.length === 0) io.stdout('No incidents yet.\n');
    else {
      const dur = (s: number | null): string =>
        s === null
          ? '-'
          : s < 60
            ? `${Math.round(s)} s`
            : s < 7200
              ? `${Math.round(s / 60)} min`
              : `${(s / 3600).toFixed(1)} h`;
      io.stdout(
        `${'SERVICE'.padEnd(16)}${'MONTH'.padEnd(9)}${'INCIDENTS'.padEnd(11)}${'MTTA'.padEnd(10)}MTTR\n${stats
          .map(
            (r) =>
              `${r.service.padEnd(16)}${r.month.padEnd(9)}${String(r.incidents).padEnd(11)}${dur(r.mttaSeconds).padEnd(10)}${dur(r.mttrSeconds)}`,
          )
          .join('\n')}\n`,
      );
    }
    return EXIT.ok;
  },
});

/** A command made of subcommands (`incident list`, `oncall who`, ...). */
export function group(name: string, summary: string, subs: Command[]): Command {
  const names = subs.map((c) => c.name.slice(name.length + 1));
  return {
    name,
    summary,
    run(argv, io) {
      const [sub, ...rest] = argv;
      const c = subs.find((x) => x.name === `${name} ${sub}`);
      if (c) return c.run(rest, io);
      if (sub === '--help' || sub === '-h' || sub === undefined) {
        io.stdout(
          `groundwork ${name} - ${summary}\n\nUsage: groundwork ${name} ${names.join('|')} ... (each takes --help)\n\n` +
            `${subs.map((x) => `  ${x.name.padEnd(24)}${x.summary}`).join('\n')}\n`,
        );
        if (sub === undefined) throw new UsageError(`${name} needs a subcommand: ${names.join(', ')}`);
        return Promise.resolve(EXIT.ok);
      }
      const guess = didYouMean(sub, names);
      throw new UsageError(
        `unknown subcommand \`${name} ${sub}\`${guess ? `; did you mean \`${name} ${guess}\`?` : `; use one of ${names.join(', ')}`}`,
      );
    },
  };
}

export const incidentCommand = group(
  'incident',
  'Incidents: list, show, ack, resolve, note, assign, action, postmortem, stats',
  [incidentList, incidentShow, ...incidentActions, incidentActionItem, incidentPostmortem, incidentStatsCmd],
);
