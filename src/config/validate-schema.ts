/**
 * Walks the JSON Schema beside the document tree so every problem keeps its line and column.
 * Collects all problems; never throws on input.
 *
 * The rules are written once against `SchemaTree`, which has two readers: the YAML node tree
 * with positions (`yamlTree`, the precise path) and plain JS values (`plainTree`, the fast path
 * of load.ts, which only needs to know that there is no problem at all).
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Document,
  type ParsedNode,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { didYouMean } from '../util/did-you-mean.js';
import type { Diagnostic, DiagnosticCode } from './diagnostic.js';
import { resolvePlainScalar } from './plain-scalar.js';
import type { SourceMap } from './source.js';

/** The subset of JSON Schema that our schema uses. */
/** Top-level sections that were renamed: the error says the new name rather than a spelling guess. */
const RENAMED_SECTIONS: Readonly<Record<string, string>> = { users: 'people' };

export interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean | SchemaNode;
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  uniqueItems?: boolean;
  anyOf?: SchemaNode[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  description?: string;
  'x-fix'?: string;
  'x-expected'?: string;
}

/** One entry of a map: `keyValue` is the key's scalar value, undefined when the key is not a plain scalar. */
export interface TreePair {
  key: unknown;
  keyValue: unknown;
  value: unknown;
}

/** What the validator reads from a document tree. Nodes are opaque to it. */
export interface SchemaTree {
  readonly file: string;
  /** The node an alias names (YAML); other nodes unchanged. */
  deref(node: unknown): unknown;
  isAlias(node: unknown): boolean;
  isMap(node: unknown): boolean;
  isSeq(node: unknown): boolean;
  isScalar(node: unknown): boolean;
  /** The value of a scalar node (null for an empty one); undefined for anything else. */
  scalarValue(node: unknown): unknown;
  pairs(map: unknown): TreePair[];
  items(seq: unknown): readonly unknown[];
  /** Where a node starts; line 1, column 1 when the tree has no positions. */
  position(node: unknown): { line: number; column: number };
}

const MAX_ALIAS_DEPTH = 32;

