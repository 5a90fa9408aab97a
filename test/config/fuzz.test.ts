/**
 * Deterministic fuzzing of the stack-file loader. Valid seed stacks are mutated (bytes, lines,
 * indentation, punctuation, values, unicode, nesting, numbers, anchors) and every variant goes
 * through parseStackText, which must never throw and must always return either a config or at
 * least one located error with a fix.
 *
 * A failure prints the iteration and the input; rerun one with FUZZ_ONLY=<iteration>.
 */
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_CODES, formatDiagnostic } from '../../src/config/diagnostic.js';
import { canonicalJson, parseStackText, type LoadedStack } from '../../src/config/load.js';
import { SEED_STACKS } from './seed-stacks.js';

const ITERATIONS = 4000;
const SEED = 0x5eed_2024;

/** sfc32: small, fast, good enough, and the same sequence on every machine. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }
}

type Input = string | Buffer;
type Mutator = (text: string, rng: Rng) => Input;

const lines = (t: string): string[] => t.split('\n');
const pos = (t: string, rng: Rng): number => rng.int(t.length + 1);
const insertAt = (t: string, at: number, s: string): string => t.slice(0, at) + s + t.slice(at);
const KEYS = [
  'stack',
  'services',
  'command',
  'replicas',
  'env',
  'ports',
  'health',
  'http',
  'path',
  'interval',
  'depends_on',
  'volumes',
  'mode',
  'routes',
  'match',
  'service',
  'port',
  'variables',
  'secrets',
  'restart',
  'deploy',
  'args',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '<<',
  'web',
  'db',
  'Web',
  'x',
];

function randomScalar(rng: Rng): string {
  return rng.pick([
    () => String(rng.int(100)),
    () => String(rng.range(-70000, 70000)),
    () => `${rng.int(10)}.${rng.int(100)}`,
    () => rng.pick(['true', 'false', 'yes', 'no', 'on', 'off', 'null', '~', '', '""', "''"]),
    () =>
      rng.pick([
        '1e309',
        '-1e309',
        '.inf',
        '-.inf',
        '.nan',
        '0x1F',
        '0o17',
        '0750',
        '1_000',
        '99999999999999999999999',
        '-0',
        '2001-12-14',
      ]),
    () =>
      rng.pick([
        'auto',
        'always',
        'allways',
        '2s',
        '5 seconds',
        '256MiB',
        '512 megs',
        '/healthz',
        'healthz',
        'web',
        'Web',
        'db-main',
      ]),
    () =>
      rng.pick([
        '${port.http}',
        '${var.region}',
        '${secret.db-password}',
        '${service.db.port.pg}',
        '${volume.pgdata}',
        '${service.web.port.http}',
        '${',
        '${}',
        '$${x}',
        '${port.}',
        '${env.HOME}',
        '"${secret.api-key}"',
      ]),
    () => `"${randomUnicode(rng, rng.range(1, 8))}"`,
    () =>
      `!!${rng.pick(['str', 'int', 'binary', 'set', 'omap', 'timestamp', 'float', 'bool', 'map', 'seq', 'null'])} ${rng.pick(['x', '1', 'aGVsbG8=', '{a, b}', '[]'])}`,
    () => `!custom ${rng.pick(['x', '{}', '[1]'])}`,
    () => `*${rng.pick(['probe', 'env', 'a', 'nope'])}`,
    () => `&${rng.pick(['a', 'probe', 'x'])} ${rng.pick(['1', 'x', '{}', '[*a]'])}`,
  ])();
}

function randomValue(rng: Rng, depth = 0): string {
  if (depth > 2 || rng.chance(0.5)) return randomScalar(rng);
  const n = rng.int(4);
  const items = Array.from({ length: n }, () => randomValue(rng, depth + 1));
  if (rng.chance(0.5)) return `[${items.join(', ')}]`;
  return `{ ${items.map((v) => `${rng.pick(KEYS)}: ${v}`).join(', ')} }`;
}

function randomUnicode(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += rng.pick([
      () => String.fromCodePoint(rng.range(0x20, 0x7e)),
      () => String.fromCodePoint(rng.range(0xa0, 0x2fff)),
      () => String.fromCodePoint(rng.range(0x1f300, 0x1faff)),
      () =>
        rng.pick([
          '\u200b',
          '\u200e',
          '\u202e',
          '\u2028',
          '\u2029',
          '\ufeff',
          '\ufffe',
          '\uffff',
          '\u0085',
          '\u00a0',
          '\r',
          '\t',
          '\v',
          '\f',
        ]),
      () => rng.pick(['\ud800', '\udfff', '\u0000', '\u0001', '\u001b', '\u007f']),
    ])();
  }
  return s;
}

function nested(rng: Rng): string {
  const depth = rng.pick([10, 64, 65, 200, 1000, rng.range(1, 3000)]);
  switch (rng.int(4)) {
    case 0:
      return '['.repeat(depth) + ']'.repeat(rng.chance(0.8) ? depth : rng.int(depth));
    case 1:
      return '{a: '.repeat(depth) + '1' + '}'.repeat(rng.chance(0.8) ? depth : rng.int(depth));
    case 2:
      return (
        '\n' + Array.from({ length: Math.min(depth, 400) }, (_, i) => `${' '.repeat(i + 4)}k${i}:`).join('\n') + ' 1'
      );
    default:
      return (
        '\n' + Array.from({ length: Math.min(depth, 400) }, (_, i) => `${' '.repeat(2 * i + 4)}-`).join('\n') + ' x'
      );
  }
}

const MUTATORS: Record<string, Mutator> = {
  flipBytes: (t, rng) => {
    const b = Buffer.from(t, 'utf8');
    if (b.length === 0) return b;
    for (let i = rng.range(1, 5); i > 0; i--) {
      const at = rng.int(b.length);
      b[at] = rng.chance(0.7) ? (b[at] ?? 0) ^ (1 << rng.int(8)) : rng.int(256);
    }
    return b;
  },
  deleteLines: (t, rng) => {
    const ls = lines(t);
    const at = rng.int(ls.length);
    ls.splice(at, rng.range(1, 3));
    return ls.join('\n');
  },
  duplicateLines: (t, rng) => {
    const ls = lines(t);
    const at = rng.int(ls.length);
    ls.splice(at, 0, ...ls.slice(at, at + rng.range(1, 3)));
    return ls.join('\n');
  },
  swapLines: (t, rng) => {
    const ls = lines(t);
    const i = rng.int(ls.length);
    const j = rng.int(ls.length);
    [ls[i], ls[j]] = [ls[j] ?? '', ls[i] ?? ''];
    return ls.join('\n');
  },
  reindent: (t, rng) => {
    const ls = lines(t);
    const i = rng.int(ls.length);
    const line = ls[i] ?? '';
    const body = line.trimStart();
    const indent = line.length - body.length;
    const next = rng.pick([0, Math.max(0, indent - 1), indent + 1, indent + 2, indent * 2, rng.int(40)]);
    ls[i] = (rng.chance(0.15) ? '\t' : '') + ' '.repeat(next) + body;
    return ls.join('\n');
  },
  punctuation: (t, rng) => {
    let out = t;
    for (let i = rng.range(1, 4); i > 0; i--) {
      out = insertAt(
        out,
        pos(out, rng),
        rng.pick([
          ':',
          ': ',
          '{',
          '}',
          '[',
          ']',
          ',',
          '&',
          '*',
          '!',
          '|',
          '>',
          "'",
          '"',
          '%',
          '@',
          '`',
          '#',
          ' #',
          '- ',
          '? ',
          '---\n',
          '...\n',
          '\\',
          '\n',
          '\r\n',
          '&a ',
          '*a',
          '!!str ',
          '<<: ',
        ]),
      );
    }
    return out;
  },
  replaceValue: (t, rng) => {
    const ls = lines(t);
    const candidates = ls.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[^#\s][^:]*:\s*\S/.test(l));
    if (candidates.length === 0) return t;
    const [line, i] = rng.pick(candidates);
    const colon = line.indexOf(':');
    ls[i] = `${line.slice(0, colon)}: ${randomValue(rng)}`;
    return ls.join('\n');
  },
  replaceKey: (t, rng) => {
    const ls = lines(t);
    const candidates = ls.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[A-Za-z_$][\w$-]*:/.test(l));
    if (candidates.length === 0) return t;
    const [line, i] = rng.pick(candidates);
    const m = /^(\s*)([A-Za-z_$][\w$-]*)(:.*)$/.exec(line);
    if (!m) return t;
    const key = m[2] ?? '';
    const typo = rng.chance(0.5) && key.length > 1 ? key.slice(0, -1) + (rng.chance(0.5) ? '' : 's') : rng.pick(KEYS);
    ls[i] = `${m[1] ?? ''}${typo}${m[3] ?? ''}`;
    return ls.join('\n');
  },
  truncate: (t, rng) => t.slice(0, pos(t, rng)),
  truncateBytes: (t, rng) => {
    const b = Buffer.from(t, 'utf8');
    return b.subarray(0, rng.int(b.length + 1));
  },
  unicode: (t, rng) => insertAt(t, pos(t, rng), randomUnicode(rng, rng.range(1, 6))),
  deepNesting: (t, rng) => {
    const ls = lines(t);
    const candidates = ls
      .map((l, i) => [l, i] as const)
      .filter(([l]) => /:\s*\S/.test(l) && !l.trimStart().startsWith('#'));
    if (candidates.length === 0) return `${t}\nservices: ${nested(rng)}\n`;
    const [line, i] = rng.pick(candidates);
    ls[i] = `${line.slice(0, line.indexOf(':'))}: ${nested(rng)}`;
    return ls.join('\n');
  },
  hugeNumbers: (t, rng) => {
    const huge = rng.pick([
      '1e309',
      '-1e309',
      '99999999999999999999999999999',
      '0.0000000000000000000001',
      '1' + '0'.repeat(400),
      '.inf',
      '-.nan',
      '0x' + 'f'.repeat(40),
      '-0',
      '65536',
      '0',
      '1.5',
      '-1',
    ]);
    const digits = [...t.matchAll(/\b\d+(\.\d+)?\b/g)];
    if (digits.length > 0 && rng.chance(0.7)) {
      const m = rng.pick(digits);
      const at = m.index ?? 0;
      return t.slice(0, at) + huge + t.slice(at + m[0].length);
    }
    return `${t}\nservices:\n  web:\n    command: x\n    replicas: ${huge}\n    ports: { http: ${huge} }\n`;
  },
  anchors: (t, rng) =>
    rng.pick([
      // An alias inside its own anchor: a loop.
      () => `${t}\nvariables: &loop\n  a: { default: 1 }\n  b: *loop\n`,
      () => `${t}\nservices:\n  web: &w\n    command: x\n    env: { SELF: *w }\n`,
      () => `${t}\nroutes: &r [*r]\n`,
      () => `stack: &s [*s]\n`,
      // An alias to an anchor that does not exist, and one used before it is defined.
      () => `${t}\nsecrets: { a: *missing }\n`,
      () => `${t}\nvolumes:\n  a: *later\n  b: &later { path: ./b }\n`,
      // Exponential growth through aliases.
      () =>
        `${t}\nvariables:\n  a0: &a0 { default: x }\n${Array.from({ length: 14 }, (_, i) => `  a${i + 1}: &a${i + 1} [${Array(8).fill(`*a${i}`).join(', ')}]`).join('\n')}\n`,
      // Anchors re-defined, and a merge key.
      () => `${t}\nvolumes:\n  a: &v { path: ./a }\n  b: &v { path: ./b }\n  c: *v\n  d: { <<: *v, mode: "0700" }\n`,
    ])(),
  splice: (t, rng) => {
    const other = rng.pick(SEED_STACKS);
    return t.slice(0, pos(t, rng)) + other.slice(pos(other, rng));
  },
  directives: (t, rng) =>
    rng.pick([
      '%YAML 1.1\n---\n',
      '%YAML 1.2\n---\n',
      '%TAG ! tag:x,2024:\n---\n',
      '%FOO bar\n',
      '--- !!map\n',
      '---\n---\n',
      '\ufeff',
    ]) + (rng.chance(0.5) ? t : t + rng.pick(['...\n', '---\nstack: second\n', '...\n---\n'])),
  lineEndings: (t, rng) => t.replace(/\n/g, () => rng.pick(['\n', '\r\n', '\r', '\u2028', '\u0085'])),
  complexKeys: (t, rng) =>
    `${t}\n${rng.pick(['? [a, b]\n: 1', '? { a: 1 }\n: 2', '? \n: 3', 'true: 1', '1: x', '"1": y', 'null: z', '[x]: 1', '~: 1'])}\n`,
};
const MUTATOR_NAMES = Object.keys(MUTATORS);

function mutate(rng: Rng): { input: Input; steps: string[] } {
  let input: Input = rng.pick(SEED_STACKS);
  const steps: string[] = [];
  for (let n = rng.chance(0.6) ? 1 : rng.range(2, 4); n > 0; n--) {
    const name = rng.pick(MUTATOR_NAMES);
    const mutator = MUTATORS[name];
    if (!mutator) continue;
    steps.push(name);
    // Byte-level mutations end the chain when they leave invalid UTF-8 behind.
    const text = typeof input === 'string' ? input : input.toString('utf8');
    input = mutator(text, rng);
  }
  return { input, steps };
}

/** The problem with a result, or undefined when it keeps the loader's promises. */
function check(r: LoadedStack, input: Input): string | undefined {
  if (!Array.isArray(r.diagnostics)) return 'diagnostics is not a list';
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (r.config === undefined && errors.length === 0) return 'no config and no error';
  if (r.config !== undefined && errors.length > 0) return 'a config despite errors';
  if (r.config !== undefined) {
    try {
      canonicalJson(r.config);
      JSON.stringify(r.config);
    } catch (e) {
      return `config cannot be serialised: ${String(e)}`;
    }
    if (!/^[0-9a-f]{64}$/.test(r.configHash)) return `bad configHash ${r.configHash}`;
  }
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const lineCount = text.split(/\r\n|\r|\n/).length;
  for (const d of r.diagnostics) {
    const where = `${d.code} ${d.line}:${d.column} ${d.message}`;
    if (!(DIAGNOSTIC_CODES as readonly string[]).includes(d.code)) return `unknown code: ${where}`;
    if (!Number.isInteger(d.line) || !Number.isInteger(d.column) || d.line < 1 || d.column < 1)
      return `bad location: ${where}`;
    if (d.line > lineCount + 1) return `line past the end (${lineCount} lines): ${where}`;
    if (typeof d.message !== 'string' || d.message.trim() === '') return `empty message: ${where}`;
    if (typeof d.fix !== 'string' || d.fix.trim() === '') return `no fix: ${where}`;
    if (/^\s+at /m.test(formatDiagnostic(d))) return `stack trace in: ${where}`;
  }
  return undefined;
}

