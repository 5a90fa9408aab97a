/**
 * A store whose asynchronous areas answer a turn late: every call waits one `setImmediate` before
 * it reaches the real store. SQLite answers at once, which hides the interleavings a networked
 * backend (PostgreSQL) shows; through this decorator, two flows that each read then write run
 * their steps in turns, so a read-modify-write that is not one store method loses an update in
 * the test, not in production (issue 8, plan §5).
 *
 *   const slow = slowStore(store);            // the same store; its async areas answer late
 *   ctx.releases = slow.releases;
 */
import type { Store } from '../../src/store/store.js';

type Method = (...args: never[]) => unknown;

/** The areas of `Store` whose every method returns a promise (the ones on the async contract). */
export type AsyncAreaName = {
  [K in keyof Store]: Store[K] extends Method
    ? never
    : {
          [M in keyof Store[K]]: Store[K][M] extends (...args: never[]) => Promise<unknown> ? true : false;
        }[keyof Store[K]] extends true
      ? K
      : never;
}[keyof Store];

/**
 * Every area of the contract. The type checks each entry: an area whose methods were synchronous
 * would not compile here (delaying it would turn its results into promises).
 */
export const ASYNC_AREAS = [
  'resources',
  'journal',
  'leases',
  'releases',
  'events',
  'tokens',
  'audit',
  'changeRequests',
  'outbox',
  'alerts',
  'incidents',
] as const satisfies readonly AsyncAreaName[];

/** One macrotask turn: timers, I/O callbacks and other flows' continuations run first. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The same store (the same connection), with the given async areas answering a turn late. */
export function slowStore<S extends Store>(store: S, areas: readonly AsyncAreaName[] = ASYNC_AREAS): S {
  const slow = new Map<PropertyKey, object>(areas.map((a) => [a, delayed(store[a])]));
  return new Proxy(store, {
    get: (target, p, receiver) => slow.get(p) ?? Reflect.get(target, p, receiver),
  });
}

/**
 * A new object, not a Proxy: an area may be frozen (asyncFacade freezes its facades), and a Proxy
 * must return a frozen property's own value.
 */
function delayed<T extends object>(area: T): T {
  const out: Record<PropertyKey, unknown> = {};
  for (
    let o: object | null = area;
    o !== null && o !== Object.prototype;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(o)) {
      const v: unknown = Reflect.get(area, name);
      if (name === 'constructor' || name in out || typeof v !== 'function') continue;
      out[name] = async (...args: unknown[]): Promise<unknown> => {
        await nextTurn();
        return (v as (...a: unknown[]) => unknown).apply(area, args);
      };
    }
  }
  return out as T;
}
