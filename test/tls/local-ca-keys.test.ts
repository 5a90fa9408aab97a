/**
 * The local CA's keys are EC P-256 (ECDSA), read back by the openssl CLI: a P-256 signature is
 * what keeps a TLS handshake cheap (RSA-2048 signs about ten times slower), and HAProxy or any
 * other TLS server can load the same files.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCa } from '../../src/tls/local-ca.js';
import { Duration } from '../../src/util/duration.js';
import { systemClock } from '../../src/util/clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const openssl = (args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('local CA keys', () => {
  let dir: string;
  afterEach(() => removeTempDir(dir));

  it('issues ECDSA P-256 leaves under a P-256 root, readable and verifiable by openssl', async () => {
    dir = makeTempDir('local-ca-keys');
    const ca = await LocalCa.open(path.join(dir, 'ca'), systemClock);
    const leaf = await ca.issue(['web.lab.test'], Duration.parse('1d'));
    const cert = path.join(dir, 'leaf.crt');
    const key = path.join(dir, 'leaf.key');
    writeFileSync(cert, leaf.certPem);
    writeFileSync(key, leaf.keyPem, { mode: 0o600 });

    expect(openssl(['pkey', '-in', key, '-noout', '-text'])).toMatch(/ASN1 OID: prime256v1/);
    const leafText = openssl(['x509', '-in', cert, '-noout', '-text']);
    expect(leafText).toMatch(/Public Key Algorithm: id-ecPublicKey/);
    expect(leafText).toMatch(/NIST CURVE: P-256/);
    expect(leafText).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(openssl(['pkey', '-in', path.join(dir, 'ca', 'root.key'), '-noout', '-text'])).toMatch(
      /ASN1 OID: prime256v1/,
    );
    // The key belongs to the certificate, and the root signed it.
    expect(openssl(['pkey', '-in', key, '-pubout'])).toBe(openssl(['x509', '-in', cert, '-noout', '-pubkey']));
    expect(openssl(['verify', '-CAfile', ca.rootFile, cert]).trim()).toBe(`${cert}: OK`);
  });
});
