/**
 * The loader has two paths with one result (src/config/load.ts): a fast one (js-yaml, no
 * positions) taken only when a file has no problem at all, and the precise one (the `yaml`
 * library with positions) for everything else. Here every input goes through both, and the
 * results (config, diagnostics, configHash) must be identical: the bad-stack fixtures, the good
 * seeds, a table of YAML forms where parsers are known to differ, and mutated stacks.
 *
 * A failure prints the input; rerun one mutated case with FAST_PATH_ONLY=<iteration>.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateStack } from '../../bench/plan-scale/generate-stack.js';
import { loadFast, parseStackText, type LoadedStack } from '../../src/config/load.js';
import { ANCHOR_STACK, FULL_STACK, MINIMAL_STACK, SCALAR_STACK, SEED_STACKS } from './seed-stacks.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/bad-stacks');
const FILE = '/lab/groundwork.yaml';
const DIR = '/lab';

/** A small stack in the shapes of the plan-scale bench (the file the fast path exists for). */
const GENERATED = generateStack({ services: 30, volumes: 20, routes: 20, tierSize: 10, seed: 7 }).yaml;

/** Both paths' results, and whether the fast path gave the answer or declined. */
function bothPaths(input: string | Buffer): {
  auto: LoadedStack;
  precise: LoadedStack;
  fast: LoadedStack | { declined: string };
} {
  const auto = parseStackText(input, FILE, DIR);
  const precise = parseStackText(input, FILE, DIR, { precise: true });
  const fast = loadFast(typeof input === 'string' ? input : input.toString('utf8'), FILE, DIR);
  return { auto, precise, fast };
}

/** Empty when the two results are identical (key order of the config included), else what differs. */
function differences(a: LoadedStack, b: LoadedStack): string[] {
  const out: string[] = [];
  if (JSON.stringify(a.diagnostics) !== JSON.stringify(b.diagnostics))
    out.push(`diagnostics:\n  ${JSON.stringify(a.diagnostics)}\n  ${JSON.stringify(b.diagnostics)}`);
  if (JSON.stringify(a.config) !== JSON.stringify(b.config))
    out.push(`config:\n  ${JSON.stringify(a.config)}\n  ${JSON.stringify(b.config)}`);
  if (a.configHash !== b.configHash) out.push(`configHash ${a.configHash} != ${b.configHash}`);
  if (a.file !== b.file || a.dir !== b.dir) out.push('file or dir');
  return out;
}

function expectSame(input: string | Buffer): ReturnType<typeof bothPaths> {
  const r = bothPaths(input);
  expect(differences(r.auto, r.precise), `input:\n${String(input)}`).toEqual([]);
  expect(r.auto).toStrictEqual(r.precise);
  if (!('declined' in r.fast)) {
    // The fast path only ever answers for a file without problems.
    expect(r.fast.diagnostics).toEqual([]);
    expect(differences(r.fast, r.precise)).toEqual([]);
  }
  return r;
}

const taken = (r: ReturnType<typeof bothPaths>): boolean => !('declined' in r.fast);

describe('fast and precise paths agree', () => {
  const fixtures = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it.each(fixtures)('bad-stack fixture %s', (name) => {
    const r = expectSame(readFileSync(path.join(FIXTURES, name)));
    // A file with a problem is always answered by the precise path, which locates it.
    expect(taken(r)).toBe(false);
    expect(r.auto.config).toBeUndefined();
  });

  it.each([
    ['minimal', MINIMAL_STACK, true],
    ['full', FULL_STACK, true],
    ['scalars', SCALAR_STACK, true],
    ['anchors (declined: aliases)', ANCHOR_STACK, false],
    ['generated (plan-scale shapes)', GENERATED, true],
  ] as const)('good seed: %s', (_name, text, fast) => {
    const r = expectSame(text);
    expect(r.auto.config).toBeDefined();
    expect(taken(r), 'declined' in r.fast ? r.fast.declined : 'taken').toBe(fast);
  });

  const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples');
  const examples = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' })
    .filter((f) => /(^|\/)groundwork[^/]*\.ya?ml$/.test(f))
    .sort();

  it.each(examples)('example stack %s', (name) => {
    expectSame(readFileSync(path.join(EXAMPLES, name)));
  });

  it('covers every good seed', () => {
    expect([MINIMAL_STACK, FULL_STACK, SCALAR_STACK, ANCHOR_STACK].sort()).toEqual([...SEED_STACKS].sort());
  });

  it('agrees with CRLF line endings', () => {
    for (const text of [...SEED_STACKS, GENERATED]) expectSame(text.replace(/\n/g, '\r\n'));
    expect(taken(expectSame(FULL_STACK.replace(/\n/g, '\r\n')))).toBe(true);
  });
});

