/**
 * `groundwork logs` across services with --grep (text or /regex/) and --where on JSON fields, on
 * real process services writing real log files; bad flags are usage errors (exit 2) that say
 * what to write; --json keeps its `{service, line}` shape. The filter itself, unit by unit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesLogFilter, parseLogFilter, type LogFilter } from '../src/observe/log-filter.js';
import { runCli, runCliOk } from './helpers/cli.js';
import { teardownStack } from './helpers/lab.js';
import { writeStack } from './helpers/stack-file.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { waitFor } from './helpers/wait.js';

function filterOf(grep: string | undefined, where: string[] = []): LogFilter {
  const f = parseLogFilter(grep, where);
  if ('problems' in f) throw new Error(f.problems.join('\n'));
  return f;
}

describe('the log filter', () => {
  it('matches text, regexes with flags, and JSON fields (=, !=, =~, nested, numbers)', () => {
    const json = '{"level":"error","msg":"db timeout","req":{"status":500,"path":"/api"}}';
    expect(matchesLogFilter(filterOf('timeout'), json)).toBe(true);
    expect(matchesLogFilter(filterOf('TIMEOUT'), json)).toBe(false);
    expect(matchesLogFilter(filterOf('/TIME(OUT)?/i'), json)).toBe(true);
    expect(matchesLogFilter(filterOf(undefined, ['level=error']), json)).toBe(true);
    expect(matchesLogFilter(filterOf(undefined, ['level!=error']), json)).toBe(false);
    expect(matchesLogFilter(filterOf(undefined, ['req.status=500', 'req.path=~^/a']), json)).toBe(true);
    expect(matchesLogFilter(filterOf(undefined, ['req.status=404']), json)).toBe(false);
    expect(matchesLogFilter(filterOf(undefined, ['missing!=x']), json)).toBe(true);
    // A prefixed structured line still matches; plain text never matches a field condition.
    expect(matchesLogFilter(filterOf(undefined, ['level=error']), `[web/0] ${json}`)).toBe(true);
    expect(matchesLogFilter(filterOf(undefined, ['level=error']), 'level=error plain text')).toBe(false);
  });

  it('collects every problem, each saying what to write', () => {
    const f = parseLogFilter('/a(/', ['level', 'x=~(']);
    expect('problems' in f && f.problems).toEqual([
      expect.stringContaining('--grep /a(/: not a valid regular expression'),
      expect.stringContaining('--where "level": expected FIELD=VALUE'),
      expect.stringContaining('--where x=~(: "(" is not a valid regular expression'),
    ]);
  });
});

describe('groundwork logs --grep/--where across services', () => {
  const dir = makeTempDir('logs-search');
  // Each service writes a few structured lines and a plain one, then idles.
  const writer = (name: string) =>
    `node -e "for (const [l, m] of [['info', 'started'], ['error', 'db timeout'], ['info', 'ready']]) console.log(JSON.stringify({ level: l, msg: m, svc: '${name}' })); console.log('plain ${name} line'); setInterval(() => {}, 1000)"`;

  beforeAll(async () => {
    writeStack(dir, {
      stack: 'logs-search',
      services: { web: { command: writer('web') }, api: { command: writer('api') } },
    });
    await runCliOk(['apply'], { cwd: dir });
    // The lines are written once the processes run.
    await waitFor(
      async () => {
        const r = await runCli(['logs', '--service', 'web,api', '--grep', 'plain'], { cwd: dir });
        return r.stdout.split('\n').filter((l) => l !== '').length === 2 ? r : undefined;
      },
      { what: 'both services to have written their lines', timeoutMs: 15_000, intervalMs: 100 },
    );
  }, 30_000);

  afterAll(async () => {
    const t = await teardownStack(dir, 'logs-search');
    removeTempDir(dir);
    expect(t.leftovers).toBe(0);
  });

  it('finds matching lines in every named service, by text, regex and JSON field', async () => {
    const errors = await runCliOk(['logs', '--service', 'web,api', '--where', 'level=error'], { cwd: dir });
    expect(
      errors.stdout
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
    ).toEqual([
      '[api] {"level":"error","msg":"db timeout","svc":"api"}',
      '[web] {"level":"error","msg":"db timeout","svc":"web"}',
    ]);
    const both = await runCliOk(['logs', 'web', '--where', 'level=info', '--grep', '/READY/i'], { cwd: dir });
    expect(both.stdout).toBe('{"level":"info","msg":"ready","svc":"web"}\n');
    const json = await runCliOk(['logs', '--service', 'api', '--grep', 'plain', '--json'], { cwd: dir });
    expect(JSON.parse(json.stdout)).toEqual({ service: 'api', line: 'plain api line' });
  });

  it('refuses bad flags with exit 2 and what to write', async () => {
    for (const [argv, says] of [
      [['logs', 'web', '--where', 'level'], 'expected FIELD=VALUE'],
      [['logs', 'web', '--grep', '/(/'], 'not a valid regular expression'],
      [['logs', 'web', '--service', 'api'], 'either as an argument'],
      [['logs', '--service', 'Web!'], 'is not a service name'],
      [['logs'], 'needs a service name'],
      [['logs', 'web', '-F', '--until', '5m'], 'contradict'],
      [['logs', 'web', '--until', 'soon'], 'until must be a duration (5m) or a timestamp'],
    ] as const) {
      const r = await runCli([...argv], { cwd: dir });
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toContain(says);
    }
  });
});
