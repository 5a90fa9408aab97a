/**
 * HTTP routing by host and path prefix.
 *
 * Precedence: the most specific host first (exact, then `*.suffix` by longest suffix, then
 * routes with host null); within those, the longest matching path prefix. A host group with no
 * matching prefix falls through to the next one, so a catch-all `host: null, path: /` route
 * serves what the specific routes leave. A prefix matches on segment boundaries: `/api`
 * matches `/api`, `/api/x` and `/api?q`, not `/apix`; a prefix ending in `/` matches anything
 * under it. Paths are compared as received (no decoding or dot-segment removal): a route picks
 * which service gets a request, and each service interprets its own paths.
 */
import type { HttpRoute } from '../data-plane.js';

interface PrefixList {
  /** Longest prefix first. */
  routes: HttpRoute[];
}

interface HostTable {
  exact: Map<string, PrefixList>;
  /** `.suffix` (with the dot), longest first. */
  wildcards: { suffix: string; list: PrefixList }[];
  any: PrefixList | undefined;
}

const HOST_PATTERN = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$|^\[[0-9a-f:.]+\]$/;

/** Checks routes; returns every problem found (empty when the set is valid). */
export function validateRoutes(routes: readonly HttpRoute[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const sameMatch = new Map<string, HttpRoute[]>();
  for (const r of routes) {
    const where = `route "${r.id}"`;
    if (!r.id) problems.push('a route has an empty id; give every route a unique id');
    if (ids.has(r.id)) problems.push(`${where} is declared twice; route ids must be unique`);
    ids.add(r.id);
    if (r.host !== null && !HOST_PATTERN.test(normalizeRouteHost(r.host))) {
      problems.push(
        `${where}: host "${r.host}" is not a host name; write e.g. app.lab.test or *.lab.test, or null for any host`,
      );
    }
    if (!r.pathPrefix.startsWith('/')) problems.push(`${where}: path prefix "${r.pathPrefix}" must start with /`);
    if (!r.pool) problems.push(`${where}: pool is empty; name the pool of backends that serves it`);
    if (r.balance !== 'round-robin' && r.balance !== 'least-connections') {
      problems.push(`${where}: balance "${String(r.balance)}" is not one of round-robin, least-connections`);
    }
    for (const [name, d] of [
      ['connect', r.connectTimeout],
      ['idle', r.idleTimeout],
      ['total', r.totalTimeout],
    ] as const) {
      if (!(d.toMilliseconds() > 0))
        problems.push(`${where}: ${name} timeout must be longer than 0, found ${d.toString()}`);
    }
    if (!(r.maxBodyBytes >= 0)) problems.push(`${where}: maxBodyBytes must be 0 or more, found ${r.maxBodyBytes}`);
    const key = `${r.host === null ? '' : normalizeRouteHost(r.host)}\u0000${r.pathPrefix}`;
    const group = sameMatch.get(key);
    if (group) group.push(r);
    else sameMatch.set(key, [r]);
  }
  // Two routes with the same host and prefix on a common listener would make the choice arbitrary.
  for (const group of sameMatch.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = group[i] as HttpRoute;
        const b = group[j] as HttpRoute;
        const common =
          a.listeners.length === 0
            ? b.listeners
            : b.listeners.length === 0
              ? a.listeners
              : a.listeners.filter((l) => b.listeners.includes(l));
        if (a.listeners.length && b.listeners.length && common.length === 0) continue;
        const on = common.length ? ` on listener ${common.join(', ')}` : '';
        problems.push(
          `routes "${a.id}" and "${b.id}" both match host ${a.host ?? '(any)'} and path ${a.pathPrefix}${on}; change the host, the path or the listeners of one of them`,
        );
      }
    }
  }
  return problems;
}

function normalizeRouteHost(host: string): string {
  const h = host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export class Router {
  private readonly tables = new Map<string, HostTable>();

  /** Throws one error listing every problem when the routes are invalid. */
  constructor(private readonly routes: readonly HttpRoute[]) {
    const problems = validateRoutes(routes);
    if (problems.length) throw new Error(`invalid routes:\n- ${problems.join('\n- ')}`);
  }

  /**
   * The route for a request on `listener`. `host` is lowercased without port (see
   * normalizeHost in http-head.ts); `path` is the request target up to `?`.
   */
  match(listener: string, host: string, path: string): HttpRoute | undefined {
    let table = this.tables.get(listener);
    if (!table) {
      table = buildTable(this.routes.filter((r) => r.listeners.length === 0 || r.listeners.includes(listener)));
      this.tables.set(listener, table);
    }
    if (host) {
      const exact = table.exact.get(host);
      if (exact) {
        const r = matchPrefix(exact, path);
        if (r) return r;
      }
      for (const w of table.wildcards) {
        if (host.length > w.suffix.length && host.endsWith(w.suffix)) {
          const r = matchPrefix(w.list, path);
          if (r) return r;
        }
      }
    }
    return table.any ? matchPrefix(table.any, path) : undefined;
  }
}

function buildTable(routes: HttpRoute[]): HostTable {
  const exact = new Map<string, PrefixList>();
  const wild = new Map<string, PrefixList>();
  let any: PrefixList | undefined;
  const add = (list: PrefixList, r: HttpRoute) => {
    list.routes.push(r);
    list.routes.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);
  };
  for (const r of routes) {
    if (r.host === null) {
      any ??= { routes: [] };
      add(any, r);
      continue;
    }
    const h = normalizeRouteHost(r.host);
    const [map, key] = h.startsWith('*.') ? [wild, h.slice(1)] : [exact, h];
    let list = map.get(key);
    if (!list) map.set(key, (list = { routes: [] }));
    add(list, r);
  }
  const wildcards = [...wild.entries()]
    .map(([suffix, list]) => ({ suffix, list }))
    .sort((a, b) => b.suffix.length - a.suffix.length);
  return { exact, wildcards, any };
}

function matchPrefix(list: PrefixList, path: string): HttpRoute | undefined {
  for (const r of list.routes) {
    const p = r.pathPrefix;
    if (!path.startsWith(p)) continue;
    if (path.length === p.length || p.endsWith('/')) return r;
    const next = path.charCodeAt(p.length);
    if (next === 47 /* / */ || next === 63 /* ? */) return r;
  }
  return undefined;
}
