/** A small, strict flag parser: unknown flags are errors with a did-you-mean. */
import { didYouMean } from '../util/did-you-mean.js';
import { UsageError } from './io.js';

export type FlagType = 'boolean' | 'string' | 'number' | 'list';
export interface FlagSpec {
  type: FlagType;
  short?: string;
  description: string;
  valueName?: string;
}
export type FlagSpecs = Record<string, FlagSpec>;

export type ParsedFlags<S extends FlagSpecs> = {
  [K in keyof S]: S[K]['type'] extends 'boolean'
    ? boolean
    : S[K]['type'] extends 'number'
      ? number | undefined
      : S[K]['type'] extends 'list'
        ? string[]
        : string | undefined;
};

export function parseArgs<S extends FlagSpecs>(
  argv: string[],
  specs: S,
  command: string,
): { flags: ParsedFlags<S>; positionals: string[] } {
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(specs))
    flags[k] = s.type === 'boolean' ? false : s.type === 'list' ? [] : undefined;
  const positionals: string[] = [];
  const byShort = new Map(
    Object.entries(specs)
      .filter(([, s]) => s.short)
      .map(([k, s]) => [s.short as string, k]),
  );
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      inline = eq === -1 ? undefined : a.slice(eq + 1);
    } else {
      const key = byShort.get(a.slice(1));
      if (!key)
        throw new UsageError(`unknown flag ${a} for \`groundwork ${command}\`; run \`groundwork ${command} --help\``);
      name = key;
    }
    const spec = specs[name];
    if (!spec) {
      const guess = didYouMean(name, Object.keys(specs));
      throw new UsageError(
        `unknown flag --${name} for \`groundwork ${command}\`${guess ? `; did you mean --${guess}?` : `; run \`groundwork ${command} --help\``}`,
      );
    }
    if (spec.type === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline))
        throw new UsageError(`--${name} takes no value (or =true/=false), found "${inline}"`);
      flags[name] = inline === undefined ? true : inline === 'true';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined)
      throw new UsageError(`--${name} needs a value${spec.valueName ? ` (${spec.valueName})` : ''}`);
    if (spec.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || value.trim() === '')
        throw new UsageError(`--${name} needs a number, found "${value}"`);
      flags[name] = n;
    } else if (spec.type === 'list') {
      (flags[name] as string[]).push(value);
    } else flags[name] = value;
  }
  return { flags: flags as ParsedFlags<S>, positionals };
}

export function helpText(command: string, summary: string, usage: string, specs: FlagSpecs): string {
  const lines = [`groundwork ${command} - ${summary}`, '', `Usage: groundwork ${usage}`, '', 'Flags:'];
  for (const [k, s] of Object.entries(specs)) {
    const left = `  ${s.short ? `-${s.short}, ` : '    '}--${k}${s.type === 'boolean' ? '' : ` ${s.valueName ?? 'VALUE'}`}`;
    lines.push(`${left.padEnd(34)}${s.description}`);
  }
  return `${lines.join('\n')}\n`;
}
