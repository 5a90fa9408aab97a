/**
 * The recorded form of a listener's `tls:` and `redirect_https:` (part of the listener's spec in
 * state): file paths made absolute against the stack directory, defaults filled in. Keys are
 * present only when the stack file sets them, so listeners without TLS keep the spec they had.
 * Read back by src/tls/listener-tls-spec.ts.
 */
import path from 'node:path';
import { LETS_ENCRYPT_DIRECTORY, type ListenerConfig } from '../config/schema.js';

export function listenerTlsSpec(l: ListenerConfig, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const abs = (p: string | undefined) => (p === undefined ? null : path.resolve(dir, p));
  if (l.tls) {
    out.tls = {
      certificates: l.tls.certificates.map((c) => ({
        hosts: c.hosts.map((h) => h.toLowerCase()),
        source: c.source,
        cert: c.source === 'files' ? abs(c.cert) : null,
        key: c.source === 'files' ? abs(c.key) : null,
        acme:
          c.source === 'acme'
            ? {
                directory: c.acme?.directory ?? LETS_ENCRYPT_DIRECTORY,
                email: c.acme?.email ?? null,
                // Recorded only when set, so specs recorded before it existed stay unchanged (http-01).
                ...(c.acme?.challenge === undefined ? {} : { challenge: c.acme.challenge }),
                ca: abs(c.acme?.ca),
              }
            : null,
      })),
      default: l.tls.default?.toLowerCase() ?? null,
      hsts: l.tls.hsts ?? null,
      hsts_subdomains: l.tls.hsts_subdomains ?? false,
    };
  }
  if (l.redirect_https) out.redirect_https = l.redirect_https;
  return out;
}
