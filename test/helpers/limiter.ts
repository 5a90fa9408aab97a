/**
 * At most `n` of a file's concurrent cases at once. `describe.concurrent` starts every case of a
 * suite together (up to vitest's global maxConcurrency); cases that each start several node
 * processes would then starve one another on a small machine, so they queue here instead.
 */
export type Limiter = <T>(work: () => Promise<T>) => Promise<T>;

export function limiter(n: number): Limiter {
  if (!Number.isInteger(n) || n < 1) throw new Error(`limiter: expected a whole number of slots >= 1, got ${n}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so `running` never drops below the queue's need.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
