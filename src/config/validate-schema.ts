/**
 * Walks the JSON Schema beside the YAML tree so every problem keeps its line and column.
 * Collects all problems; never throws on input.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node, type ParsedNode } from 'yaml';
import { didYouMean } from '../util/did-you-mean.js';
import type { Diagnostic, DiagnosticCode } from './diagnostic.js';
import type { SourceMap } from './source.js';

/** The subset of JSON Schema that our schema uses. */
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

const MAX_ALIAS_DEPTH = 32;

export class SchemaValidator {
  readonly diagnostics: Diagnostic[] = [];

  constructor(private readonly doc: Document.Parsed, private readonly source: SourceMap) {}

  validate(schema: SchemaNode, node: unknown, path: string[], at?: Node | null): void {
    this.walk(schema, this.deref(node), path, (at ?? (node as Node | null)) ?? null, 0);
  }

  report(code: DiagnosticCode, node: Node | null | undefined, path: string[], message: string, extra: Partial<Diagnostic> = {}): void {
    const range = (node as ParsedNode | null | undefined)?.range;
    const pos = this.source.position(range?.[0]);
    this.diagnostics.push({ severity: 'error', code, file: this.source.file, line: pos.line, column: pos.column, path: path.join('.'), message, ...extra });
  }

  private deref(node: unknown, depth = 0): unknown {
    if (isAlias(node) && depth < MAX_ALIAS_DEPTH) return this.deref(node.resolve(this.doc), depth + 1);
    return node;
  }

  private walk(schema: SchemaNode, node: unknown, path: string[], at: Node | null, depth: number): void {
    if (depth > 64) { this.report('invalid-value', at, path, 'the document nests too deeply'); return; }
    if (schema.anyOf) return this.walkUnion(schema, node, path, at, depth);
    if (schema.const !== undefined) {
      if (!isScalar(node) || node.value !== schema.const) this.mismatch(schema, node, path, at, JSON.stringify(schema.const));
      return;
    }
    switch (schema.type) {
      case 'object': return this.walkObject(schema, node, path, at, depth);
      case 'array': return this.walkArray(schema, node, path, at, depth);
      case 'string': return this.walkString(schema, node, path, at);
      case 'integer':
      case 'number': return this.walkNumber(schema, node, path, at);
      case 'boolean':
        if (!isScalar(node) || typeof node.value !== 'boolean') this.mismatch(schema, node, path, at, 'true or false');
        return;
      default: return;
    }
  }

  private walkUnion(schema: SchemaNode, node: unknown, path: string[], at: Node | null, depth: number): void {
    const options = schema.anyOf ?? [];
    const consts = options.filter((o) => o.const !== undefined).map((o) => String(o.const));
    if (consts.length === options.length) {
      const v = isScalar(node) ? node.value : undefined;
      if (typeof v === 'string' && consts.includes(v)) return;
      const guess = typeof v === 'string' ? didYouMean(v, consts) : undefined;
      this.report('invalid-value', (node as Node) ?? at, path, `${label(path)} must be one of ${consts.join(', ')}`, {
        expected: `one of ${consts.join(', ')}`, found: describe(node),
        fix: guess ? `did you mean \`${guess}\`?` : (schema['x-fix'] ?? `use one of: ${consts.join(', ')}`),
      });
      return;
    }
    for (const option of options) {
      const probe = new SchemaValidator(this.doc, this.source);
      probe.walk(option, node, path, at, depth + 1);
      if (probe.diagnostics.length === 0) return;
    }
    // Several shapes were possible and none matched: if exactly one option has the right
    // container type, its detailed problems are the most useful.
    const sameType = options.filter((o) => typeMatches(o, node));
    if (sameType.length === 1 && sameType[0]?.type !== 'string') {
      this.walk(sameType[0] as SchemaNode, node, path, at, depth + 1);
      return;
    }
    this.mismatch(schema, node, path, at, options.map(describeSchema).join(' or '));
  }

