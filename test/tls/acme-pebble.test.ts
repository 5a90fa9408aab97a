/**
 * ACME against a real ACME server: Debian's `pebble` (Let's Encrypt's test server), started here
 * on loopback ports with its own configuration. Its resolver is the project's DNS server
 * (src/dns), which says `shop.lab.test` and `secure.lab.test` are 127.0.0.1, so the HTTP-01
 * challenge reaches our plain listener by name, as Let's Encrypt would reach port 80, and the
 * TLS-ALPN-01 challenge our HTTPS listener on pebble's `tlsPort` (port 443 for Let's Encrypt).
 * Certificates are checked with openssl.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DnsServer } from '../../src/dns/dns-server.js';
import type { AccessLogEntry } from '../../src/proxy/data-plane.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { CertificateManager } from '../../src/tls/certificate-manager.js';
import { LocalCa } from '../../src/tls/local-ca.js';
import { writePrivateFile } from '../../src/tls/secure-file.js';
import type { ListenerTls } from '../../src/tls/tls-settings.js';
import { systemClock } from '../../src/util/clock.js';
import { Duration } from '../../src/util/duration.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { route } from '../proxy/data-plane.contract.js';
import { startBackend, type TestBackend } from '../proxy/helpers/backends.js';
import { sClient, x509 } from './openssl.js';

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms (${String(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('ACME with pebble', () => {
  let dir: string;
  let pebble: ChildProcess;
  let pebbleLog = '';
  let dns: DnsServer;
  let directory: string;
  let management: string;
  let directoryCa: string;
  let httpPort: number;
  let tlsPort: number;
  let backend: TestBackend;

  beforeAll(async () => {
    dir = makeTempDir('acme');
    // Pebble's own HTTPS certificate, from a CA made for the test (the ACME client trusts only it).
    const ca = await LocalCa.open(path.join(dir, 'pebble-ca'), systemClock, 'Pebble Test Listener CA');
    const leaf = await ca.issue(['localhost', '127.0.0.1'], Duration.parse('1d'));
    writeFileSync(path.join(dir, 'pebble.crt'), leaf.certPem);
    writePrivateFile(path.join(dir, 'pebble.key'), leaf.keyPem);
    directoryCa = ca.rootFile;

    dns = new DnsServer({
      zone: 'lab.test',
      records: [
        { name: 'shop.lab.test', ttl: 60, type: 'A', address: '127.0.0.1' },
        { name: 'secure.lab.test', ttl: 60, type: 'A', address: '127.0.0.1' },
      ],
      listen: { host: '127.0.0.1', port: 0 },
    });
    await dns.start();

    const [listen, mgmt] = [await freePort(), await freePort()];
    httpPort = await freePort();
    tlsPort = await freePort();
    writeFileSync(
      path.join(dir, 'pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${listen}`,
          managementListenAddress: `127.0.0.1:${mgmt}`,
          certificate: path.join(dir, 'pebble.crt'),
          privateKey: path.join(dir, 'pebble.key'),
          httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    directory = `https://127.0.0.1:${listen}/dir`;
    management = `https://127.0.0.1:${mgmt}`;
    pebble = spawn(
      'pebble',
      ['-config', path.join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns.address().port}`],
      {
        env: { PATH: process.env.PATH ?? '', PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    pebble.stdout?.on('data', (c: Buffer) => (pebbleLog += c.toString()));
    pebble.stderr?.on('data', (c: Buffer) => (pebbleLog += c.toString()));
    const rootPem = readFileSync(directoryCa, 'utf8');
    await until('pebble answering its directory', async () =>
      (await get(directory, rootPem)).status === 200 ? true : undefined,
    );
    backend = await startBackend('shop');
  }, 60_000);

  afterAll(async () => {
    pebble?.kill('SIGTERM');
    await dns?.close();
    await backend?.close();
    if (dir) removeTempDir(dir);
  });

  it('obtains a certificate by HTTP-01 through the listener, serves it by SNI, keeps the account key', async () => {
    const storeDir = path.join(dir, 'state', 'tls');
    const certs = new CertificateManager({ storeDir, clock: systemClock, logger: silentLogger });
    const access: AccessLogEntry[] = [];
    const proxy = new NodeProxy({ certificates: certs, accessLog: (e) => access.push(e) });
    try {
      const tlsConfig: ListenerTls = {
        certificates: [
          {
            hosts: ['shop.lab.test'],
            source: { kind: 'acme', directory, email: 'ops@lab.test', directoryCa, challenge: 'http-01' },
          },
        ],
        defaultHost: null,
        hsts: null,
      };
      proxy.setPool('shop', [{ id: 'shop', host: '127.0.0.1', port: backend.port, weight: 1 }]);
      proxy.setRoutes([route('shop')]);
      await proxy.setListeners([
        { name: 'web', protocol: 'http', host: '127.0.0.1', port: httpPort, redirectHttps: { port: 443 } },
        { name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: tlsConfig },
      ]);
      const info = await until('the ACME certificate', async () => {
        await certs.idle();
        const i = certs.info()[0];
        if (i?.error) throw new Error(`${i.error}\npebble said:\n${pebbleLog}`);
        return i?.notAfter ? i : undefined;
      });
      expect(info.source).toBe('acme');
      // Pebble's validation authority fetched the challenge from our plain listener (not from the backend).
      const challenge = access.find((e) => e.listener === 'web' && e.path.startsWith('/.well-known/acme-challenge/'));
      expect(challenge?.status).toBe(200);
      expect(backend.requests).toHaveLength(0);

      // The chain verifies against pebble's root (regenerated per run; from its management API).
      const pebbleRoot = (await get(`${management}/roots/0`, readFileSync(directoryCa, 'utf8'))).body;
      writeFileSync(path.join(dir, 'pebble-root.pem'), pebbleRoot);
      const port = proxy.address('websecure')?.port as number;
      const hs = await sClient(port, 'shop.lab.test', path.join(dir, 'pebble-root.pem'));
      expect(hs.verified).toBe(true);
      const cert = x509(hs.certPem);
      expect(cert.text).toContain('DNS:shop.lab.test');
      expect(cert.issuer).toMatch(/Pebble Intermediate CA/);
      expect(cert.notAfter.toISOString()).toBe(info.notAfter);
      const renewAt = new Date(info.renewAt as string).getTime();
      const issuedAt = Date.now();
      // Two thirds of the lifetime, give or take the backdating of notBefore.
      expect(renewAt - issuedAt).toBeGreaterThan(((cert.notAfter.getTime() - issuedAt) * 2) / 3 - 3_600_000);

      // Account key and certificate key kept, 0600.
      const accounts = readdirSync(path.join(storeDir, 'acme'));
      expect(accounts).toHaveLength(1);
      const accountKey = path.join(storeDir, 'acme', accounts[0] as string, 'account.key');
      expect(statSync(accountKey).mode & 0o777).toBe(0o600);
      const keys = readdirSync(
        path.join(storeDir, 'certs', 'acme', readdirSync(path.join(storeDir, 'certs', 'acme'))[0] as string),
      ).filter((f) => f.endsWith('.key'));
      expect(keys).toHaveLength(1);

      // A restarted data plane uses the stored certificate: no new order.
      const again = new CertificateManager({ storeDir, clock: systemClock, logger: silentLogger });
      await again.configure('websecure', tlsConfig);
      await again.idle();
      expect(again.info()[0]?.notAfter).toBe(info.notAfter);
      again.close();
      expect(existsSync(accountKey)).toBe(true);
    } finally {
      await proxy.close();
      certs.close();
    }
  }, 60_000);

  it('obtains a certificate by TLS-ALPN-01 on the HTTPS listener alone, then serves it to normal traffic', async () => {
    const storeDir = path.join(dir, 'state-alpn', 'tls');
    const certs = new CertificateManager({ storeDir, clock: systemClock, logger: silentLogger });
    const proxy = new NodeProxy({ certificates: certs });
    try {
      const tlsConfig: ListenerTls = {
        certificates: [
          {
            hosts: ['secure.lab.test'],
            source: { kind: 'acme', directory, email: null, directoryCa, challenge: 'tls-alpn-01' },
          },
        ],
        defaultHost: null,
        hsts: null,
      };
      proxy.setPool('shop', [{ id: 'shop', host: '127.0.0.1', port: backend.port, weight: 1 }]);
      proxy.setRoutes([route('shop')]);
      const answered = vi.spyOn(certs.challenges, 'alpnContext');
      // No plain listener: pebble's validation authority can only reach this one (its tlsPort).
      await proxy.setListeners([
        { name: 'websecure', protocol: 'http', host: '127.0.0.1', port: tlsPort, tls: tlsConfig },
      ]);
      const info = await until('the ACME certificate', async () => {
        await certs.idle();
        const i = certs.info()[0];
        if (i?.error) throw new Error(`${i.error}\npebble said:\n${pebbleLog}`);
        return i?.notAfter ? i : undefined;
      });
      expect(info.source).toBe('acme');
      // Pebble's validation authority made its acme-tls/1 handshakes and got the challenge certificate.
      expect(answered.mock.results.filter((r) => r.value !== undefined).length).toBeGreaterThan(0);
      answered.mockRestore();
      // The validation is over: its certificate is no longer offered.
      expect(certs.challenges.alpnContext('secure.lab.test')).toBeUndefined();

      const pebbleRoot = path.join(dir, 'pebble-root-alpn.pem');
      writeFileSync(pebbleRoot, (await get(`${management}/roots/0`, readFileSync(directoryCa, 'utf8'))).body);
      const hs = await sClient(tlsPort, 'secure.lab.test', pebbleRoot);
      expect(hs.verified).toBe(true);
      const cert = x509(hs.certPem);
      expect(cert.text).toContain('DNS:secure.lab.test');
      expect(cert.issuer).toMatch(/Pebble Intermediate CA/);
      expect(cert.notAfter.toISOString()).toBe(info.notAfter);
      const served = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({
          host: '127.0.0.1',
          port: tlsPort,
          servername: 'secure.lab.test',
          ca: readFileSync(pebbleRoot),
          ALPNProtocols: ['http/1.1'],
        });
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString('latin1')));
        s.on('end', () => resolve(text));
        s.on('error', reject);
        s.write('GET /x HTTP/1.1\r\nhost: secure.lab.test\r\nconnection: close\r\n\r\n');
      });
      expect(served).toMatch(/^HTTP\/1\.1 200 /);

      // While a validation is pending (planted here with acme-client's own helper, as the issuer
      // does), acme-tls/1 handshakes get the challenge certificate and every other one the real one.
      const authz = { identifier: { type: 'dns', value: 'secure.lab.test' } };
      const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(
        // Only `identifier` is read; the rest of an authorization is the ACME server's business.
        { ...authz, status: 'pending', expires: '', challenges: [], url: '' },
        'token.thumbprint',
        await acme.crypto.createPrivateEcdsaKey('P-256'),
      );
      certs.challenges.setAlpn('secure.lab.test', tls.createSecureContext({ cert: alpnCert, key: alpnKey }));
      const handshake = (alpn: string, maxVersion: tls.SecureVersion) =>
        new Promise<{ protocol: string | false | null; pem: string }>((resolve, reject) => {
          const s = tls.connect({
            host: '127.0.0.1',
            port: tlsPort,
            servername: 'secure.lab.test',
            ALPNProtocols: [alpn],
            maxVersion,
            rejectUnauthorized: false,
          });
          s.on('secureConnect', () => {
            const raw = s.getPeerX509Certificate()?.toString() ?? '';
            resolve({ protocol: s.alpnProtocol, pem: raw });
            s.end();
          });
          s.on('error', reject);
        });
      const [challenge, normal] = await Promise.all([
        handshake('acme-tls/1', 'TLSv1.3'),
        handshake('http/1.1', 'TLSv1.3'),
      ]);
      expect(challenge.protocol).toBe('acme-tls/1');
      expect(acme.crypto.isAlpnCertificateAuthorizationValid(challenge.pem, 'token.thumbprint')).toBe(true);
      expect(normal.protocol).toBe('http/1.1');
      expect(x509(normal.pem).serial).toBe(cert.serial);
      const old = await handshake('http/1.1', 'TLSv1.2');
      expect(x509(old.pem).serial).toBe(cert.serial);
      certs.challenges.deleteAlpn('secure.lab.test');
      // No pending validation: acme-tls/1 is refused rather than answered with the real certificate.
      await expect(handshake('acme-tls/1', 'TLSv1.3')).rejects.toThrow(/no application protocol/);
    } finally {
      await proxy.close();
      certs.close();
    }
  }, 60_000);
});
