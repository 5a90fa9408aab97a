/**
 * The pages' one way to read the API: load now, again every `every` ms (optional), keep the last
 * good answer while a later load fails, and load again on demand after an action.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getJson } from './api.js';
import { errorText } from './format.js';

export interface ApiState<T> {
  data: T | undefined;
  /** The last load's failure, cleared by the next good answer. */
  error: string | undefined;
  /** True until the first answer (good or bad) arrives, and again after the key changes. */
  loading: boolean;
  /** Loads again now (after an action changed what is shown). */
  refresh(): void;
}

export interface ApiOptions {
  /** Load again this many ms after each answer; undefined loads once (and on refresh). */
  every?: number;
  /** Loads from scratch when this changes (a page showing another object). Default: the path, if a path is given. */
  key?: string;
}

/** What to load: an API path (read as JSON), or a loader for anything else (several requests, a stream). */
export type Source<T> = string | ((signal: AbortSignal) => Promise<T>);

export function useApi<T>(source: Source<T>, options: ApiOptions = {}): ApiState<T> {
  const key = options.key ?? (typeof source === 'string' ? source : '');
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  // The latest loader, read at load time: a page passes a new closure on every render.
  const sourceRef = useRef(source);
  sourceRef.current = source;
  const keyRef = useRef(key);
  useEffect(() => {
    if (keyRef.current !== key) {
      // Another object: what was shown belongs to the previous one.
      keyRef.current = key;
      setData(undefined);
      setLoading(true);
    }
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      const s = sourceRef.current;
      try {
        const answer = typeof s === 'string' ? await getJson<T>(s, ctl.signal) : await s(ctl.signal);
        if (ctl.signal.aborted) return;
        setData(answer);
        setError(undefined);
      } catch (e) {
        if (ctl.signal.aborted) return;
        setError(errorText(e));
      }
      setLoading(false);
      if (options.every !== undefined) timer = setTimeout(() => void run(), options.every);
    };
    void run();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [options.every, key, tick]);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, refresh };
}
