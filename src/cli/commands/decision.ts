/** `groundwork decision new|list`: numbered decision records under docs/decisions/ (change/decisions.ts). */
import { listDecisions, newDecision } from '../../change/decisions.js';
import { errorMessage } from '../../util/error-message.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UsageError, UserError } from '../io.js';
import path from 'node:path';
import { authorOf, stackFileOf, type StackFlags } from '../workspace.js';
import type { CliIo } from '../io.js';
import { commandGroup } from './change.js';

/** Decisions live beside the stack file, in its repository. */
function stackDirOf(io: CliIo, flags: StackFlags): string {
  return path.dirname(stackFileOf(io, flags));
}

const newCommand = defineCommand({
  name: 'decision new',
  args: ['TITLE'],
  summary: 'Write the next numbered decision record (context, decision, consequences)',
  usage: 'decision new "TITLE" [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, pos, io) {
    const title = pos[0];
    if (!title?.trim())
      throw new UsageError('`groundwork decision new` needs a title, e.g. `groundwork decision new "Use PostgreSQL"`');
    const dir = stackDirOf(io, flags);
    let d;
    try {
      d = newDecision(dir, title, new Date(), authorOf(io.env));
    } catch (e) {
      throw new UserError(`cannot write the decision record under ${dir}/docs/decisions: ${errorMessage(e)}`);
    }
    if (flags.json) io.stdout(`${JSON.stringify(d, null, 2)}\n`);
    else
      io.stdout(
        `Wrote decision #${d.number}: ${d.file}\nFill in its context, decision and consequences; changes name it with --decision ${d.number}.\n`,
      );
    return EXIT.ok;
  },
});

const listCommand = defineCommand({
  name: 'decision list',
  summary: 'The decision records, oldest first',
  usage: 'decision list [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    const list = listDecisions(stackDirOf(io, flags));
    if (flags.json) {
      io.stdout(`${JSON.stringify(list, null, 2)}\n`);
      return EXIT.ok;
    }
    if (!list.length) {
      io.stdout('No decision records yet. Write one with `groundwork decision new "Title"`.\n');
      return EXIT.ok;
    }
    for (const d of list)
      io.stdout(`${String(d.number).padStart(4, '0')}  ${d.status.padEnd(12)} ${d.title}  (${d.file})\n`);
    return EXIT.ok;
  },
});

export const decisionCommand = commandGroup(
  'decision',
  'Decision records under docs/decisions/: new, list',
  [newCommand, listCommand],
  ['Architecture decision records, numbered; changes name those they implement with --decision N.'],
);