/** A stack whose env value is `value`: env takes text, numbers and booleans, so most scalars are valid there. */
const withEnv = (value: string, key = 'X'): string =>
  `stack: s\nservices:\n  web:\n    command: run\n    env:\n      ${key}: ${value}\n      OTHER: fixed\n`;

describe('YAML forms the two parsers could read differently', () => {
  // [form, the value the precise path reads (undefined: not valid in env), fast path expected to answer]
  const scalars: [string, unknown, boolean][] = [
    ['0750', 750, true],
    ['"0750"', '0750', true],
    ['0o17', 15, true],
    ['0x1F', 31, true],
    ['0b101', '0b101', true],
    ['1_000', '1_000', true],
    ['+12', 12, true],
    ['-0', -0, true],
    ['1e3', 1000, true],
    ['1.5e-3', 0.0015, true],
    ['.5', 0.5, true],
    ['1.', 1, true],
    ['.inf', Infinity, true],
    ['-.Inf', -Infinity, true],
    ['.nan', NaN, true],
    ['99999999999999999999', 1e20, true],
    ['yes', 'yes', true],
    ['no', 'no', true],
    ['on', 'on', true],
    ['Off', 'Off', true],
    ['y', 'y', true],
    ['true', true, true],
    ['True', true, true],
    ['TRUE', true, true],
    ['tRUE', 'tRUE', true],
    ['false', false, true],
    ['~', undefined, false],
    ['null', undefined, false],
    ['Null', undefined, false],
    ['', undefined, false],
    ['"~"', '~', true],
    ['2001-12-14', '2001-12-14', true],
    ['2001-12-14t21:59:43.10-05:00', '2001-12-14t21:59:43.10-05:00', true],
    ['12:30:45', '12:30:45', true],
    ['1:20', '1:20', true],
    ['"\\u00e9\\t\\x41\\N"', 'é\tA\u0085', true],
    ["'it''s'", "it's", true],
    ['"a\\"b"', 'a"b', true],
    ['a #comment', 'a', true],
    ['a#b', 'a#b', true],
    ['"a" #c', 'a', true],
    ['é ünï 🚀', 'é ünï 🚀', true],
    ['!!binary aGVsbG8=', undefined, false],
    ['!!str 12', '12', false],
    ['!!int "12"', 12, false],
    ['! 12', '12', false],
    ['&a x', 'x', false],
    ['*a', undefined, false],
    ['[1, 2]', undefined, false],
    ['{a: 1}', undefined, false],
    ['<<', '<<', true],
    ['@x', undefined, false],
    ['`x', undefined, false],
    ['%x', undefined, false],
    ['x: y', undefined, false],
    ['"\\q"', undefined, false],
    ['"a"#c', undefined, false],
    ['[a]c', undefined, false],
  ];

  it.each(scalars)('env value %j', (form, expected, fast) => {
    const r = expectSame(withEnv(form));
    if (expected === undefined) {
      expect(r.auto.config).toBeUndefined();
    } else {
      expect(r.auto.diagnostics).toEqual([]);
      expect(r.auto.config?.services?.web?.env?.X).toStrictEqual(expected);
    }
    expect(taken(r), 'declined' in r.fast ? r.fast.declined : 'taken').toBe(fast);
  });

  // [name, form, fast path expected to answer]
  const blocks: [string, string, boolean][] = [
    ['literal', '|\n        one\n        two\n', true],
    ['literal, strip', '|-\n        one\n\n        two\n\n', true],
    ['literal, keep', '|+\n        one\n\n', true],
    ['literal, indent indicator', '|2\n          indented\n        less\n', true],
    ['folded', '>\n        one\n        two\n\n        three\n          more\n        four\n', true],
    ['folded, strip', '>-\n        one\n        two\n', true],
    ['folded with comment', '> # note\n        one\n', true],
    ['leading blank lines', '|\n\n\n        after blanks\n', true],
    ['plain over lines', 'one\n        two\n\n        three', true],
    ['trailing spaces', 'value   \n', true],
    // yaml wants continuation lines of flow scalars indented past the map; js-yaml does not check.
    ['double-quoted over lines', '"one\n        two \\\n        three\n\n        four"', false],
    ['single-quoted over lines', "'one\n        two\n\n        three'", false],
  ];

  it.each(blocks)('multi-line scalar: %s', (_name, form, fast) => {
    const r = expectSame(withEnv(form));
    expect(r.auto.diagnostics).toEqual([]);
    expect(taken(r), 'declined' in r.fast ? r.fast.declined : 'taken').toBe(fast);
  });

  const keys: [string, boolean][] = [
    ['true', false],
    ['"true"', false],
    ['null', false],
    ['~', false],
    ['1', false],
    ['"1"', false],
    ['__proto__', true],
    ['constructor', true],
    ['"X Y"', false],
    ["'Q'", true],
    ['[A]', false],
    ['? A', false],
    ['<<', false],
    ['toString', true],
  ];

  it.each(keys)('env key %s', (key, fast) => {
    const r = expectSame(withEnv('v', key));
    expect(taken(r), 'declined' in r.fast ? r.fast.declined : 'taken').toBe(fast);
  });

  it.each([
    ['duplicate keys', 'stack: s\nstack: t\n'],
    ['duplicate keys, one quoted', 'stack: s\nservices:\n  web:\n    command: run\n    env: { "A": 1, A: 2 }\n'],
    [
      'duplicate keys, number and text',
      'stack: s\nservices:\n  web:\n    command: run\n    env: { X: 1 }\n    ports: { 1: auto, "1": auto }\n',
    ],
    ['two documents', 'stack: s\n---\nstack: t\n'],
    ['a document start', '---\nstack: s\n'],
    ['a document end', 'stack: s\n...\n'],
    ['a directive', '%YAML 1.1\n---\nstack: s\n'],
    ['a merge key', 'stack: s\nservices:\n  web:\n    <<: { command: run }\n'],
    ['a merge key through an alias', 'stack: s\nvariables:\n  a: &a { default: 1 }\n  b: { <<: *a }\n'],
    ['an anchor and alias', 'stack: s\nsecrets:\n  a: &x { description: d }\n  b: *x\n'],
    ['a recursive alias', 'stack: &s [*s]\n'],
    ['a tab in indentation', 'stack: s\nservices:\n\tweb: { command: x }\n'],
    ['a tab after a value', 'stack: s\t\n'],
    ['a lone CR', 'stack: s\rservices: {}\n'],
    ['a NEL', 'stack: s\u0085'],
    ['a line separator', 'stack: s\u2028x\n'],
    ['a BOM inside', 'stack: s\ufeff\n'],
    ['a long key', `stack: s\nvariables:\n  ${'a'.repeat(1100)}: { default: 1 }\n`],
    ['a multi-line key', 'stack: s\nvariables:\n  "a\n  b": { default: 1 }\n'],
    ['a flow map over lines', 'stack: s\nvariables: {\n  a: { default: 1 },\n  b: { default: 2 }\n}\n'],
    ['a flow map badly indented', 'stack: s\nvariables:\n  a: { default: 1,\ndescription: x }\n'],
    ['a flow sequence badly indented', 'stack: s\nservices:\n  web:\n    command: x\n    args: [a,\n  b]\n'],
    ['a double-quoted scalar badly indented', 'stack: s\nservices:\n  web:\n    command: "a\n  b"\n'],
    ['a single-quoted scalar badly indented', "stack: s\nservices:\n  web:\n    command: 'a\nb'\n"],
    ['a plain scalar badly indented', 'stack: s\nservices:\n  web:\n    command: a\n   b\n'],
    ['a flow value on the next line', 'stack: s\nsecrets:\n  {a: {}}\n'],
    ['JSON', '{"stack": "s", "services": {"web": {"command": "x", "replicas": 2, "env": {"A": 1.5}}}}\n'],
    ['JSON with adjacent values', '{"stack":"s","variables":{"a":{"default":1}}}\n'],
    ['a single-pair map in a list', 'stack: s\nroutes: [match: {}]\n'],
    ['a comment without a space', 'stack: s #ok\nsecrets: {}#no\n'],
    ['a deep flow', `stack: s\nvariables: ${'{a: '.repeat(120)}1${'}'.repeat(120)}\n`],
    ['a non-printable character', 'stack: "s\u0001"\n'],
    ['a question mark key', 'stack: s\n? secrets\n: {}\n'],
    ['a collection key', 'stack: s\n[a, b]: 1\n'],
    ['an empty flow key', 'stack: s\nvariables: {[a]}\n'],
  ])('%s', (_name, text) => {
    expectSame(text);
  });
});

