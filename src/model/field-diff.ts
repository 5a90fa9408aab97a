import type { Json } from './json.js';

export interface FieldChange {
  path: string;
  /** Absent (or undefined) for a created field; a plan read back from JSON has no key. */
  before?: Json;
  /** Absent (or undefined) for a deleted field. */
  after?: Json;
}

const isObj = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isEmptyObj = (v: unknown): boolean => isObj(v) && Object.keys(v).length === 0;

/** Leaf-level differences between two JSON values; maps recurse, lists compare whole. */
export function fieldChanges(before: Json | undefined, after: Json | undefined, prefix = ''): FieldChange[] {
  const out: FieldChange[] = [];
  collectChanges(before, after, prefix, out);
  return out;
}

function collectChanges(before: Json | undefined, after: Json | undefined, path: string, out: FieldChange[]): void {
  if (!walksAsMap(before, after)) {
    if (!sameLeaf(before, after)) out.push({ path, before, after });
    return;
  }
  const b = (before ?? {}) as Record<string, Json>;
  const a = (after ?? {}) as Record<string, Json>;
  for (const k of unionOfKeys(b, a)) {
    const bk = b[k];
    const ak = a[k];
    // The path of an equal leaf is never needed: most of a spec is unchanged.
    if (walksAsMap(bk, ak) || !sameLeaf(bk, ak)) collectChanges(bk, ak, path ? `${path}.${k}` : k, out);
  }
}

/** Maps recurse; so does a map that appears or disappears as a whole, to show it key by key. */
function walksAsMap(before: Json | undefined, after: Json | undefined): boolean {
  return (
    (isObj(before) || before === undefined) &&
    (isObj(after) || after === undefined) &&
    (before !== undefined || after !== undefined) &&
    !(after === undefined && isEmptyObj(before)) &&
    !(before === undefined && isEmptyObj(after))
  );
}

/** The keys of both maps, each once, sorted. Most maps compared have the same keys in the same order. */
function unionOfKeys(b: Record<string, Json>, a: Record<string, Json>): string[] {
  const kb = Object.keys(b);
  const ka = Object.keys(a);
  if (kb.length === 0) return ka.sort();
  if (ka.length === 0) return kb.sort();
  if (kb.length === ka.length && kb.every((k, i) => k === ka[i])) return kb.sort();
  return [...new Set([...kb, ...ka])].sort();
}

/**
 * Whether two leaves (lists compare whole) are equal as JSON text. Identical values and a missing
 * side are answered without writing JSON; so are lists of identical items, the usual case.
 */
function sameLeaf(before: Json | undefined, after: Json | undefined): boolean {
  if (before === after) return true;
  if ((before === undefined && isJsonValue(after)) || (after === undefined && isJsonValue(before))) return false;
  if (Array.isArray(before) && Array.isArray(after) && sameItems(before, after)) return true;
  return JSON.stringify(before) === JSON.stringify(after);
}

function sameItems(before: readonly unknown[], after: readonly unknown[]): boolean {
  if (before.length !== after.length) return false;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) return false;
  return true;
}

/** A value JSON.stringify writes (it writes nothing for undefined, functions and symbols). */
function isJsonValue(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
}

/** A DiffResult from field changes: a change under any of `replaceOn` forces replacement. */
export function diffByFields(before: Record<string, Json>, after: Record<string, Json>, replaceOn: readonly string[]) {
  const changes = fieldChanges(before, after).map((c) => c.path);
  const top = new Set(changes.map((c) => c.split('.')[0] as string));
  return {
    changes,
    replaces: changes.filter((c) => replaceOn.some((r) => c === r || c.startsWith(`${r}.`))),
    stables: Object.keys(after)
      .filter((k) => !top.has(k))
      .sort(),
  };
}
