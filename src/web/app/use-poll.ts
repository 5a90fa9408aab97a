/**
 * The first pages' name for useApi with a loader (use-api.ts); kept so pages written against it
 * keep building. New code calls useApi.
 */
import { useApi } from './use-api.js';

export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  reload(): void;
}

export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, everyMs: number, key = ''): Polled<T> {
  const s = useApi(load, { every: everyMs, key });
  return { data: s.data, error: s.error, reload: s.refresh };
}
