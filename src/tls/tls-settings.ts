/**
 * What a TLS listener serves, as plain values that travel to the data-plane process: host names,
 * where each certificate comes from, and file paths. Never a private key: keys stay in files
 * (the user's, or the certificate store's, mode 0600) that the data-plane process reads itself.
 */

/** Where a certificate comes from. */
export type CertificateSource =
  /** PEM files given by the user; reloaded when they change. */
  | { kind: 'files'; cert: string; key: string }
  /** Issued by Groundwork's local CA (for private names such as `web.lab.test`). */
  | { kind: 'internal' }
  /** Obtained from an ACME server (Let's Encrypt, pebble) with the HTTP-01 or TLS-ALPN-01 challenge. */
  | {
      kind: 'acme';
      /** How the ACME server checks that we control the name (see ACME_CHALLENGES). */
      challenge: AcmeChallenge;
      /** The directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
      directory: string;
      /** Contact address given to the ACME server. */
      email: string | null;
      /** PEM file of a CA that signs the ACME server's own HTTPS certificate (test servers such as pebble). */
      directoryCa: string | null;
    };

/**
 * http-01: the ACME server fetches a token from a plain HTTP listener (port 80).
 * tls-alpn-01 (RFC 8737): it opens a TLS connection to the HTTPS listener itself (port 443) with
 * the `acme-tls/1` ALPN protocol and checks a certificate made for that; no plain listener needed.
 */
export const ACME_CHALLENGES = ['http-01', 'tls-alpn-01'] as const;
export type AcmeChallenge = (typeof ACME_CHALLENGES)[number];

export const CERTIFICATE_SOURCES = ['files', 'internal', 'acme'] as const;
export type CertificateSourceKind = (typeof CERTIFICATE_SOURCES)[number];

export interface CertificateSpec {
  /** Host names the certificate covers: exact names, or `*.suffix` (one label). */
  hosts: string[];
  source: CertificateSource;
}

export interface ListenerTls {
  certificates: CertificateSpec[];
  /** Host whose certificate is served to clients that send no (or an unknown) server name; default the first. */
  defaultHost: string | null;
  /** Strict-Transport-Security on every response of the listener; null = not sent. */
  hsts: { maxAgeSeconds: number; includeSubdomains: boolean } | null;
}

/** The Strict-Transport-Security header line (with CRLF), or '' when off. */
export function hstsHeader(tls: ListenerTls | undefined): string {
  if (!tls?.hsts) return '';
  return `strict-transport-security: max-age=${tls.hsts.maxAgeSeconds}${tls.hsts.includeSubdomains ? '; includeSubDomains' : ''}\r\n`;
}

/** True when `host` (lowercase, no port) is covered by `pattern` (exact, or `*.suffix` for one label). */
export function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes('.') && host.length > suffix.length;
}

/** Problems of a TLS configuration, each naming the listener (empty when it is usable). */
export function tlsProblems(listener: string, tls: ListenerTls): string[] {
  const where = `listener "${listener}"`;
  const problems: string[] = [];
  if (tls.certificates.length === 0) problems.push(`${where}: tls needs at least one certificate`);
  const seen = new Map<string, number>();
  tls.certificates.forEach((c, i) => {
    if (c.hosts.length === 0) problems.push(`${where}: certificate ${i} names no hosts; list the names it covers`);
    for (const h of c.hosts) {
      const other = seen.get(h);
      if (other !== undefined)
        problems.push(`${where}: host "${h}" is in certificates ${other} and ${i}; list each host once`);
      seen.set(h, i);
      if (c.source.kind === 'acme' && h.startsWith('*.'))
        problems.push(
          `${where}: host "${h}" is a wildcard, which ACME's HTTP-01 and TLS-ALPN-01 challenges cannot prove; use internal or files`,
        );
    }
  });
  if (tls.defaultHost !== null && !seen.has(tls.defaultHost))
    problems.push(`${where}: default host "${tls.defaultHost}" is not in any certificate's hosts`);
  return problems;
}
