/**
 * Reads a stack file (YAML, or a TypeScript file exporting defineStack({...})) and returns the
 * validated config with every diagnostic. Never throws for bad input.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  Document,
  LineCounter,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Alias,
  type ParsedNode,
} from 'yaml';
import { hasErrors, type Diagnostic } from './diagnostic.js';
import { fastReadYaml } from './fast-yaml.js';
import { StackSchema, type StackConfig } from './schema.js';
import { semanticChecks, type Locate } from './semantic-checks.js';
import { SourceMap } from './source.js';
import { plainTree, SchemaValidator, yamlTree, type SchemaNode } from './validate-schema.js';
import { loadTypeScriptStack } from './load-typescript.js';

/** Stack files larger than this are refused before parsing: a stack file is hand-written. */
export const MAX_STACK_FILE_BYTES = 4 * 1024 * 1024;
export const STACK_FILE_NAMES = ['groundwork.yaml', 'groundwork.yml', 'groundwork.config.ts'] as const;

export interface LoadedStack {
  /** Present when there are no errors. */
  config?: StackConfig;
  diagnostics: Diagnostic[];
  file: string;
  /** Directory that relative paths in the stack are resolved against. */
  dir: string;
  /** sha256 of the normalised config; part of every saved plan. */
  configHash: string;
}

/** Finds the stack file: an explicit file, or the first known name in a directory. */
export function resolveStackFile(target: string): string {
  if (existsSync(target) && statSync(target).isDirectory()) {
    for (const n of STACK_FILE_NAMES) {
      const p = path.join(target, n);
      if (existsSync(p)) return p;
    }
    return path.join(target, STACK_FILE_NAMES[0]);
  }
  return target;
}

const diag = (
  file: string,
  code: Diagnostic['code'],
  message: string,
  fix: string,
  extra: Partial<Diagnostic> = {},
): Diagnostic => ({ severity: 'error', code, file, line: 1, column: 1, path: '', message, fix, ...extra });

export async function loadStack(target: string): Promise<LoadedStack> {
  const file = resolveStackFile(target);
  const dir = path.dirname(path.resolve(file));
  const fail = (d: Diagnostic): LoadedStack => ({ diagnostics: [d], file, dir, configHash: '' });
  if (!existsSync(file)) {
    return fail(
      diag(
        file,
        'io-error',
        `no stack file at ${file}`,
        'run `groundwork init` to write a starter groundwork.yaml, or pass the path with --file',
      ),
    );
  }
  if (file.endsWith('.ts')) {
    const r = await loadTypeScriptStack(file);
    if ('error' in r)
      return fail(
        diag(file, 'io-error', r.error, 'fix the TypeScript file so that it exports defineStack({...}) as default', {
          ...(r.at ?? {}),
        }),
      );
    // The value has no YAML positions: each problem is placed by its path in the TypeScript source.
    const loaded = validateDocument(new Document(r.value), file, dir, undefined);
    for (const d of loaded.diagnostics) Object.assign(d, r.locate(d.path));
    loaded.diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
    return loaded;
  }
  let bytes: Buffer;
  try {
    const st = statSync(file);
    if (st.size > MAX_STACK_FILE_BYTES) {
      return fail(
        diag(
          file,
          'too-large',
          `the stack file is ${(st.size / 1024 / 1024).toFixed(1)} MiB; the limit is ${MAX_STACK_FILE_BYTES / 1024 / 1024} MiB`,
          'a stack file is written by hand; check that this is the right file, or split generated parts into variables',
          { found: `${st.size} bytes`, expected: `at most ${MAX_STACK_FILE_BYTES} bytes` },
        ),
      );
    }
    bytes = readFileSync(file);
  } catch (e) {
    return fail(
      diag(file, 'io-error', `cannot read ${file}: ${(e as Error).message}`, 'check the path and its permissions'),
    );
  }
  return parseStackText(bytes, file, dir);
}

