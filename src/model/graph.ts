import type { Address } from './resource.js';

/**
 * Kahn's algorithm with a sorted ready set, so the order is deterministic.
 * Edges to unknown addresses are ignored (validation reports them). Nodes left in a cycle
 * are appended in address order (validation reports cycles before we get here).
 */
export function topologicalOrder<T extends { address: Address; dependsOn: Address[] }>(items: T[]): T[] {
  const byAddr = new Map(items.map((i) => [i.address, i]));
  const indegree = new Map<Address, number>();
  const dependents = new Map<Address, Address[]>();
  for (const i of items) {
    const deps = i.dependsOn.filter((d) => byAddr.has(d));
    indegree.set(i.address, deps.length);
    for (const d of deps) {
      const list = dependents.get(d) ?? [];
      list.push(i.address);
      dependents.set(d, list);
    }
  }
  const ready = items.filter((i) => indegree.get(i.address) === 0).map((i) => i.address).sort();
  const out: T[] = [];
  while (ready.length) {
    const a = ready.shift() as Address;
    out.push(byAddr.get(a) as T);
    const next: Address[] = [];
    for (const d of dependents.get(a) ?? []) {
      const n = (indegree.get(d) ?? 0) - 1;
      indegree.set(d, n);
      if (n === 0) next.push(d);
    }
    if (next.length) {
      ready.push(...next);
      ready.sort();
    }
  }
  if (out.length < items.length) {
    const seen = new Set(out.map((o) => o.address));
    out.push(...items.filter((i) => !seen.has(i.address)).sort((a, b) => a.address.localeCompare(b.address)));
  }
  return out;
}
