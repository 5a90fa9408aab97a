/** Loads data now and every `everyMs`, keeping the last good answer and the last error. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './format.js';

export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  /** Loads again now (after an action changed what is shown). */
  reload(): void;
}

export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, everyMs: number, key = ''): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        setData(await loadRef.current(ctl.signal));
        setError(undefined);
      } catch (e) {
        if (!ctl.signal.aborted) setError(errorText(e));
      }
      if (!ctl.signal.aborted) timer = setTimeout(() => void run(), everyMs);
    };
    void run();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [everyMs, key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}
