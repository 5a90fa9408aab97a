import { matchesLogFilter, parseLogFilter } from '../../observe/log-filter.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError } from '../io.js';
import { openOps } from '../open-ops.js';

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const logsCommand = defineCommand({
  name: 'logs',
  args: ['[SERVICE]'],
  summary: 'Show (and follow) the logs of services, filtered by time, text and JSON fields',
  usage:
    'logs [SERVICE | --service a,b] [-F] [--since 10m] [--until 5m] [--grep TEXT|/REGEX/] [--where FIELD=VALUE]... [--instance N] [--lines N]',
  flags: {
    ...STACK_FLAGS,
    follow: { type: 'boolean', short: 'F', description: 'Keep streaming new lines' },
    since: {
      type: 'string',
      description: 'Only lines written since (a duration like 10m, or a timestamp)',
      valueName: 'WHEN',
    },
    until: {
      type: 'string',
      description: 'Only lines written before (a duration back like 5m, or a timestamp)',
      valueName: 'WHEN',
    },
    service: { type: 'string', description: 'Services to read, comma-separated', valueName: 'A,B' },
    grep: {
      type: 'string',
      short: 'g',
      description: 'Only lines containing TEXT, or matching /REGEX/ (flags after the slash: /err/i)',
      valueName: 'TEXT',
    },
    where: {
      type: 'list',
      short: 'w',
      description:
        'Only JSON lines whose FIELD (dotted for nested) =, != or =~ (regex) VALUE; repeatable, all must hold',
      valueName: 'FIELD=VALUE',
    },
    instance: { type: 'number', description: 'Only this instance', valueName: 'N' },
    lines: { type: 'number', short: 'n', description: 'Last N lines (default 200)', valueName: 'N' },
  },
  async run(flags, pos, io) {
    const listed = (flags.service ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (pos[0] !== undefined && listed.length > 0)
      throw new UserError(
        `name the services either as an argument (${pos[0]}) or with --service (${flags.service}), not both`,
        EXIT.usage,
      );
    const services = pos[0] !== undefined ? [pos[0]] : listed;
    if (services.length === 0)
      throw new UserError(
        '`groundwork logs` needs a service name, e.g. `groundwork logs web` or `groundwork logs --service web,api`',
        EXIT.usage,
      );
    const bad = services.filter((s) => !SERVICE_NAME.test(s));
    if (bad.length > 0)
      throw new UserError(
        // Echoed only when it looks like a mistyped name: a pasted value (a token, an old secret
        // the redactor no longer knows) is not repeated back into terminals and logs.
        `${bad.map((b) => (/^[A-Za-z0-9_.-]{1,63}$/.test(b) ? `\`${b}\`` : 'an argument')).join(', ')} is not a service name (lowercase letters, digits and dashes); name services as an argument or with --service a,b`,
        EXIT.usage,
      );
    if (flags.follow && flags.until !== undefined)
      throw new UserError('--until and --follow contradict each other: leave one of them out', EXIT.usage);
    const filter = parseLogFilter(flags.grep, flags.where ?? []);
    if ('problems' in filter) throw new UserError(filter.problems.join('\n'), EXIT.usage);
    const filtering = filter.grep !== undefined || filter.where.length > 0;
    const { ops, close } = openOps(io, flags);
    try {
      // Services are read side by side, so a follow of several streams them all.
      await Promise.all(
        [...new Set(services)].map((service) => {
          // Lines may arrive in chunks that end mid-line: keep the partial one for the next chunk.
          let partial = '';
          const emit = (line: string): void => {
            if (filtering && !matchesLogFilter(filter, line)) return;
            if (flags.json) io.stdout(`${JSON.stringify({ service, line })}\n`);
            else io.stdout(`${services.length > 1 ? `[${service}] ` : ''}${line}\n`);
          };
          return ops
            .logs(
              service,
              {
                ...(flags.instance !== undefined ? { instance: flags.instance } : {}),
                ...(flags.lines !== undefined ? { lines: flags.lines } : {}),
                ...(flags.since ? { since: flags.since } : {}),
                ...(flags.until ? { until: flags.until } : {}),
                follow: flags.follow === true,
              },
              (text) => {
                const parts = (partial + text).split('\n');
                partial = parts.pop() ?? '';
                for (const l of parts) emit(l);
              },
            )
            .then(() => {
              if (partial !== '') emit(partial);
            });
        }),
      );
    } finally {
      await close();
    }
    return EXIT.ok;
  },
});