export interface ParseOptions {
  /**
   * Skip the fast path and parse with positions even when the text has no problem. The result
   * is the same either way (test/config/fast-path.test.ts holds them to that). Default false.
   */
  precise?: boolean;
}

/**
 * Parses and validates stack text; exported for tests and the fuzzer.
 *
 * Two paths with one result. The fast path reads the text without positions (fast-yaml.ts) and
 * validates the plain values; when there is no problem at all, that is the answer, and no
 * position is needed. Any problem, or text the fast reader declines, takes the precise path:
 * the `yaml` library with positions, which locates every diagnostic.
 */
export function parseStackText(
  bytes: Buffer | string,
  file: string,
  dir = path.dirname(path.resolve(file)),
  options: ParseOptions = {},
): LoadedStack {
  const fail = (d: Diagnostic): LoadedStack => ({ diagnostics: [d], file, dir, configHash: '' });
  let text: string;
  if (typeof bytes === 'string') text = bytes;
  else {
    const nul = bytes.indexOf(0);
    try {
      if (nul !== -1) throw new Error(`a NUL byte at offset ${nul}`);
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      return fail(
        diag(
          file,
          'not-text',
          'the stack file is not UTF-8 text',
          'a stack file is YAML text; check that this is the right file (binary data found)',
          { found: e instanceof Error ? e.message : 'invalid bytes', expected: 'UTF-8 text' },
        ),
      );
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!hasContent(text)) {
    return fail(
      diag(
        file,
        'empty-file',
        'the stack file is empty',
        'add at least `stack: NAME`, or run `groundwork init` for a commented starter',
        { expected: 'a map with at least `stack:`', found: 'nothing' },
      ),
    );
  }
  if (!options.precise) {
    const fast = loadFast(text, file, dir);
    if (!('declined' in fast)) return fast;
  }
  const counter = new LineCounter();
  // logLevel error: problems become diagnostics; yaml must not print warnings of its own to stderr.
  const doc = parseDocument(text, {
    lineCounter: counter,
    uniqueKeys: true,
    prettyErrors: true,
    strict: true,
    keepSourceTokens: false,
    logLevel: 'error',
  });
  const source = new SourceMap(file, counter);
  if (doc.errors.length > 0) {
    const seen = new Set<string>();
    const diagnostics = doc.errors
      .map((e): Diagnostic => {
        const duplicate = e.code === 'DUPLICATE_KEY';
        const firstLine = e.message.split('\n')[0] ?? e.message;
        // yaml reports an unclosed quote where the text ends; the opening quote is where to look.
        const quote = e.code === 'MISSING_CHAR' ? /closing (["'])quote/.exec(firstLine)?.[1] : undefined;
        const pos = source.position(quote === undefined ? e.pos[0] : (openingQuote(text, e.pos[0], quote) ?? e.pos[0]));
        return {
          severity: 'error',
          code: duplicate ? 'duplicate-key' : 'yaml-syntax',
          file,
          line: pos.line,
          column: pos.column,
          path: '',
          message: duplicate
            ? 'this key appears twice in the same map'
            : `invalid YAML: ${firstLine.replace(/ at line \d+, column \d+:?$/, '')}`,
          fix: duplicate
            ? 'remove one of the two, or merge their values'
            : quote !== undefined
              ? `close the ${quote} quote that starts here, or remove it`
              : yamlFix(e.code),
        };
      })
      .filter((d) => {
        // Deep nesting can make yaml repeat one error hundreds of times at one place.
        const key = `${d.line}:${d.column}:${d.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    return { diagnostics, file, dir, configHash: '' };
  }
  return validateDocument(doc, file, dir, source);
}

const LINE_INDENT = /[^\S\n]*/y;

/** Whether some line (split at LF) has more than white space and a comment. */
function hasContent(text: string): boolean {
  for (let start = 0; start <= text.length;) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    LINE_INDENT.lastIndex = start;
    LINE_INDENT.test(text);
    const first = LINE_INDENT.lastIndex;
    if (first < end && text[first] !== '#') return true;
    start = end + 1;
  }
  return false;
}

const NO_POSITION = { line: 1, column: 1 };

/**
 * The fast path: the loaded stack when the fast reader reads the text and finds no problem at
 * all, else why not (then the precise path has the answer, with positions). Exported for tests.
 */
export function loadFast(text: string, file: string, dir: string): LoadedStack | { declined: string } {
  const read = fastReadYaml(text);
  if ('declined' in read) return read;
  // Quiet: a problem sends the text to the precise path, which describes and locates it.
  const validator = new SchemaValidator(plainTree(file), true);
  validator.validate(StackSchema as unknown as SchemaNode, read.value, []);
  if (validator.problems > 0) return { declined: `the schema reports ${validator.problems} problem(s)` };
  const loaded = finish(read.value, [], file, dir, () => NO_POSITION);
  return loaded.diagnostics.length > 0
    ? { declined: `the checks report ${loaded.diagnostics.length} problem(s)` }
    : loaded;
}

/** Offset of the quote that opens the unterminated quoted scalar running up to `end`. */
function openingQuote(text: string, end: number, quote: string): number | undefined {
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    if (text[i] !== quote) continue;
    if (quote === "'" && text[i - 1] === "'") {
      i--;
      continue;
    } // '' is an escaped quote
    let backslashes = 0;
    while (quote === '"' && text[i - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 1) continue; // \" is an escaped quote
    return i;
  }
  return undefined;
}

function yamlFix(code: string): string {
  switch (code) {
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation: nested keys need more spaces than their parent, and tabs are not allowed';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return 'put a space after each `:` and check for a missing colon on the line before';
    case 'UNEXPECTED_TOKEN':
      return 'quote values that contain : { } [ ] # or other YAML punctuation';
    case 'MULTIPLE_DOCS':
      return 'keep one document per stack file (remove the `---`)';
    default:
      return 'fix the YAML syntax at this position; quoting the value often helps';
  }
}

function validateDocument(doc: Document, file: string, dir: string, source: SourceMap | undefined): LoadedStack {
  const sm = source ?? new SourceMap(file, new LineCounter());
  const validator = new SchemaValidator(yamlTree(doc as Document.Parsed, sm));
  validator.validate(StackSchema as unknown as SchemaNode, doc.contents, [], doc.contents);
  let value: unknown;
  const recursive = recursiveAliases(doc);
  for (const r of recursive) {
    validator.report(
      'invalid-value',
      r.alias,
      r.path,
      `the alias \`*${r.alias.source}\` is inside the value it refers to, which would repeat forever`,
      {
        found: `*${r.alias.source} inside &${r.alias.source}`,
        fix: 'point the alias at a value defined outside this one, or write the value out',
      },
    );
  }
  try {
    if (recursive.length === 0) value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    validator.report('invalid-value', null, [], `the document cannot be read: ${(e as Error).message}`, {
      fix: 'reduce the use of anchors and aliases',
    });
  }
  const locate: Locate = (p, key = false) => {
    let node: unknown = doc.contents;
    let last: unknown = node;
    for (const seg of p) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        last = key && seg === p[p.length - 1] ? pair.key : (pair.value ?? pair.key);
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) break;
        last = item;
        node = item;
      } else break;
    }
    return sm.position((last as ParsedNode | null)?.range?.[0]);
  };
  return finish(value, validator.diagnostics, file, dir, locate);
}

/** Adds the checks that need the whole document to the schema's diagnostics, and hashes the config. */
function finish(
  value: unknown,
  schemaDiagnostics: Diagnostic[],
  file: string,
  dir: string,
  locate: Locate,
): LoadedStack {
  const diagnostics = [...schemaDiagnostics, ...semanticChecks(value, file, locate, dir)];
  diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  const configHash = canonicalJsonSha256(value);
  return { config: hasErrors(diagnostics) ? undefined : (value as StackConfig), diagnostics, file, dir, configHash };
}

/**
 * Aliases inside the node they refer to (`a: &x [*x]`). yaml turns them into circular values, which
 * nothing downstream can walk. An anchor is defined before its aliases, so every cycle has one.
 */
function recursiveAliases(doc: Document): { alias: Alias; path: string[] }[] {
  const found: { alias: Alias; path: string[] }[] = [];
  visit(doc, {
    Alias(_key, alias, ancestors) {
      const target = alias.resolve(doc);
      const at = alias.range?.[0];
      if (!target?.range || at === undefined || at < target.range[0] || at >= target.range[2]) return;
      const path = ancestors.filter(isPair).map((p) => (isScalar(p.key) ? String(p.key.value) : '?'));
      found.push({ alias, path });
    },
  });
  return found;
}

/** JSON with sorted keys, so equal values hash equally. Keys whose value is undefined are left out. */
export function canonicalJson(v: unknown): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v ?? null);
  const chunks: string[] = [];
  const w = new CanonicalJsonWriter((text) => chunks.push(text));
  w.value(v, false);
  chunks.push(w.text);
  return chunks.join('');
}