/** mulberry32: the same sequence on every machine. */
function rngOf(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
  };
}
type Rng = ReturnType<typeof rngOf>;

const SCALARS = [
  ...[
    '0750',
    '0o17',
    '0x1F',
    '0b1',
    '1_000',
    '+1',
    '-0',
    '1e3',
    '.5',
    '1.',
    '.inf',
    '-.inf',
    '.nan',
    '12',
    '65536',
    '0',
    '3.14',
  ],
  ...['yes', 'no', 'on', 'off', 'y', 'n', 'true', 'True', 'FALSE', 'tRuE', 'null', 'Null', '~', '', '""', "''"],
  ...[
    '2001-12-14',
    '12:30',
    '1:2:3',
    'auto',
    'always',
    '2s',
    '256MiB',
    '/healthz',
    'a b',
    'a #c',
    'a#c',
    'a:b',
    'a: b',
    '-a',
    '- a',
  ],
  ...[
    '${port.http}',
    '${var.region}',
    '$${x}',
    '"${secret.db-password}"',
    "'q''q'",
    '"\\t\\u263a"',
    '"a\\\nb"',
    '[]',
    '{}',
    '[a, b]',
  ],
  ...['|\n  x\n', '>-\n  x\n  y\n', 'é', '"é"', '@a', '`a', '%a', '!a', '&a', '*a', '? a', '<<', '[a]: b'],
];
const KEYS = ['A', 'B_2', 'true', 'null', '1', '"1"', '"A"', "'A'", '__proto__', 'constructor', '<<', '~', 'a-b', 'É'];