describe('stack-file fuzzing', () => {
  it(`survives ${ITERATIONS} mutated stacks`, () => {
    const only = process.env.FUZZ_ONLY === undefined ? undefined : Number(process.env.FUZZ_ONLY);
    const failures: string[] = [];
    const stepCounts = new Map<string, number>();
    let withConfig = 0;
    const started = performance.now();
    for (let i = 0; i < ITERATIONS; i++) {
      // One generator per iteration, so each case reproduces on its own.
      const rng = new Rng(SEED + i);
      const { input, steps } = mutate(rng);
      if (only !== undefined && only !== i) continue;
      for (const s of steps) stepCounts.set(s, (stepCounts.get(s) ?? 0) + 1);
      let problem: string | undefined;
      try {
        const r = parseStackText(input, `fuzz-${i}.yaml`);
        problem = check(r, input);
        if (r.config !== undefined) withConfig++;
        // Same input, same answer.
        if (problem === undefined && i % 50 === 0) {
          const again = parseStackText(input, `fuzz-${i}.yaml`);
          if (JSON.stringify(again.diagnostics) !== JSON.stringify(r.diagnostics) || again.configHash !== r.configHash)
            problem = 'not deterministic';
        }
      } catch (e) {
        problem = `threw ${e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 4).join(' | ') : String(e)}`;
      }
      if (problem !== undefined) {
        const shown = typeof input === 'string' ? input : input.toString('latin1');
        failures.push(
          `#${i} [${steps.join(', ')}] ${problem}\n--- input ---\n${shown.slice(0, 400)}${shown.length > 400 ? '…' : ''}\n---`,
        );
      }
    }
    const ms = performance.now() - started;
    console.log(
      `fuzz: ${ITERATIONS} variants in ${Math.round(ms)} ms, ${withConfig} still valid; mutations: ${[...stepCounts].map(([k, v]) => `${k}=${v}`).join(' ')}`,
    );
    expect(failures.slice(0, 5), `${failures.length} failing variants`).toEqual([]);
    if (only === undefined) {
      // Every mutator ran, and the fuzzer still produced some valid stacks (it is not only testing the YAML parser).
      expect([...stepCounts.keys()].sort()).toEqual([...MUTATOR_NAMES].sort());
      expect(withConfig).toBeGreaterThan(ITERATIONS / 50);
    }
  }, 60_000);
});
