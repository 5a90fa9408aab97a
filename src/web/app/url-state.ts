/**
 * State kept in the address's query (`?query=…&range=1h`), so a view can be shared or reloaded as
 * it is. Changing it replaces the history entry (typing a query is not a navigation) and tells
 * every `useSearch` on the page; back/forward (popstate) does too.
 */
import { useEffect, useState } from 'preact/hooks';
import { rangeFromSearch, rangeIntoSearch, type TimeRange } from './time-range.js';

const CHANGED = 'groundwork:search';

export function setSearch(params: URLSearchParams): void {
  const qs = params.toString();
  history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}`);
  dispatchEvent(new Event(CHANGED));
}

/** The current query parameters, re-rendering when they change. */
export function useSearch(): URLSearchParams {
  const [search, setState] = useState(location.search);
  useEffect(() => {
    const update = () => setState(location.search);
    addEventListener(CHANGED, update);
    addEventListener('popstate', update);
    return () => {
      removeEventListener(CHANGED, update);
      removeEventListener('popstate', update);
    };
  }, []);
  return new URLSearchParams(search);
}

/** The page's chart range, from and into the address (`range=1h` or `from=…&to=…`). */
export function useUrlRange(): [TimeRange, (r: TimeRange) => void] {
  const search = useSearch();
  const range = rangeFromSearch(search);
  const set = (r: TimeRange) => setSearch(rangeIntoSearch(r, new URLSearchParams(location.search)));
  return [range, set];
}
