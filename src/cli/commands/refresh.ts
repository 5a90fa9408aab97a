import type { DriftReport } from '../../engine/refresh.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT } from '../io.js';
import { openOps } from '../open-ops.js';
import { colourEnabled, makeStyle, type Style } from '../style.js';
import { authorOf, requireModel } from '../workspace.js';

export function renderDrift(reports: DriftReport[], style: Style): string {
  const drifted = reports.filter((r) => r.status !== 'in-sync');
  if (drifted.length === 0)
    return `${style.green('No drift.')} ${reports.length} resource${reports.length === 1 ? '' : 's'} match what was applied.\n`;
  const lines = ['Drift found (the world differs from what was applied):', ''];
  for (const r of drifted) {
    const mark =
      r.status === 'gone' ? style.red('gone') : r.status === 'error' ? style.red('error') : style.yellow('changed');
    lines.push(`  ${r.address}: ${mark}`);
    for (const d of r.drift) lines.push(`      ${d}`);
  }
  lines.push(
    '',
    `${drifted.length} of ${reports.length} resources drifted. Run \`groundwork plan\` to see what apply would do about it.`,
    '',
  );
  return lines.join('\n');
}

export const refreshCommand = defineCommand({
  name: 'refresh',
  summary: 'Read the world, record what it looks like and report drift (does not change anything running)',
  usage: 'refresh [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    await requireModel(io, flags);
    const { ops, close } = openOps(io, flags);
    try {
      const r = await ops.refresh({ author: authorOf(io.env) });
      if (flags.json) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      else io.stdout(renderDrift(r.reports, makeStyle(colourEnabled(io.env, io.isTty))));
      return r.reports.some((x) => x.status === 'error') ? EXIT.failed : EXIT.ok;
    } finally {
      await close();
    }
  },
});
