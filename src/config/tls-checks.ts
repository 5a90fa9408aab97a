/**
 * Checks of listeners' `tls:` and listeners' and routes' `redirect_https:` that the schema cannot express: which fields
 * each certificate source takes, hosts listed twice, a default that is no listed host, wildcards
 * that ACME cannot prove, an HTTP-01 challenge with no plain listener to answer it, TLS-ALPN-01
 * away from port 443, and redirects to a listener without TLS.
 */
import type { Diagnostic } from './diagnostic.js';

/** Where a document path is (semantic-checks.ts's Locate; repeated here to keep the import one way). */
type Locate = (path: (string | number)[], key?: boolean) => { line: number; column: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function tlsChecks(doc: Record<string, unknown>, file: string, locate: Locate): Diagnostic[] {
  const out: Diagnostic[] = [];
  const listeners = isObj(doc.listeners) ? doc.listeners : {};
  const push = (
    path: (string | number)[],
    d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'>,
    severity: 'error' | 'warning' = 'error',
  ) => {
    const pos = locate(path);
    out.push({ severity, file, line: pos.line, column: pos.column, path: path.join('.'), ...d });
  };
  /** Where the first ACME certificate with the HTTP-01 challenge is (it needs a plain listener). */
  let http01At: { at: (string | number)[]; listener: string; port: unknown } | undefined;
  for (const [name, l] of Object.entries(listeners)) {
    if (!isObj(l)) continue;
    const base = ['listeners', name];
    if (l.tls !== undefined && l.protocol === 'tcp') {
      push([...base, 'tls'], {
        code: 'invalid-value',
        message: `tcp listener \`${name}\` cannot terminate TLS`,
        fix: 'remove `tls`, or make it an http listener (protocol: http) with routes',
      });
    }
    if (typeof l.redirect_https === 'string') {
      const target = listeners[l.redirect_https];
      if (l.tls !== undefined)
        push([...base, 'redirect_https'], {
          code: 'invalid-value',
          message: `listener \`${name}\` has tls and redirect_https; a TLS listener serves its routes itself`,
          fix: 'put redirect_https on the plain http listener (e.g. the one on port 80)',
        });
      else if (!isObj(target))
        push([...base, 'redirect_https'], {
          code: 'dangling-reference',
          message: `listener \`${name}\` redirects to listener \`${l.redirect_https}\`, which is not declared`,
          fix: `use one of: ${
            Object.keys(listeners)
              .filter((n) => isObj(listeners[n]) && (listeners[n] as Record<string, unknown>).tls !== undefined)
              .join(', ') || '(no listener has tls yet)'
          }`,
        });
      else if (target.tls === undefined)
        push([...base, 'redirect_https'], {
          code: 'invalid-value',
          message: `listener \`${name}\` redirects to listener \`${l.redirect_https}\`, which has no tls`,
          fix: `add a \`tls:\` section to listener \`${l.redirect_https}\``,
        });
    }
    if (!isObj(l.tls) || !Array.isArray(l.tls.certificates)) continue;
    const tls = l.tls;
    const seen = new Map<string, number>();
    (l.tls.certificates as unknown[]).forEach((c, i) => {
      if (!isObj(c)) return;
      const at = [...base, 'tls', 'certificates', i];
      if (c.source === 'files') {
        for (const k of ['cert', 'key'] as const)
          if (typeof c[k] !== 'string')
            push(at, {
              code: 'missing-key',
              message: `certificate ${i} of listener \`${name}\` comes from files but has no \`${k}\``,
              fix: `add \`${k}: path/to/${k === 'cert' ? 'fullchain.pem' : 'privkey.pem'}\``,
            });
      } else if (c.source !== undefined) {
        for (const k of ['cert', 'key'] as const)
          if (c[k] !== undefined)
            push([...at, k], {
              code: 'invalid-value',
              message: `certificate ${i} of listener \`${name}\` is issued by ${String(c.source)}; \`${k}\` is for source: files`,
              fix: `remove \`${k}\`, or set \`source: files\``,
            });
      }
      if (c.acme !== undefined && c.source !== 'acme')
        push([...at, 'acme'], {
          code: 'invalid-value',
          message: `certificate ${i} of listener \`${name}\` has \`acme\` settings but source ${String(c.source)}`,
          fix: 'remove `acme`, or set `source: acme`',
        });
      const challenge = isObj(c.acme) ? c.acme.challenge : undefined;
      if (c.source === 'acme' && (challenge === undefined || challenge === 'http-01'))
        http01At ??= { at, listener: name, port: l.port };
      if (c.source === 'acme' && challenge === 'tls-alpn-01' && typeof l.port === 'number' && l.port !== 443)
        push(
          [...at, 'acme', 'challenge'],
          {
            code: 'invalid-value',
            message: `listener \`${name}\` answers TLS-ALPN-01 on port ${l.port}, but ACME servers validate on port 443`,
            fix: 'bind the listener to port 443, or forward port 443 to it (a firewall or NAT rule)',
          },
          'warning',
        );
      if (!Array.isArray(c.hosts)) return;
      c.hosts.forEach((h, j) => {
        if (typeof h !== 'string') return;
        const host = h.toLowerCase();
        const other = seen.get(host);
        if (other !== undefined)
          push([...at, 'hosts', j], {
            code: 'conflict',
            message: `host \`${h}\` is in certificates ${other} and ${i} of listener \`${name}\``,
            fix: 'list each host in one certificate',
          });
        seen.set(host, i);
        if (c.source === 'acme' && host.startsWith('*.'))
          push([...at, 'hosts', j], {
            code: 'invalid-value',
            message: `wildcard \`${h}\` cannot be obtained by ACME's HTTP-01 or TLS-ALPN-01 challenge`,
            fix: 'list the names one by one, or use source: internal or files for the wildcard',
          });
      });
    });
    if (typeof tls.default === 'string' && !seen.has(tls.default.toLowerCase()))
      push([...base, 'tls', 'default'], {
        code: 'dangling-reference',
        message: `default host \`${tls.default}\` of listener \`${name}\` is in none of its certificates`,
        fix: `use one of: ${[...seen.keys()].join(', ')}`,
      });
    if (tls.hsts_subdomains !== undefined && tls.hsts === undefined)
      push([...base, 'tls', 'hsts_subdomains'], {
        code: 'invalid-value',
        message: `listener \`${name}\` sets hsts_subdomains without hsts`,
        fix: 'add `hsts: 180d` (the max-age), or remove hsts_subdomains',
      });
  }
  const plain = Object.values(listeners).some((l) => isObj(l) && l.tls === undefined && l.protocol !== 'tcp');
  routeRedirectChecks(doc, listeners, push);
  if (http01At !== undefined && !plain)
    push(http01At.at, {
      code: 'missing-key',
      message:
        `an ACME certificate of listener \`${http01At.listener}\` uses the HTTP-01 challenge (the default), ` +
        'which needs a plain http listener on port 80, and this stack has none',
      fix:
        `set \`acme: { challenge: tls-alpn-01 }\` (answered by listener \`${http01At.listener}\` itself` +
        `${http01At.port === 443 ? '' : ', on port 443'}), or declare an http listener on port 80 ` +
        '(e.g. `web: { port: 80, redirect_https: websecure }`)',
    });
  return out;
}

/**
 * A route's `redirect_https: true` needs a TLS listener to send the client to: the route's own
 * listener when it has tls, else the stack's only one.
 */
function routeRedirectChecks(
  doc: Record<string, unknown>,
  listeners: Record<string, unknown>,
  push: (path: (string | number)[], d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'>) => void,
): void {
  const routes = Array.isArray(doc.routes) ? (doc.routes as unknown[]) : [];
  const tlsNames = Object.keys(listeners).filter((n) => {
    const l = listeners[n];
    return isObj(l) && l.tls !== undefined;
  });
  routes.forEach((r, i) => {
    if (!isObj(r) || r.redirect_https !== true) return;
    const at = ['routes', i, 'redirect_https'];
    if (typeof r.listener === 'string') {
      const own = listeners[r.listener];
      if (isObj(own) && own.tls === undefined)
        push(at, {
          code: 'invalid-value',
          message: `route ${i} redirects to HTTPS, but its listener \`${r.listener}\` has no tls`,
          fix: `set the route's \`listener\` to the tls listener to redirect to (${tlsNames.join(', ') || 'none has tls yet'}); plain listeners redirect to it`,
        });
      return;
    }
    if (tlsNames.length === 1) return;
    push(at, {
      code: tlsNames.length === 0 ? 'dangling-reference' : 'conflict',
      message:
        tlsNames.length === 0
          ? `route ${i} redirects to HTTPS, but no listener has tls`
          : `route ${i} redirects to HTTPS, and listeners ${tlsNames.join(', ')} all have tls`,
      fix:
        tlsNames.length === 0
          ? 'add a listener with `tls:` (e.g. `websecure: { port: 443, tls: ... }`)'
          : `set the route's \`listener\` to the one to redirect to (one of: ${tlsNames.join(', ')})`,
    });
  });
}
