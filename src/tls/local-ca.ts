/**
 * Groundwork's local certificate authority, for private names (`web.lab.test`) that no public CA
 * will sign: like Caddy's "internal" issuer. The root is made once and kept in the store
 * (`ca/root.crt`, `ca/root.key` mode 0600); leaf certificates are short-lived and issued per set
 * of host names. People trust the root once (`groundwork ca export`, see README "HTTPS").
 *
 *   const ca = await LocalCa.open(caDir, clock);
 *   const leaf = await ca.issue(['web.lab.test'], Duration.parse('7d'));
 */
import {
  X509Certificate as NodeX509,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { Clock } from '../util/clock.js';
import type { Duration } from '../util/duration.js';
import { writePrivateFile, writePublicFile } from './secure-file.js';

/** A certificate with its key, as PEM text. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const ROOT_YEARS = 10;
/** Leaves start a little in the past: clocks of the machines that check them may lag. */
const BACKDATE_MS = 60 * 60 * 1000;

/** An EC P-256 key pair, as WebCrypto keys (for signing) and PKCS#8 PEM (for the file). */
async function newKeyPair(): Promise<{ keys: CryptoKeyPair; pem: string }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { keys: await importKeyPair(pem), pem };
}

async function importKeyPair(pem: string): Promise<CryptoKeyPair> {
  const key = createPrivateKey(pem);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, EC, true, ['sign']);
  const publicKey = await crypto.subtle.importKey('spki', spki, EC, true, ['verify']);
  return { privateKey, publicKey };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // positive
  return b.toString('hex');
}

/** Subject alternative names for host names and IP addresses. */
function altNames(hosts: readonly string[]): x509.JsonGeneralName[] {
  return hosts.map((h) => (isIP(h) ? { type: 'ip', value: h } : { type: 'dns', value: h }));
}

/** PEM ending in a newline, so files can be concatenated (HAProxy's cert + key file, chains). */
function pemText(cert: x509.X509Certificate): string {
  const pem = cert.toString('pem');
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

export class LocalCa {
  private constructor(
    /** The root certificate, PEM: what people add to their trust store. */
    readonly rootPem: string,
    readonly rootFile: string,
    private readonly root: x509.X509Certificate,
    private readonly rootKeys: CryptoKeyPair,
    private readonly clock: Clock,
  ) {}

  /** Opens the CA kept in `dir` (`root.crt`, `root.key`), creating it on first use. */
  static async open(dir: string, clock: Clock, name = 'Groundwork Local CA'): Promise<LocalCa> {
    const certFile = `${dir}/root.crt`;
    const keyFile = `${dir}/root.key`;
    if (existsSync(certFile) && existsSync(keyFile)) {
      const certPem = readFileSync(certFile, 'utf8');
      const keyPem = readFileSync(keyFile, 'utf8');
      return new LocalCa(certPem, certFile, new x509.X509Certificate(certPem), await importKeyPair(keyPem), clock);
    }
    const { keys, pem } = await newKeyPair();
    const now = clock.now();
    const notAfter = new Date(now.getTime());
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + ROOT_YEARS);
    // The date in the name tells two roots of the same machine apart in a trust store.
    const cn = `${name} ${now.toISOString().slice(0, 10)} ${serial().slice(0, 8)}`;
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${cn}, O=Groundwork`,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      signingAlgorithm: SIGNING,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
      ],
    });
    const certPem = pemText(root);
    // Key first: a root certificate without its key would be useless after a crash.
    writePrivateFile(keyFile, pem);
    writePublicFile(certFile, certPem);
    return new LocalCa(certPem, certFile, root, keys, clock);
  }

  /** A leaf certificate for `hosts` (DNS names or IP addresses), valid for `lifetime` from now. */
  async issue(hosts: readonly string[], lifetime: Duration): Promise<IssuedCertificate> {
    if (hosts.length === 0) throw new Error('a certificate needs at least one host name');
    const { keys, pem } = await newKeyPair();
    const now = this.clock.now().getTime();
    const notBefore = new Date(now - BACKDATE_MS);
    const notAfter = new Date(Math.min(now + lifetime.toMilliseconds(), this.root.notAfter.getTime()));
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${hosts[0]}`,
      issuer: this.root.subject,
      notBefore,
      notAfter,
      signingAlgorithm: SIGNING,
      publicKey: keys.publicKey,
      signingKey: this.rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(altNames(hosts), false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
        await x509.AuthorityKeyIdentifierExtension.create(this.root, false),
      ],
    });
    const certPem = pemText(leaf);
    // Node's parser reads the dates back as the TLS stack will see them (second precision).
    const parsed = new NodeX509(certPem);
    return { certPem, keyPem: pem, notBefore: new Date(parsed.validFrom), notAfter: new Date(parsed.validTo) };
  }
}
