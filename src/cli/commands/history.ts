import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError } from '../io.js';
import { colourEnabled, makeStyle } from '../style.js';
import { openOps } from '../open-ops.js';

export const historyCommand = defineCommand({
  name: 'history',
  summary: 'List recorded changes, newest first',
  usage: 'history [-f FILE] [--limit N] [--json]',
  flags: { ...STACK_FLAGS, limit: { type: 'number', description: 'How many (default 20)', valueName: 'N' } },
  async run(flags, _pos, io) {
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      const changes = await ops.history(flags.limit ?? 20);
      if (flags.json) {
        io.stdout(`${JSON.stringify(changes, null, 2)}\n`);
        return EXIT.ok;
      }
      if (changes.length === 0) {
        io.stdout('No changes recorded yet. Run `groundwork apply` to make the first.\n');
        return EXIT.ok;
      }
      const style = makeStyle(colourEnabled(io.env, io.isTty));
      io.stdout(
        `${'#'.padEnd(6)}${'when'.padEnd(22)}${'kind'.padEnd(9)}${'outcome'.padEnd(13)}${'author'.padEnd(12)}message\n`,
      );
      for (const c of changes) {
        const outcome =
          c.outcome === 'applied' || c.outcome === 'no-op'
            ? style.green(c.outcome.padEnd(12))
            : style.red(c.outcome.padEnd(12));
        const notes = [
          ...(c.decisions.length ? [`decisions ${c.decisions.map((d) => `#${d}`).join(', ')}`] : []),
          ...(c.request !== null ? [`request #${c.request}`] : []),
          ...(c.breakGlass !== null ? [style.red(`break-glass: ${c.breakGlass}`)] : []),
        ];
        const sum = Object.entries(c.summary)
          .filter(([, n]) => n)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ');
        io.stdout(
          `${String(c.id).padEnd(6)}${c.startedAt.slice(0, 19).replace('T', ' ').padEnd(22)}${c.kind.padEnd(9)}${outcome} ${c.author.slice(0, 11).padEnd(12)}${c.message || style.dim('(no message)')}${sum ? style.dim(`  [${sum}]`) : ''}${notes.length ? `  (${notes.join('; ')})` : ''}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});

export const showCommand = defineCommand({
  name: 'show',
  args: ['CHANGE'],
  summary: 'Show one change with its steps',
  usage: 'show CHANGE [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, pos, io) {
    const id = Number(pos[0]);
    if (!pos[0] || !Number.isInteger(id))
      throw new UserError(
        '`groundwork show` needs a change number, e.g. `groundwork show 3` (see `groundwork history`)',
        EXIT.usage,
      );
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      const change = await ops.change(id);
      const steps = change.steps;
      if (flags.json) {
        io.stdout(`${JSON.stringify(change, null, 2)}\n`);
        return EXIT.ok;
      }
      io.stdout(
        [
          `change #${change.id} (${change.kind})`,
          `  author:   ${change.author}`,
          `  message:  ${change.message || '(none)'}`,
          `  outcome:  ${change.outcome}`,
          `  started:  ${change.startedAt}`,
          `  finished: ${change.finishedAt ?? '(not finished)'}`,
          `  serial:   ${change.serialBefore} -> ${change.serialAfter ?? '?'}`,
          `  plan:     ${change.planHash || '(none)'}`,
          `  request:  ${change.request === null ? '(none)' : `#${change.request}`}`,
          `  decisions: ${change.decisions.length ? change.decisions.map((d) => `#${d}`).join(', ') : '(none)'}`,
          ...(change.breakGlass !== null ? [`  break-glass: ${change.breakGlass}`] : []),
          '',
          'steps:',
          ...steps.map(
            (s) => `  ${s.status.padEnd(12)} ${s.action.padEnd(8)} ${s.address}${s.error ? `: ${s.error}` : ''}`,
          ),
          '',
        ].join('\n'),
      );
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});
