import type { Json } from '../model/json.js';

export interface FieldChange { path: string; before: Json | undefined; after: Json | undefined }

const isObj = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaf-level differences between two JSON values; maps recurse, lists compare whole. */
export function fieldChanges(before: Json | undefined, after: Json | undefined, prefix = ''): FieldChange[] {
  // A map that appears or disappears as a whole is shown key by key.
  if ((isObj(before) || before === undefined) && (isObj(after) || after === undefined) && (before !== undefined || after !== undefined)
    && !(isObj(before) && Object.keys(before).length === 0 && after === undefined) && !(isObj(after) && Object.keys(after).length === 0 && before === undefined)) {
    const b = before ?? {};
    const a = after ?? {};
    if (isObj(b) && isObj(a)) {
      const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
      return keys.flatMap((k) => fieldChanges(b[k], a[k], prefix ? `${prefix}.${k}` : k));
    }
  }
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => fieldChanges(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: prefix, before, after }];
}

/** A DiffResult from field changes: a change under any of `replaceOn` forces replacement. */
export function diffByFields(before: Record<string, Json>, after: Record<string, Json>, replaceOn: readonly string[]) {
  const changes = fieldChanges(before, after).map((c) => c.path);
  const top = new Set(changes.map((c) => c.split('.')[0] as string));
  return {
    changes,
    replaces: changes.filter((c) => replaceOn.some((r) => c === r || c.startsWith(`${r}.`))),
    stables: Object.keys(after).filter((k) => !top.has(k)).sort(),
  };
}
