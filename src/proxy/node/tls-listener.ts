/**
 * The TLS side of an HTTPS listener: a tls.Server whose certificate is picked per handshake by
 * server name (SNI) from the CertificateManager when it has several (one is simply the server's
 * certificate), so renewed certificates apply to new connections while open ones keep theirs.
 * TLS 1.2 and 1.3 only; HTTP/1.1 by ALPN. A listener with an ACME certificate obtained by
 * TLS-ALPN-01 also answers validation handshakes (ALPN `acme-tls/1`) with the challenge certificate.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { CertificateManager } from '../../tls/certificate-manager.js';
import { ACME_TLS_ALPN } from '../../tls/challenge-responder.js';
import type { Listener } from '../data-plane.js';
import type { Logger } from '../../util/logger.js';

/** A handshake must finish within this (slow or idle clients do not hold a socket for long). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Whether the listener picks a certificate per server name. With one certificate every name
 * gets it (the manager's default), so no SNI callback is installed: with one, Node pauses each
 * handshake to call it from JavaScript (the certificate callback), which costs every new
 * connection. A change between one and several certificates rebinds the listener.
 */
export function picksBySni(l: Listener): boolean {
  return l.protocol === 'http' && l.tls !== undefined && l.tls.certificates.length > 1;
}

/**
 * Whether the listener answers TLS-ALPN-01 validations: only then is ALPN chosen in JavaScript
 * (an ALPNCallback), which every other listener spares its handshakes. A change rebinds.
 */
export function answersAlpnChallenges(l: Listener): boolean {
  return (
    l.protocol === 'http' &&
    l.tls !== undefined &&
    l.tls.certificates.some((c) => c.source.kind === 'acme' && c.source.challenge === 'tls-alpn-01')
  );
}

/**
 * ALPN for a listener that answers TLS-ALPN-01: a handshake offering `acme-tls/1` for a name whose
 * validation is pending gets the challenge certificate (RFC 8737: it must negotiate that protocol
 * and carry nothing else); every other handshake gets http/1.1 and the listener's certificate.
 * Node calls it with the socket as `this` (setKeyCert is documented for this use), before the
 * certificate is sent. Validation works over TLS 1.3, which Let's Encrypt and pebble use: under
 * TLS 1.2 OpenSSL refuses acme-client's challenge certificate for ECDHE (its key usage is
 * certificate signing only), so such a validator would fail, and normal TLS 1.2 clients are unaffected.
 */
function alpnWithChallenges(certs: CertificateManager) {
  return function selectAlpn(
    this: tls.TLSSocket,
    { servername, protocols }: { servername: string; protocols: string[] },
  ): string | undefined {
    if (protocols.includes(ACME_TLS_ALPN)) {
      const challenge = servername ? certs.challenges.alpnContext(servername) : undefined;
      // No pending validation for this name: refuse rather than speak acme-tls/1 with a real certificate.
      if (challenge === undefined) return undefined;
      this.setKeyCert(challenge);
      return ACME_TLS_ALPN;
    }
    // A client offering neither (h2 alone) is refused with no_application_protocol, as ALPNProtocols does.
    return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
  };
}

export function createTlsServer(
  certs: CertificateManager,
  listener: Listener,
  logger: Logger,
  onSecure: (socket: tls.TLSSocket) => void,
): tls.Server {
  const name = listener.name;
  const pems = certs.defaultPems(name);
  const server = tls.createServer(
    {
      allowHalfOpen: true,
      noDelay: true,
      minVersion: 'TLSv1.2',
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...(answersAlpnChallenges(listener)
        ? { ALPNCallback: alpnWithChallenges(certs) }
        : { ALPNProtocols: ['http/1.1'] }),
      ...(pems === undefined ? {} : { cert: pems.cert, key: pems.key }),
      ...(picksBySni(listener)
        ? {
            SNICallback: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) =>
              cb(null, certs.context(name, servername)),
          }
        : {}),
    },
    onSecure,
  );
  server.on('tlsClientError', (e: Error, socket: net.Socket) => {
    logger.log('debug', 'tls handshake failed', { listener: name, client: socket.remoteAddress, message: e.message });
  });
  return server;
}

/** The default certificate (for clients without SNI) changed: the server uses it from the next handshake. */
export function updateDefaultCertificate(server: tls.Server, certs: CertificateManager, listener: string): void {
  const pems = certs.defaultPems(listener);
  if (pems !== undefined) server.setSecureContext({ cert: pems.cert, key: pems.key, minVersion: 'TLSv1.2' });
}