  private walkObject(schema: SchemaNode, node: unknown, path: string[], at: Node | null, depth: number): void {
    if (!isMap(node)) {
      // The x-fix of a map is about its key names, which does not help when the shape is wrong.
      const fix = path.length === 0 ? 'a stack file is a map of keys; start it with `stack: NAME`'
        : isSeq(node) ? `write ${label(path)} as a map (\`name: value\` lines), not as a list of \`- \` items` : 'write a map of keys to values';
      this.mismatch({ ...schema, 'x-fix': fix }, node, path, at, 'a map of keys to values');
      return;
    }
    const props = schema.properties ?? {};
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key !== 'string' && typeof key !== 'number') {
        this.report('wrong-type', keyNode, path, `keys in ${label(path)} must be plain words`, { found: describe(keyNode), fix: 'write the key as plain text' });
        continue;
      }
      const k = String(key);
      seen.add(k);
      const childPath = [...path, k];
      const valueNode = this.deref(pair.value);
      // Own properties only: keys such as `constructor` or `__proto__` must not find Object.prototype.
      const sub = Object.hasOwn(props, k) ? props[k] : undefined;
      if (sub) { this.walk(sub, valueNode, childPath, (pair.value as Node | null) ?? keyNode, depth + 1); continue; }
      const patterns = Object.entries(schema.patternProperties ?? {});
      if (patterns.length > 0) {
        const [pattern, itemSchema] = patterns[0] as [string, SchemaNode];
        if (!new RegExp(pattern).test(k)) {
          this.report('invalid-value', keyNode, childPath, `"${k}" is not a valid name in ${label(path)}`, {
            expected: `a name matching ${pattern}`, found: JSON.stringify(k), fix: schema['x-fix'] ?? `rename it to match ${pattern}`,
          });
        }
        this.walk(itemSchema, valueNode, childPath, (pair.value as Node | null) ?? keyNode, depth + 1);
        continue;
      }
      if (typeof schema.additionalProperties === 'object') {
        this.walk(schema.additionalProperties, valueNode, childPath, (pair.value as Node | null) ?? keyNode, depth + 1);
        continue;
      }
      const guess = didYouMean(k, Object.keys(props));
      const where = path.length === 0 ? 'at the top level' : `in ${label(path)}`;
      this.report('unknown-key', keyNode, childPath, `unknown key \`${k}\` ${where}`, {
        expected: `one of ${Object.keys(props).filter((p) => p !== '$schema').join(', ')}`, found: `\`${k}\``,
        fix: guess ? `did you mean \`${guess}\`?` : (k === '<<' ? 'merge keys are not supported; write the keys out' : 'remove it or check the spelling against the stack file reference'),
      });
    }
    for (const req of schema.required ?? []) {
      if (!seen.has(req)) {
        const sub = props[req];
        this.report('missing-key', at ?? node, [...path, req], `${path.length ? label(path) : 'the stack file'} is missing \`${req}\``, {
          expected: `a key \`${req}\`${sub?.description ? ` (${sub.description})` : ''}`, found: 'nothing', fix: `add \`${req}: ...\``,
        });
      }
    }
  }

  private walkArray(schema: SchemaNode, node: unknown, path: string[], at: Node | null, depth: number): void {
    if (!isSeq(node)) { this.mismatch(schema, node, path, at, 'a list'); return; }
    const seen = new Map<string, number>();
    node.items.forEach((item, i) => {
      if (schema.items) this.walk(schema.items, this.deref(item), [...path, String(i)], (item as Node | null) ?? at, depth + 1);
      if (schema.uniqueItems && isScalar(item)) {
        const key = JSON.stringify(item.value);
        if (seen.has(key)) this.report('invalid-value', item as Node, [...path, String(i)], `${label(path)} lists ${key} twice`, { fix: 'remove the duplicate' });
        seen.set(key, i);
      }
    });
  }

  private walkString(schema: SchemaNode, node: unknown, path: string[], at: Node | null): void {
    if (!isScalar(node) || typeof node.value !== 'string') { this.mismatch(schema, node, path, at, schema['x-expected'] ?? 'text'); return; }
    const v = node.value;
    if (schema.minLength !== undefined && v.length < schema.minLength) {
      this.report('invalid-value', node, path, `${label(path)} must not be empty`, { found: '""', fix: schema['x-fix'] ?? 'give it a value or remove the key' });
      return;
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(v)) {
      this.report('invalid-value', node, path, `${label(path)} has an invalid value ${JSON.stringify(truncate(v))}`, {
        expected: schema.description ?? `text matching ${schema.pattern}`, found: JSON.stringify(truncate(v)), fix: schema['x-fix'] ?? `match ${schema.pattern}`,
      });
    }
  }

  private walkNumber(schema: SchemaNode, node: unknown, path: string[], at: Node | null): void {
    const v = isScalar(node) ? node.value : undefined;
    const what = schema.type === 'integer' ? 'a whole number' : 'a number';
    if (typeof v !== 'number' || (schema.type === 'integer' && !Number.isInteger(v))) { this.mismatch(schema, node, path, at, what); return; }
    const bad = (schema.minimum !== undefined && v < schema.minimum) || (schema.maximum !== undefined && v > schema.maximum)
      || (schema.exclusiveMinimum !== undefined && v <= schema.exclusiveMinimum);
    if (bad) {
      const range = `${schema.exclusiveMinimum !== undefined ? `more than ${schema.exclusiveMinimum}` : `at least ${schema.minimum ?? '-∞'}`} and at most ${schema.maximum ?? '∞'}`;
      this.report('invalid-value', node as Node, path, `${label(path)} is out of range`, { expected: `${what} ${range}`, found: String(v), fix: schema['x-fix'] ?? `use a value ${range}` });
    }
  }

  private mismatch(schema: SchemaNode, node: unknown, path: string[], at: Node | null, expected: string): void {
    // A value of the wrong shape reached through an alias is reported where the alias is used.
    const target = (isAlias(at) ? at : isScalar(node) || isMap(node) || isSeq(node) ? node : at) as Node | null;
    let fix = schema['x-fix'] ?? `write ${expected}`;
    if (isScalar(node) && typeof node.value === 'number' && schema.type === 'string' && !fix.includes('quot')
      && (schema.pattern === undefined || new RegExp(schema.pattern).test(String(node.value)))) fix = `${fix}; quote it if it is meant as text, e.g. "${node.value}"`;
    if (path.length > 0 && (node === null || (isScalar(node) && node.value === null))) fix = `give ${label(path)} a value, or remove the key`;
    this.report('wrong-type', target, path, `${label(path)} should be ${expected}`, { expected, found: describe(node), fix });
  }
}

function label(path: string[]): string {
  return path.length ? `\`${path.join('.')}\`` : 'the document';
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeMatches(schema: SchemaNode, node: unknown): boolean {
  switch (schema.type) {
    case 'object': return isMap(node);
    case 'array': return isSeq(node);
    case 'string': return isScalar(node) && typeof node.value === 'string';
    case 'integer': case 'number': return isScalar(node) && typeof node.value === 'number';
    case 'boolean': return isScalar(node) && typeof node.value === 'boolean';
    default: return false;
  }
}

function describeSchema(s: SchemaNode): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s.type) {
    case 'object': return 'a map';
    case 'array': return 'a list';
    case 'string': return 'text';
    case 'integer': return 'a whole number';
    case 'number': return 'a number';
    case 'boolean': return 'true or false';
    default: return 'a value';
  }
}

export function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing (null)';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'nothing (null)';
    if (typeof v === 'string') return `text ${JSON.stringify(truncate(v))}`;
    if (typeof v === 'number') return `the number ${v}`;
    if (typeof v === 'boolean') return `the boolean ${v}`;
    return 'a value';
  }
  return 'a value';
}
