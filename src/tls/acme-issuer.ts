/**
 * Certificates from an ACME server (Let's Encrypt; pebble in tests) through `acme-client`. The
 * challenge answer is kept in `challenges`: for HTTP-01 every plain HTTP listener of the proxy
 * serves it under `/.well-known/acme-challenge/` (so the listener on port 80 answers it); for
 * TLS-ALPN-01 the TLS listeners present its certificate to handshakes offering `acme-tls/1`
 * (tls-listener.ts), so the HTTPS listener on port 443 answers it by itself.
 * One account key per directory URL, kept in the store (mode 0600) and reused at renewal.
 */
import { createHash } from 'node:crypto';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import acme from 'acme-client';
import type { Logger } from '../util/logger.js';
import { writePrivateFile } from './secure-file.js';
import type { IssuedCertificate } from './local-ca.js';
import type { ChallengeResponder } from './challenge-responder.js';
import type { AcmeChallenge } from './tls-settings.js';

export { ChallengeResponder, CHALLENGE_PREFIX } from './challenge-responder.js';

export interface AcmeAccount {
  directory: string;
  email: string | null;
  /** PEM file of the CA of the directory's own HTTPS certificate (pebble), or null for the system's. */
  directoryCa: string | null;
  /** Which challenge the order uses (the server offers several; we answer only this one). */
  challenge: AcmeChallenge;
}

/** Agents for directories served under a private CA, by URL origin (acme-client has one axios instance). */
const agents = new Map<string, https.Agent>();
let interceptorInstalled = false;

function useDirectoryCa(directory: string, caFile: string): void {
  const origin = new URL(directory).origin;
  agents.set(origin, new https.Agent({ ca: readFileSync(caFile, 'utf8'), keepAlive: true }));
  if (interceptorInstalled) return;
  interceptorInstalled = true;
  acme.axios.interceptors.request.use((config) => {
    const url = config.url;
    if (url !== undefined) {
      const agent = agents.get(new URL(url).origin);
      if (agent !== undefined) config.httpsAgent = agent;
    }
    return config;
  });
}

export class AcmeIssuer {
  constructor(
    /** Directory of account keys (`<store>/acme`). */
    private readonly accountsDir: string,
    private readonly challenges: ChallengeResponder,
    private readonly logger: Logger,
  ) {}

  /** Orders a certificate for `hosts`; resolves when it is issued (the challenge answered by our listeners). */
  async issue(account: AcmeAccount, hosts: readonly string[]): Promise<IssuedCertificate> {
    if (account.directoryCa !== null) useDirectoryCa(account.directory, account.directoryCa);
    const client = new acme.Client({
      directoryUrl: account.directory,
      accountKey: await this.accountKey(account.directory),
      backoffAttempts: 10,
      backoffMin: 200,
      backoffMax: 5000,
    });
    const [key, csr] = await acme.crypto.createCsr(
      { commonName: hosts[0] as string, altNames: [...hosts] },
      await acme.crypto.createPrivateEcdsaKey('P-256'),
    );
    this.logger.log('info', 'acme: ordering a certificate', {
      directory: account.directory,
      hosts: hosts.join(','),
      challenge: account.challenge,
    });
    const certPem = await client.auto({
      csr,
      ...(account.email ? { email: account.email } : {}),
      termsOfServiceAgreed: true,
      challengePriority: [account.challenge],
      // The ACME server checks the challenge itself; this host may not resolve its own public name.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        // acme-client answers only the challenge in challengePriority (its types omit tls-alpn-01).
        if (account.challenge === 'tls-alpn-01') {
          // EC: made in a millisecond where an RSA key takes a noticeable moment.
          const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(
            authz,
            keyAuthorization,
            await acme.crypto.createPrivateEcdsaKey('P-256'),
          );
          const context = tls.createSecureContext({ cert: alpnCert, key: alpnKey, minVersion: 'TLSv1.2' });
          this.challenges.setAlpn(authz.identifier.value.toLowerCase(), context);
        } else {
          this.challenges.set(challenge.token, keyAuthorization);
        }
      },
      challengeRemoveFn: async (authz, challenge) => {
        if (account.challenge === 'tls-alpn-01') this.challenges.deleteAlpn(authz.identifier.value.toLowerCase());
        else this.challenges.delete(challenge.token);
      },
    });
    const leaf = new X509Certificate(certPem);
    // PKCS#8 like the rest of the store (acme-client gives SEC1 for EC keys).
    const keyPem = createPrivateKey(key).export({ type: 'pkcs8', format: 'pem' }).toString();
    return { certPem, keyPem, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
  }

  /** The account key of a directory, made on first use and kept (mode 0600). */
  private async accountKey(directory: string): Promise<string> {
    const id = createHash('sha256').update(directory).digest('hex').slice(0, 16);
    const file = `${this.accountsDir}/${id}/account.key`;
    if (existsSync(file)) return readFileSync(file, 'utf8');
    const pem = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    writePrivateFile(file, pem);
    writePrivateFile(`${this.accountsDir}/${id}/directory.txt`, `${directory}\n`);
    return pem;
  }
}
