import { parseArgs, helpText, type FlagSpecs, type ParsedFlags } from './args.js';
import { UsageError, type CliIo } from './io.js';

export interface Command {
  name: string;
  summary: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

/** Flags every stack command accepts. */
export const STACK_FLAGS = {
  file: {
    type: 'string',
    short: 'f',
    description: 'Stack file or directory (default: current directory)',
    valueName: 'PATH',
  },
  var: { type: 'list', description: 'Set a variable (repeatable)', valueName: 'NAME=VALUE' },
  'state-dir': {
    type: 'string',
    description: 'Where state lives (default: .groundwork next to the stack file)',
    valueName: 'DIR',
  },
  json: { type: 'boolean', description: 'Machine-readable output' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
} as const satisfies FlagSpecs;

export function defineCommand<S extends FlagSpecs>(def: {
  name: string;
  summary: string;
  usage: string;
  flags: S;
  /** Names of the positional arguments it takes, in order (none by default): more is a usage error. */
  args?: readonly string[];
  run: (flags: ParsedFlags<S>, positionals: string[], io: CliIo) => Promise<number>;
}): Command {
  return {
    name: def.name,
    summary: def.summary,
    async run(argv, io) {
      const { flags, positionals } = parseArgs(argv, def.flags, def.name);
      if ((flags as Record<string, unknown>).help === true) {
        io.stdout(helpText(def.name, def.summary, def.usage, def.flags));
        return 0;
      }
      // A stray argument is never ignored: `restart a b` would restart only a.
      const allowed = def.args ?? [];
      // A last name ending in `...` takes the rest (exec's command and its arguments).
      if (positionals.length > allowed.length && !allowed.at(-1)?.endsWith('...')) {
        const extra = positionals
          .slice(allowed.length)
          .map((a) => `\`${a}\``)
          .join(', ');
        throw new UsageError(
          allowed.length === 0
            ? `${def.name} takes no arguments (found ${extra}); usage: groundwork ${def.usage}`
            : `unexpected argument${positionals.length - allowed.length === 1 ? '' : 's'} ${extra}: ${def.name} takes ${allowed.join(' ')}; usage: groundwork ${def.usage}`,
        );
      }
      return def.run(flags, positionals, io);
    },
  };
}
