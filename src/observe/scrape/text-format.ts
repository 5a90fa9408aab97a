/**
 * Parser of the Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` lines,
 * samples `name{label="value",...} value [timestamp_ms]`, label values with `\\`, `\"`, `\n`
 * escapes, values including `NaN`, `+Inf`, `-Inf`. Histograms and summaries arrive as their
 * `_bucket`/`_sum`/`_count` (and quantile) samples, as Prometheus stores them.
 */

export const METRIC_TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

export interface ExposedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Unix ms when the exposition gave one. */
  timestampMs?: number;
}

export interface Exposition {
  samples: ExposedSample[];
  /** Metric family name → declared type and help. */
  families: Map<string, { type: MetricType; help?: string }>;
}

export class ExpositionParseError extends Error {}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;

function parseFloatValue(text: string, line: number): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
  }
  const v = Number(text);
  if (text === '' || Number.isNaN(v))
    throw new ExpositionParseError(`line ${line}: "${text}" is not a sample value (a float, NaN, +Inf or -Inf)`);
  return v;
}

/** Parses a whole exposition; throws ExpositionParseError naming the line of the first problem. */
export function parseExposition(text: string): Exposition {
  const samples: ExposedSample[] = [];
  const families = new Map<string, { type: MetricType; help?: string }>();
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const raw = lines[ln]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const lineNo = ln + 1;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (!m) continue; // an ordinary comment
      const [, kind, name, rest = ''] = m;
      const fam = families.get(name!) ?? { type: 'untyped' as MetricType };
      if (kind === 'TYPE') {
        if (!(METRIC_TYPES as readonly string[]).includes(rest.trim())) {
          throw new ExpositionParseError(
            `line ${lineNo}: unknown metric type "${rest.trim()}" for ${name}; expected one of ${METRIC_TYPES.join(', ')}`,
          );
        }
        fam.type = rest.trim() as MetricType;
      } else {
        fam.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      }
      families.set(name!, fam);
      continue;
    }
    samples.push(parseSampleLine(line, lineNo));
  }
  return { samples, families };
}

function parseSampleLine(line: string, lineNo: number): ExposedSample {
  let i = 0;
  const fail = (what: string): never => {
    throw new ExpositionParseError(`line ${lineNo}, column ${i + 1}: ${what} in "${line}"`);
  };
  if (!NAME_START.test(line[i] ?? '')) fail('expected a metric name');
  const nameStart = i;
  while (i < line.length && NAME_CHAR.test(line[i]!)) i++;
  const name = line.slice(nameStart, i);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const ls = i;
      if (!NAME_START.test(line[i] ?? '') || line[i] === ':') fail('expected a label name');
      while (i < line.length && /[a-zA-Z0-9_]/.test(line[i]!)) i++;
      const lname = line.slice(ls, i);
      while (line[i] === ' ') i++;
      if (line[i] !== '=') fail(`expected = after label ${lname}`);
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') fail(`expected a quoted value for label ${lname}`);
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) fail(`unterminated value of label ${lname}`);
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          const n = line[i + 1];
          if (n === 'n') value += '\n';
          else if (n === '\\' || n === '"') value += n;
          else fail(`invalid escape \\${n ?? ''} in label ${lname} (allowed: \\\\, \\", \\n)`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      if (lname in labels) fail(`label ${lname} appears twice`);
      labels[lname] = value;
      while (line[i] === ' ') i++;
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      fail('expected , or } after a label');
    }
  }
  const rest = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length < 1 || rest[0] === '') fail('expected a value after the metric');
  if (rest.length > 2) fail('expected at most a value and a timestamp');
  const value = parseFloatValue(rest[0]!, lineNo);
  const sample: ExposedSample = { name, labels, value };
  if (rest[1] !== undefined) {
    if (!/^-?\d+$/.test(rest[1])) fail(`timestamp "${rest[1]}" is not an integer of milliseconds`);
    sample.timestampMs = Number(rest[1]);
  }
  return sample;
}
