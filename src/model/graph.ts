import type { Address } from './resource.js';

/**
 * Kahn's algorithm taking the smallest ready address first (a heap, so n log n), so the order
 * is deterministic.
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
  const ready = new MinHeap<Address>();
  for (const i of items) if (indegree.get(i.address) === 0) ready.push(i.address);
  const out: T[] = [];
  for (let a = ready.pop(); a !== undefined; a = ready.pop()) {
    out.push(byAddr.get(a) as T);
    for (const d of dependents.get(a) ?? []) {
      const n = (indegree.get(d) ?? 0) - 1;
      indegree.set(d, n);
      if (n === 0) ready.push(d);
    }
  }
  if (out.length < items.length) {
    const seen = new Set(out.map((o) => o.address));
    out.push(...items.filter((i) => !seen.has(i.address)).sort((a, b) => a.address.localeCompare(b.address)));
  }
  return out;
}

/** A binary min-heap of strings (in code-unit order, that of Array.prototype.sort) or numbers. */
export class MinHeap<S extends string | number> {
  private readonly a: S[] = [];

  peek(): S | undefined {
    return this.a[0];
  }

  push(x: S): void {
    const a = this.a;
    let i = a.push(x) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as S;
      if (p <= x) break;
      a[i] = p;
      i = parent;
    }
    a[i] = x;
  }

  pop(): S | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && (a[r] as S) < (a[l] as S) ? r : l;
      if ((a[c] as S) >= last) break;
      a[i] = a[c] as S;
      i = c;
    }
    a[i] = last;
    return top;
  }
}
