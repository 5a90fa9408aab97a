import { formatDiagnostic } from '../../config/diagnostic.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT } from '../io.js';
import { openStack, withPositionalFile } from '../workspace.js';

export const validateCommand = defineCommand({
  name: 'validate',
  args: ['FILE'],
  summary: 'Check the stack file and report every problem at once',
  usage: 'validate [FILE | -f FILE] [--var NAME=VALUE]... [--json]',
  flags: STACK_FLAGS,
  async run(flags, pos, io) {
    const opened = await openStack(io, withPositionalFile(flags, pos));
    const errors = opened.diagnostics.filter((d) => d.severity === 'error');
    if (flags.json) {
      io.stdout(
        `${JSON.stringify({ valid: errors.length === 0, file: opened.loaded.file, resources: opened.model?.resources.length ?? 0, diagnostics: opened.diagnostics }, null, 2)}\n`,
      );
    } else if (opened.diagnostics.length) {
      io.stderr(
        `${opened.diagnostics.map(formatDiagnostic).join('\n\n')}\n\n${errors.length} error${errors.length === 1 ? '' : 's'} in ${opened.loaded.file}.\n`,
      );
    } else {
      io.stdout(`${opened.loaded.file} is valid: ${opened.model?.resources.length ?? 0} resources.\n`);
    }
    return errors.length ? EXIT.failed : EXIT.ok;
  },
});
