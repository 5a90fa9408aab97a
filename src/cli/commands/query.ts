/**
 * `groundwork query 'EXPR' [--range 1h] [--step 15s]`: PromQL over the metrics the daemon keeps.
 * An instant query prints one line per series; a range query prints each series' last, min and
 * max with a sparkline. `--json` is Prometheus's own answer, as `/api/v1/query(_range)` gives it.
 */
import type { ApiResponse, ApiResult } from '../../observe/promql/engine.js';
import { Duration } from '../../util/duration.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UsageError } from '../io.js';
import { openOps } from '../open-ops.js';

const BARS = '▁▂▃▄▅▆▇█';

/** Block characters scaled between the series' min and max; non-finite values are blanks. At most 40 wide. */
export function sparkline(values: number[]): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return '';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  // At most 40 characters: the range is cut into that many buckets, each showing its last value.
  const step = Math.max(1, Math.ceil(values.length / 40));
  let out = '';
  for (let i = 0; i < values.length; i += step) {
    const v = values[Math.min(values.length - 1, i + step - 1)] as number;
    out += !Number.isFinite(v)
      ? ' '
      : hi === lo
        ? BARS[3]
        : BARS[Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))];
  }
  return out;
}

function labelsOf(m: Record<string, string>): string {
  const name = m.__name__ ?? '';
  const rest = Object.entries(m)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${name}{${rest}}`;
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ''));

export function renderResult(r: ApiResult): string {
  switch (r.resultType) {
    case 'scalar':
    case 'string':
      return `${r.result[1]}\n`;
    case 'vector':
      if (r.result.length === 0) return 'no series\n';
      return r.result.map((s) => `${labelsOf(s.metric)}  ${s.value[1]}`).join('\n') + '\n';
    case 'matrix': {
      if (r.result.length === 0) return 'no series\n';
      return (
        r.result
          .map((s) => {
            const vs = s.values.map(([, v]) => Number(v));
            const finite = vs.filter((v) => Number.isFinite(v));
            const last = vs.at(-1);
            return `${labelsOf(s.metric)}\n  last ${last === undefined ? '-' : fmt(last)}  min ${finite.length ? fmt(Math.min(...finite)) : '-'}  max ${finite.length ? fmt(Math.max(...finite)) : '-'}  ${sparkline(vs)}`;
          })
          .join('\n') + '\n'
      );
    }
  }
}

export const queryCommand = defineCommand({
  name: 'query',
  summary: 'PromQL over the metrics the daemon keeps (checks today): a table, or a range with sparklines',
  usage: "query 'EXPR' [--range 1h] [--step 15s] [-f FILE] [--json]",
  flags: {
    ...STACK_FLAGS,
    range: {
      type: 'string',
      description: 'Query this long a range ending now (default: an instant query)',
      valueName: 'DURATION',
    },
    step: {
      type: 'string',
      description: 'Resolution of a range query (default: range / 100, at least 1s)',
      valueName: 'DURATION',
    },
  },
  args: ['EXPR'],
  async run(flags, pos, io) {
    const expr = pos[0];
    if (!expr) throw new UsageError("query needs a PromQL expression, e.g. groundwork query 'groundwork_check_up'");
    const range = flags.range === undefined ? undefined : Duration.tryParse(flags.range);
    if (flags.range !== undefined && !range)
      throw new UsageError(`--range: cannot read '${flags.range}'; write a duration such as 15m or 6h`);
    const step = flags.step === undefined ? undefined : Duration.tryParse(flags.step);
    if (flags.step !== undefined && !step)
      throw new UsageError(`--step: cannot read '${flags.step}'; write a duration such as 15s`);
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    let answer: { status: number; body: ApiResponse };
    try {
      if (range) {
        const end = Date.now() / 1000;
        const seconds = range.toMilliseconds() / 1000;
        const stepS = step ? step.toMilliseconds() / 1000 : Math.max(1, Math.round(seconds / 100));
        answer = await ops.promQuery('query_range', {
          query: expr,
          start: String(end - seconds),
          end: String(end),
          step: String(stepS),
        });
      } else {
        answer = await ops.promQuery('query', { query: expr });
      }
    } finally {
      await close();
    }
    if (flags.json) io.stdout(`${JSON.stringify(answer.body, null, 2)}\n`);
    if (answer.body.status === 'error') {
      io.stderr(`query failed: ${answer.body.error}\n`);
      return answer.status === 400 ? EXIT.usage : EXIT.failed;
    }
    if (!flags.json) io.stdout(renderResult(answer.body.data));
    return EXIT.ok;
  },
});
