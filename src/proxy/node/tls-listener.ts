/**
 * The TLS side of an HTTPS listener: a tls.Server whose certificate is picked per handshake by
 * server name (SNI) from the CertificateManager when it has several (one is simply the server's
 * certificate), so renewed certificates apply to new connections while open ones keep theirs.
 * TLS 1.2 and 1.3 only; HTTP/1.1 by ALPN.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { CertificateManager } from '../../tls/certificate-manager.js';
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
      ALPNProtocols: ['http/1.1'],
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