type Mutator = (text: string, rng: Rng) => string;
const lines = (t: string): string[] => t.split('\n');

const MUTATORS: Record<string, Mutator> = {
  /** An env value (text, number or boolean are valid) in another YAML form. */
  envValue: (t, rng) => {
    const ls = lines(t);
    const envs = ls.map((l, i) => [l, i] as const).filter(([l]) => /^ {6}[A-Z_][A-Z0-9_]*: /.test(l));
    if (envs.length === 0) return t;
    const [line, i] = rng.pick(envs);
    const value = rng.pick(SCALARS).replace(/\n/g, '\n        ');
    ls[i] = `${line.slice(0, line.indexOf(':'))}: ${value}`;
    return ls.join('\n');
  },
  envKey: (t, rng) => {
    const ls = lines(t);
    const envs = ls.map((l, i) => [l, i] as const).filter(([l]) => /^ {6}[A-Z_][A-Z0-9_]*: /.test(l));
    if (envs.length === 0) return t;
    const [line, i] = rng.pick(envs);
    ls[i] = `      ${rng.pick(KEYS)}${line.slice(line.indexOf(':'))}`;
    return ls.join('\n');
  },
  anyValue: (t, rng) => {
    const ls = lines(t);
    const candidates = ls.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[a-z_]+: \S/.test(l));
    if (candidates.length === 0) return t;
    const [line, i] = rng.pick(candidates);
    ls[i] =
      `${line.slice(0, line.indexOf(':'))}: ${rng.pick(SCALARS).replace(/\n/g, `\n${' '.repeat(line.search(/\S/) + 2)}`)}`;
    return ls.join('\n');
  },
  /** A line indented differently: continuation lines and nesting are where parsers differ. */
  reindent: (t, rng) => {
    const ls = lines(t);
    const i = rng.int(ls.length);
    const body = (ls[i] ?? '').trimStart();
    ls[i] = ' '.repeat(rng.int(12)) + body;
    return ls.join('\n');
  },
  /** A quoted value continued on the next line, indented anyhow. */
  quotedOverLines: (t, rng) => {
    const ls = lines(t);
    const envs = ls.map((l, i) => [l, i] as const).filter(([l]) => /^ +[A-Za-z_]+: [^|>]/.test(l));
    if (envs.length === 0) return t;
    const [line, i] = rng.pick(envs);
    const q = rng.pick(['"', "'"]);
    ls[i] =
      `${line.slice(0, line.indexOf(':'))}: ${q}first${rng.pick(['', ' ', '\\'])}\n${' '.repeat(rng.int(10))}second${q}`;
    return ls.join('\n');
  },
  /** A flow collection broken after one of its commas, the rest indented anyhow. */
  flowOverLines: (t, rng) => {
    const ls = lines(t);
    const flows = ls.map((l, i) => [l, i] as const).filter(([l]) => /[[{][^\]}]*, /.test(l));
    if (flows.length === 0) return t;
    const [line, i] = rng.pick(flows);
    const commas = [...line.matchAll(/, /g)].map((m) => m.index ?? 0);
    const at = rng.pick(commas) + 1;
    ls[i] = `${line.slice(0, at)}\n${' '.repeat(rng.int(10))}${line.slice(at + 1)}`;
    return ls.join('\n');
  },
  comments: (t, rng) =>
    lines(t)
      .map((l) => (rng.next() < 0.3 && l.trim() !== '' && !/[|>]-?$/.test(l) ? `${l} # c` : l))
      .join('\n'),
  blankLines: (t, rng) =>
    lines(t)
      .flatMap((l) => (rng.next() < 0.2 ? [l, ''] : [l]))
      .join('\n'),
  trailingSpaces: (t, rng) =>
    lines(t)
      .map((l) => (rng.next() < 0.3 ? `${l}  ` : l))
      .join('\n'),
  wideIndent: (t) =>
    lines(t)
      .map((l) => l.replace(/^( +)/, (m) => m.repeat(2)))
      .join('\n'),
  crlf: (t) => t.replace(/\n/g, '\r\n'),
  punctuation: (t, rng) => {
    const at = rng.int(t.length + 1);
    return (
      t.slice(0, at) +
      rng.pick([':', ': ', '{', '}', '[', ']', ',', '#', ' #', '"', "'", '- ', '\n', '  ', '|', '>', '\t', '\\']) +
      t.slice(at)
    );
  },
  /** A line dropped, or moved elsewhere once or twice. */
  moveLine: (t, rng) => {
    const ls = lines(t);
    const moved = ls.splice(rng.int(ls.length), 1)[0] ?? '';
    const copies = rng.int(3);
    ls.splice(rng.int(ls.length + 1), 0, ...Array<string>(copies).fill(moved));
    return ls.join('\n');
  },
};
const MUTATOR_NAMES = Object.keys(MUTATORS);
const ITERATIONS = Number(process.env.FAST_PATH_ITERATIONS ?? 1500);
const SEEDS = [MINIMAL_STACK, FULL_STACK, SCALAR_STACK, GENERATED];

