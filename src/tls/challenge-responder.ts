/**
 * ACME challenge answers that the proxy's listeners serve while an order is pending. A file of
 * its own, without acme-client: the data-plane process needs it at start, the ACME client only
 * once a listener orders a certificate (loading acme-client costs every start a few hundred ms).
 *
 * - HTTP-01: `GET /.well-known/acme-challenge/<token>` on a plain HTTP listener returns the key
 *   authorization.
 * - TLS-ALPN-01 (RFC 8737): a TLS handshake for the name that offers the `acme-tls/1` ALPN
 *   protocol gets a self-signed certificate carrying the key authorization's digest.
 */
import type tls from 'node:tls';

/** The ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737 section 6.2). */
export const ACME_TLS_ALPN = 'acme-tls/1';

export class ChallengeResponder {
  private readonly answers = new Map<string, string>();
  private readonly alpn = new Map<string, tls.SecureContext>();
  set(token: string, keyAuthorization: string): void {
    this.answers.set(token, keyAuthorization);
  }
  delete(token: string): void {
    this.answers.delete(token);
  }
  /** The key authorization for a request path, or undefined when it is no pending challenge. */
  answer(path: string): string | undefined {
    if (!path.startsWith(CHALLENGE_PREFIX)) return undefined;
    return this.answers.get(path.slice(CHALLENGE_PREFIX.length));
  }

  /** The TLS-ALPN-01 certificate for `host` (lowercase), served until deleted. */
  setAlpn(host: string, context: tls.SecureContext): void {
    this.alpn.set(host, context);
  }
  deleteAlpn(host: string): void {
    this.alpn.delete(host);
  }
  /** The challenge certificate of a pending TLS-ALPN-01 validation of `servername`, if any. */
  alpnContext(servername: string): tls.SecureContext | undefined {
    return this.alpn.size === 0 ? undefined : this.alpn.get(servername.toLowerCase());
  }
}

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
