/**
 * SQLite answers synchronously; the store contract (store.ts) is asynchronous so a networked
 * backend (PostgreSQL) can implement it. A facade turns a synchronous area into its async
 * contract. The statement runs at call time, before the first await: calls keep their order,
 * and one method call is still one transaction.
 */

/** `T`'s methods, each returning a promise of what it returned. */
export type Async<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/**
 * Wraps the named methods of `core`. A throw becomes a rejection, so callers see one failure
 * path whichever backend runs. Check the result against the contract with `satisfies`.
 */
export function asyncFacade<T extends object, K extends keyof Async<T>>(
  core: T,
  methods: readonly K[],
): Pick<Async<T>, K> {
  const facade: Record<string, unknown> = {};
  for (const m of methods) {
    const fn = core[m as keyof T];
    if (typeof fn !== 'function') throw new Error(`asyncFacade: ${String(m)} is not a method`);
    facade[m as string] = (...args: unknown[]): Promise<unknown> => {
      try {
        return Promise.resolve((fn as (...a: unknown[]) => unknown).apply(core, args));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
  }
  return Object.freeze(facade) as Pick<Async<T>, K>;
}