describe('mutated stacks', () => {
  it(
    `agree on ${ITERATIONS} variants, and the fast path answers for many`,
    () => {
      const only = process.env.FAST_PATH_ONLY === undefined ? undefined : Number(process.env.FAST_PATH_ONLY);
      const failures: string[] = [];
      let fast = 0;
      let valid = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const rng = rngOf(0xfa57 + i);
        let text = rng.pick(SEEDS);
        const steps: string[] = [];
        for (let n = 1 + rng.int(3); n > 0; n--) {
          const name = rng.pick(MUTATOR_NAMES);
          steps.push(name);
          text = (MUTATORS[name] as Mutator)(text, rng);
        }
        if (only !== undefined && only !== i) continue;
        const r = bothPaths(text);
        const diff = [
          ...differences(r.auto, r.precise),
          ...('declined' in r.fast ? [] : differences(r.fast, r.precise)),
        ];
        if (diff.length > 0)
          failures.push(`#${i} [${steps.join(', ')}] ${diff.join('; ')}\n--- input ---\n${text.slice(0, 600)}\n---`);
        if (taken(r)) fast++;
        if (r.precise.config) valid++;
      }
      expect(failures.slice(0, 3), `${failures.length} variants differ`).toEqual([]);
      if (only === undefined) {
        // The fast path answered for most of the valid variants, so the agreement above is not only fallbacks.
        expect(fast).toBeGreaterThan(valid / 2);
        expect(valid).toBeGreaterThan(ITERATIONS / 5);
      }
    },
    Math.max(120_000, ITERATIONS * 100),
  );
});