/** The YAML node tree of a parsed document, with positions. */
export function yamlTree(doc: Document.Parsed, source: SourceMap): SchemaTree {
  const deref = (node: unknown, depth = 0): unknown =>
    isAlias(node) && depth < MAX_ALIAS_DEPTH ? deref(node.resolve(doc), depth + 1) : node;
  return {
    file: source.file,
    deref: (node) => deref(node),
    isAlias,
    isMap,
    isSeq,
    isScalar,
    scalarValue: (node) => (isScalar(node) ? node.value : undefined),
    pairs: (map) =>
      (map as YAMLMap).items.filter(isPair).map((pair): TreePair => ({
        key: pair.key,
        keyValue: isScalar(pair.key) ? pair.key.value : undefined,
        value: pair.value,
      })),
    items: (seq) => (seq as YAMLSeq).items,
    position: (node) => source.position((node as ParsedNode | null | undefined)?.range?.[0]),
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isPrimitive = (v: unknown): boolean =>
  v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Longest key the fast path takes at its word: YAML limits implicit keys to 1024 characters. */
const MAX_PLAIN_KEY = 1000;

/**
 * Plain JS values as a YAML loader without positions produces them. Object keys are strings
 * there, so `true:` and `"true":` look alike; a key that a YAML 1.2 core schema would read as
 * null or a boolean, or that is too long to be an implicit key, is reported as not plain, which
 * sends the loader to the precise path.
 */
export function plainTree(file: string): SchemaTree {
  const position = { line: 1, column: 1 };
  return {
    file,
    deref: (node) => node,
    isAlias: () => false,
    isMap: isPlainObject,
    isSeq: Array.isArray,
    isScalar: isPrimitive,
    scalarValue: (node) => (isPrimitive(node) ? (node ?? null) : undefined),
    pairs(map) {
      const o = map as Record<string, unknown>;
      return Object.keys(o).map((key): TreePair => {
        const resolved = key.length > MAX_PLAIN_KEY ? null : resolvePlainScalar(key);
        const plain = typeof resolved === 'string' || typeof resolved === 'number';
        return { key, keyValue: plain ? key : undefined, value: o[key] };
      });
    },
    items: (seq) => seq as unknown[],
    position: () => position,
  };
}

const NO_PROPERTIES: Record<string, SchemaNode> = Object.freeze({});

const patterns = new Map<string, RegExp>();
/** Compiled once: the same few patterns are tested for every resource. */
function regex(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (!re) {
    re = new RegExp(pattern);
    patterns.set(pattern, re);
  }
  return re;
}

const unionConsts = new WeakMap<SchemaNode, string[] | null>();
/** The allowed values when every option of a union is a constant, else null. */
function constsOf(schema: SchemaNode): string[] | null {
  let consts = unionConsts.get(schema);
  if (consts === undefined) {
    const options = schema.anyOf ?? [];
    consts = options.every((o) => o.const !== undefined) ? options.map((o) => String(o.const)) : null;
    unionConsts.set(schema, consts);
  }
  return consts;
}

export class SchemaValidator {
  readonly diagnostics: Diagnostic[] = [];
  /** Problems found; a quiet validator (a probe of one option of a union) only counts them. */
  problems = 0;

  constructor(
    private readonly tree: SchemaTree,
    private readonly quiet = false,
  ) {}

  validate(schema: SchemaNode, node: unknown, path: string[], at?: unknown): void {
    this.walk(schema, this.tree.deref(node), path, at ?? node ?? null, 0);
  }

  report(code: DiagnosticCode, node: unknown, path: string[], message: string, extra: Partial<Diagnostic> = {}): void {
    this.problems++;
    if (this.quiet) return;
    const pos = this.tree.position(node);
    this.diagnostics.push({
      severity: 'error',
      code,
      file: this.tree.file,
      line: pos.line,
      column: pos.column,
      path: path.join('.'),
      message,
      ...extra,
    });
  }

  private walk(schema: SchemaNode, node: unknown, path: string[], at: unknown, depth: number): void {
    if (depth > 64) {
      this.report('invalid-value', at, path, 'the document nests too deeply');
      return;
    }
    if (schema.anyOf) return this.walkUnion(schema, node, path, at, depth);
    const t = this.tree;
    if (schema.const !== undefined) {
      if (!t.isScalar(node) || t.scalarValue(node) !== schema.const)
        this.mismatch(schema, node, path, at, JSON.stringify(schema.const));
      return;
    }
    switch (schema.type) {
      case 'object':
        return this.walkObject(schema, node, path, at, depth);
      case 'array':
        return this.walkArray(schema, node, path, at, depth);
      case 'string':
        return this.walkString(schema, node, path, at);
      case 'integer':
      case 'number':
        return this.walkNumber(schema, node, path, at);
      case 'boolean':
        if (!t.isScalar(node) || typeof t.scalarValue(node) !== 'boolean')
          this.mismatch(schema, node, path, at, 'true or false');
        return;
      default:
        return;
    }
  }

  private walkUnion(schema: SchemaNode, node: unknown, path: string[], at: unknown, depth: number): void {
    const t = this.tree;
    const options = schema.anyOf ?? [];
    const consts = constsOf(schema);
    if (consts) {
      const v = t.isScalar(node) ? t.scalarValue(node) : undefined;
      if (typeof v === 'string' && consts.includes(v)) return;
      const guess = typeof v === 'string' ? didYouMean(v, consts) : undefined;
      this.report('invalid-value', node ?? at, path, `${label(path)} must be one of ${consts.join(', ')}`, {
        expected: `one of ${consts.join(', ')}`,
        found: describe(node, t),
        fix: guess ? `did you mean \`${guess}\`?` : (schema['x-fix'] ?? `use one of: ${consts.join(', ')}`),
      });
      return;
    }
    for (const option of options) {
      const probe = new SchemaValidator(t, true);
      probe.walk(option, node, path, at, depth + 1);
      if (probe.problems === 0) return;
    }
    // Several shapes were possible and none matched: if exactly one option has the right
    // container type, its detailed problems are the most useful.
    const sameType = options.filter((o) => typeMatches(o, node, t));
    if (sameType.length === 1 && sameType[0]?.type !== 'string') {
      this.walk(sameType[0] as SchemaNode, node, path, at, depth + 1);
      return;
    }
    this.mismatch(schema, node, path, at, options.map(describeSchema).join(' or '));
  }

  private walkObject(schema: SchemaNode, node: unknown, path: string[], at: unknown, depth: number): void {
    const t = this.tree;
    if (!t.isMap(node)) {
      // The x-fix of a map is about its key names, which does not help when the shape is wrong.
      const fix =
        path.length === 0
          ? 'a stack file is a map of keys; start it with `stack: NAME`'
          : t.isSeq(node)
            ? `write ${label(path)} as a map (\`name: value\` lines), not as a list of \`- \` items`
            : 'write a map of keys to values';
      this.mismatch({ ...schema, 'x-fix': fix }, node, path, at, 'a map of keys to values');
      return;
    }
    const props = schema.properties ?? NO_PROPERTIES;
    const pattern = schema.patternProperties ? Object.entries(schema.patternProperties)[0] : undefined;
    const seen = schema.required?.length ? new Set<string>() : undefined;
    for (const pair of t.pairs(node)) {
      const keyNode = pair.key;
      const key = pair.keyValue;
      if (typeof key !== 'string' && typeof key !== 'number') {
        this.report('wrong-type', keyNode, path, `keys in ${label(path)} must be plain words`, {
          found: describe(keyNode, t),
          fix: 'write the key as plain text',
        });
        continue;
      }
      const k = String(key);
      seen?.add(k);
      const childPath = [...path, k];
      const valueNode = t.deref(pair.value);
      const childAt = pair.value ?? keyNode;
      // Own properties only: keys such as `constructor` or `__proto__` must not find Object.prototype.
      const sub = Object.hasOwn(props, k) ? props[k] : undefined;
      if (sub) {
        this.walk(sub, valueNode, childPath, childAt, depth + 1);
        continue;
      }
      if (pattern) {
        const [source, itemSchema] = pattern;
        if (!regex(source).test(k)) {
          this.report('invalid-value', keyNode, childPath, `"${k}" is not a valid name in ${label(path)}`, {
            expected: `a name matching ${source}`,
            found: JSON.stringify(k),
            fix: schema['x-fix'] ?? `rename it to match ${source}`,
          });
        }
        this.walk(itemSchema, valueNode, childPath, childAt, depth + 1);
        continue;
      }
      if (typeof schema.additionalProperties === 'object') {
        this.walk(schema.additionalProperties, valueNode, childPath, childAt, depth + 1);
        continue;
      }
      const renamed = path.length === 0 ? RENAMED_SECTIONS[k] : undefined;
      const guess = renamed ?? didYouMean(k, Object.keys(props));
      const where = path.length === 0 ? 'at the top level' : `in ${label(path)}`;
      this.report('unknown-key', keyNode, childPath, `unknown key \`${k}\` ${where}`, {
        expected: `one of ${Object.keys(props)
          .filter((p) => p !== '$schema')
          .join(', ')}`,
        found: `\`${k}\``,
        fix: renamed
          ? `the section is now called \`${renamed}:\`; rename it (same fields)`
          : guess
            ? `did you mean \`${guess}\`?`
            : k === '<<'
              ? 'merge keys are not supported; write the keys out'
              : 'remove it or check the spelling against the stack file reference',
      });
    }
    for (const req of schema.required ?? []) {
      if (!seen?.has(req)) {
        const sub = props[req];
        this.report(
          'missing-key',
          at ?? node,
          [...path, req],
          `${path.length ? label(path) : 'the stack file'} is missing \`${req}\``,
          {
            expected: `a key \`${req}\`${sub?.description ? ` (${sub.description})` : ''}`,
            found: 'nothing',
            fix: `add \`${req}: ...\``,
          },
        );
      }
    }
  }

  private walkArray(schema: SchemaNode, node: unknown, path: string[], at: unknown, depth: number): void {
    const t = this.tree;
    if (!t.isSeq(node)) {
      this.mismatch(schema, node, path, at, 'a list');
      return;
    }
    const seen = new Map<string, number>();
    t.items(node).forEach((item, i) => {
      if (schema.items) this.walk(schema.items, t.deref(item), [...path, String(i)], item ?? at, depth + 1);
      if (schema.uniqueItems && t.isScalar(item)) {
        const key = JSON.stringify(t.scalarValue(item));
        if (seen.has(key))
          this.report('invalid-value', item, [...path, String(i)], `${label(path)} lists ${key} twice`, {
            fix: 'remove the duplicate',
          });
        seen.set(key, i);
      }
    });
  }

  private walkString(schema: SchemaNode, node: unknown, path: string[], at: unknown): void {
    const t = this.tree;
    const v = t.isScalar(node) ? t.scalarValue(node) : undefined;
    if (typeof v !== 'string') {
      this.mismatch(schema, node, path, at, schema['x-expected'] ?? 'text');
      return;
    }
    if (schema.minLength !== undefined && v.length < schema.minLength) {
      this.report('invalid-value', node, path, `${label(path)} must not be empty`, {
        found: '""',
        fix: schema['x-fix'] ?? 'give it a value or remove the key',
      });
      return;
    }
    if (schema.pattern !== undefined && !regex(schema.pattern).test(v)) {
      this.report('invalid-value', node, path, `${label(path)} has an invalid value ${JSON.stringify(truncate(v))}`, {
        expected: schema.description ?? `text matching ${schema.pattern}`,
        found: JSON.stringify(truncate(v)),
        fix: schema['x-fix'] ?? `match ${schema.pattern}`,
      });
    }
  }

  private walkNumber(schema: SchemaNode, node: unknown, path: string[], at: unknown): void {
    const t = this.tree;
    const v = t.isScalar(node) ? t.scalarValue(node) : undefined;
    const what = schema.type === 'integer' ? 'a whole number' : 'a number';
    if (typeof v !== 'number' || (schema.type === 'integer' && !Number.isInteger(v))) {
      this.mismatch(schema, node, path, at, what);
      return;
    }
    const bad =
      (schema.minimum !== undefined && v < schema.minimum) ||
      (schema.maximum !== undefined && v > schema.maximum) ||
      (schema.exclusiveMinimum !== undefined && v <= schema.exclusiveMinimum);
    if (bad) {
      const range = `${schema.exclusiveMinimum !== undefined ? `more than ${schema.exclusiveMinimum}` : `at least ${schema.minimum ?? '-∞'}`} and at most ${schema.maximum ?? '∞'}`;
      this.report('invalid-value', node, path, `${label(path)} is out of range`, {
        expected: `${what} ${range}`,
        found: String(v),
        fix: schema['x-fix'] ?? `use a value ${range}`,
      });
    }
  }

  private mismatch(schema: SchemaNode, node: unknown, path: string[], at: unknown, expected: string): void {
    const t = this.tree;
    // A value of the wrong shape reached through an alias is reported where the alias is used.
    const target = t.isAlias(at) ? at : t.isScalar(node) || t.isMap(node) || t.isSeq(node) ? node : at;
    const value = t.isScalar(node) ? t.scalarValue(node) : undefined;
    let fix = schema['x-fix'] ?? `write ${expected}`;
    if (
      typeof value === 'number' &&
      schema.type === 'string' &&
      !fix.includes('quot') &&
      (schema.pattern === undefined || regex(schema.pattern).test(String(value)))
    )
      fix = `${fix}; quote it if it is meant as text, e.g. "${value}"`;
    if (path.length > 0 && (node === null || (t.isScalar(node) && value === null)))
      fix = `give ${label(path)} a value, or remove the key`;
    this.report('wrong-type', target, path, `${label(path)} should be ${expected}`, {
      expected,
      found: describe(node, t),
      fix,
    });
  }
}

function label(path: string[]): string {
  return path.length ? `\`${path.join('.')}\`` : 'the document';
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeMatches(schema: SchemaNode, node: unknown, t: SchemaTree): boolean {
  const v = t.isScalar(node) ? t.scalarValue(node) : undefined;
  switch (schema.type) {
    case 'object':
      return t.isMap(node);
    case 'array':
      return t.isSeq(node);
    case 'string':
      return typeof v === 'string';
    case 'integer':
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return false;
  }
}

function describeSchema(s: SchemaNode): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s.type) {
    case 'object':
      return 'a map';
    case 'array':
      return 'a list';
    case 'string':
      return 'text';
    case 'integer':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return 'a value';
  }
}

export function describe(node: unknown, t: SchemaTree): string {
  if (node === null || node === undefined) return 'nothing (null)';
  if (t.isMap(node)) return 'a map';
  if (t.isSeq(node)) return 'a list';
  if (t.isScalar(node)) {
    const v = t.scalarValue(node);
    if (v === null) return 'nothing (null)';
    if (typeof v === 'string') return `text ${JSON.stringify(truncate(v))}`;
    if (typeof v === 'number') return `the number ${v}`;
    if (typeof v === 'boolean') return `the boolean ${v}`;
    return 'a value';
  }
  return 'a value';
}