/**
 * sha256 (hex) of canonicalJson(v), fed to the hash piece by piece: a plan of thousands of steps
 * is megabytes of JSON, which need not exist as one string.
 */
export function canonicalJsonSha256(v: unknown): string {
  const hash = createHash('sha256');
  const w = new CanonicalJsonWriter((text) => hash.update(text));
  w.value(v, false);
  hash.update(w.text);
  return hash.digest('hex');
}

/**
 * Writes canonical JSON by concatenation and hands the text over every 64 KiB, so no string is
 * built out of millions of pieces. A map whose keys are already in order and whose values are
 * all plain (a spec's env, ports, timeouts) is written by one call of JSON.stringify.
 */
class CanonicalJsonWriter {
  text = '';

  constructor(private readonly flush: (text: string) => void) {}

  value(v: unknown, inList: boolean): void {
    if (typeof v !== 'object' || v === null) {
      // JSON.stringify writes nothing for a function or a symbol: an empty item in a list, else "undefined".
      const s = JSON.stringify(v ?? null) as string | undefined;
      this.text += s ?? (inList ? '' : 'undefined');
      if (this.text.length > 65536) {
        this.flush(this.text);
        this.text = '';
      }
      return;
    }
    if (Array.isArray(v)) {
      this.text += '[';
      for (let i = 0; i < v.length; i++) {
        if (i > 0) this.text += ',';
        // A hole leaves the item empty, as Array.prototype.join does.
        if (i in v) this.value(v[i], true);
      }
      this.text += ']';
      return;
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    let sorted = true;
    let flat = Object.getPrototypeOf(o) === Object.prototype;
    for (let i = 0; i < keys.length; i++) {
      if (i > 0 && (keys[i - 1] as string) >= (keys[i] as string)) sorted = false;
      const x = o[keys[i] as string];
      const t = typeof x;
      if ((t === 'object' && x !== null) || t === 'function' || t === 'symbol' || t === 'bigint') flat = false;
    }
    // Here JSON.stringify writes what the loop below would: strings, numbers, booleans and null as
    // JSON, undefined values left out, and no toJSON (inherited from Object.prototype: none).
    if (sorted && flat) {
      this.text += JSON.stringify(o);
      return;
    }
    if (!sorted) keys.sort();
    this.text += '{';
    let first = true;
    for (const k of keys) {
      const x = o[k];
      if (x === undefined) continue;
      this.text += first ? `${JSON.stringify(k)}:` : `,${JSON.stringify(k)}:`;
      first = false;
      this.value(x, false);
    }
    this.text += '}';
  }
}
