/**
 * HTTPS on the built-in proxy's listeners, over real sockets and checked with the openssl CLI:
 * certificates from files and from the local CA picked by SNI, the default certificate, the
 * redirect from HTTP, HSTS, renewal and file reload without dropping open connections.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Listener } from '../../src/proxy/data-plane.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { CertificateManager } from '../../src/tls/certificate-manager.js';
import type { ListenerTls } from '../../src/tls/tls-settings.js';
import { Duration } from '../../src/util/duration.js';
import { silentLogger } from '../../src/util/logger.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { route } from '../proxy/data-plane.contract.js';
import { startBackend, type AnswerBody, type TestBackend } from '../proxy/helpers/backends.js';
import { selfSigned, sClient, x509 } from './openssl.js';

const DAY = 86_400_000;

describe('HTTPS listeners', () => {
  let dir: string;
  let clock: ManualClock;
  let certs: CertificateManager;
  let proxy: NodeProxy;
  let backend: TestBackend;
  let filesCert: string;
  let filesKey: string;

  beforeEach(async () => {
    dir = makeTempDir('https');
    clock = new ManualClock(new Date());
    // Certificate time is the manual clock (days pass in no time); the proxy's timeouts run on real time.
    certs = new CertificateManager({
      storeDir: path.join(dir, 'tls'),
      clock,
      logger: silentLogger,
      checkEvery: Duration.parse('1h'),
    });
    proxy = new NodeProxy({ certificates: certs, timerResolution: Duration.milliseconds(20) });
    backend = await startBackend('a');
    proxy.setPool('web', [{ id: 'a', host: '127.0.0.1', port: backend.port, weight: 1 }]);
    proxy.setRoutes([route('web')]);
    filesCert = path.join(dir, 'files.crt');
    filesKey = path.join(dir, 'files.key');
    selfSigned('files.lab.test', filesCert, filesKey);
  });
  afterEach(async () => {
    await proxy.close();
    certs.close();
    await backend.close();
    removeTempDir(dir);
  });

  const twoNames = (): ListenerTls => ({
    certificates: [
      { hosts: ['web.lab.test', '*.apps.lab.test'], source: { kind: 'internal' } },
      { hosts: ['files.lab.test'], source: { kind: 'files', cert: filesCert, key: filesKey } },
    ],
    defaultHost: 'files.lab.test',
    hsts: { maxAgeSeconds: 15_552_000, includeSubdomains: true },
  });

  async function listen(listeners: Listener[]): Promise<void> {
    await proxy.setListeners(listeners);
  }
  const portOf = (name: string) => proxy.address(name)?.port as number;
  const rootFile = () => path.join(dir, 'tls', 'ca', 'root.crt');

  function get(
    port: number,
    servername: string,
    agent?: https.Agent,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/hello?x=1',
          servername,
          headers: { host: servername },
          ca: [readFileSync(rootFile(), 'utf8'), readFileSync(filesCert, 'utf8')],
          ...(agent ? { agent } : { agent: false }),
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('serves the certificate of each host by SNI, a default one without SNI, and forwards as https with HSTS', async () => {
    await listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: twoNames() }]);
    const port = portOf('websecure');

    const web = await sClient(port, 'web.lab.test', rootFile());
    expect(web.verified).toBe(true);
    const webCert = x509(web.certPem);
    expect(webCert.issuer).toMatch(/Groundwork Local CA/);
    expect(webCert.text).toContain('DNS:web.lab.test');

    const wildcard = await sClient(port, 'shop.apps.lab.test', rootFile());
    expect(wildcard.verified).toBe(true);
    expect(x509(wildcard.certPem).serial).toBe(webCert.serial);

    const files = await sClient(port, 'files.lab.test', filesCert);
    expect(files.verified).toBe(true);
    expect(x509(files.certPem).subject).toMatch(/^CN ?= ?files\.lab\.test$/);

    const none = await sClient(port, null);
    expect(x509(none.certPem).subject).toMatch(/^CN ?= ?files\.lab\.test$/);

    // TLS 1.1 is refused.
    const old = await new Promise<string>((resolve) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port,
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
        rejectUnauthorized: false,
      });
      s.on('error', (e) => resolve(e.message));
      s.on('secureConnect', () => resolve('connected'));
    });
    expect(old).not.toBe('connected');

    const res = await get(port, 'web.lab.test');
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=15552000; includeSubDomains');
    const seen = JSON.parse(res.body) as AnswerBody;
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.url).toBe('/hello?x=1');
  });

  it('one certificate serves every name without a per-handshake SNI lookup; going to two rebinds the port and picks by SNI', async () => {
    const port = await freePort();
    const one: ListenerTls = {
      certificates: [{ hosts: ['files.lab.test'], source: { kind: 'files', cert: filesCert, key: filesKey } }],
      defaultHost: null,
      hsts: null,
    };
    const lookups = vi.spyOn(certs, 'context');
    await listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port, tls: one }]);
    for (const name of ['files.lab.test', 'other.lab.test', null]) {
      expect(x509((await sClient(port, name)).certPem).subject).toMatch(/^CN ?= ?files\.lab\.test$/);
    }
    const answer = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'files.lab.test', ca: readFileSync(filesCert) });
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('end', () => resolve(text));
      s.on('error', reject);
      s.write('GET / HTTP/1.1\r\nhost: files.lab.test\r\nconnection: close\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    // Node pauses a handshake to run an SNI callback in JavaScript; one certificate needs none.
    expect(lookups).not.toHaveBeenCalled();

    await listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port, tls: twoNames() }]);
    expect(proxy.address('websecure')?.port).toBe(port);
    const web = await sClient(port, 'web.lab.test', rootFile());
    expect(web.verified).toBe(true);
    expect(x509(web.certPem).text).toContain('DNS:web.lab.test');
    expect(x509((await sClient(port, 'files.lab.test')).certPem).subject).toMatch(/^CN ?= ?files\.lab\.test$/);
    expect(lookups).toHaveBeenCalled();

    // And back to one: every name gets it again.
    await listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port, tls: one }]);
    expect(x509((await sClient(port, 'web.lab.test')).certPem).subject).toMatch(/^CN ?= ?files\.lab\.test$/);
    lookups.mockRestore();
  });

  it('redirects plain HTTP to the HTTPS port, keeping host and target', async () => {
    await listen([
      { name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: twoNames() },
      { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0, redirectHttps: { port: 8443 } },
    ]);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: portOf('web') });
      let text = '';
      s.on('data', (c) => (text += c.toString('latin1')));
      s.on('end', () => resolve(text));
      s.on('error', reject);
      s.end('POST /login?next=%2F HTTP/1.1\r\nhost: web.lab.test\r\ncontent-length: 2\r\n\r\nhi');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 308 /);
    expect(answer).toContain('location: https://web.lab.test:8443/login?next=%2F\r\n');
    expect(backend.requests).toHaveLength(0);
  });

  it('redirects per route: a route redirects where its listener does not, another opts out of the listener redirect', async () => {
    proxy.setRoutes([
      route('secure', { host: 'secure.lab.test', pool: 'web', httpsRedirect: { port: 8443 } }),
      route('health', { host: 'web.lab.test', pathPrefix: '/health', pool: 'web', httpsRedirect: 'off' }),
      route('web', { host: 'web.lab.test', pool: 'web' }),
    ]);
    await listen([
      { name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: twoNames() },
      { name: 'plain', protocol: 'http', host: '127.0.0.1', port: 0 },
      { name: 'redirecting', protocol: 'http', host: '127.0.0.1', port: 0, redirectHttps: { port: 443 } },
    ]);
    const ask = (listener: string, host: string, target: string) =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: portOf(listener) });
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString('latin1')));
        s.on('end', () => resolve(text));
        s.on('error', reject);
        s.end(`GET ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      });
    const status = (answer: string) => /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1];

    // The route's own redirect, on a listener that redirects nothing, to its port (not 443: in the location).
    const secure = await ask('plain', 'secure.lab.test', '/a/b?c=1&d=%2F');
    expect(status(secure)).toBe('308');
    expect(secure).toContain('location: https://secure.lab.test:8443/a/b?c=1&d=%2F\r\n');
    expect((await ask('redirecting', 'secure.lab.test', '/a')).toLowerCase()).toContain(
      'location: https://secure.lab.test:8443/a\r\n',
    );
    // Other routes on that listener are served over plain HTTP, and never with HSTS there.
    const web = await ask('plain', 'web.lab.test', '/x');
    expect(status(web)).toBe('200');
    expect(web.toLowerCase()).not.toContain('strict-transport-security');
    expect(backend.requests).toHaveLength(1);

    // The listener redirects everything (to 443: no port in the location) except the route that opts out.
    const redirected = await ask('redirecting', 'web.lab.test', '/x?y=2');
    expect(status(redirected)).toBe('308');
    expect(redirected).toContain('location: https://web.lab.test/x?y=2\r\n');
    const health = await ask('redirecting', 'web.lab.test', '/health?probe=1');
    expect(status(health)).toBe('200');
    expect(health.toLowerCase()).not.toContain('strict-transport-security');
    expect(backend.requests).toHaveLength(2);
    expect((JSON.parse(health.slice(health.indexOf('\r\n\r\n') + 4)) as AnswerBody).url).toBe('/health?probe=1');
    // No route and a redirecting listener: still the redirect, as before routes could choose.
    expect(status(await ask('redirecting', 'nobody.lab.test', '/'))).toBe('308');

    // Over HTTPS the redirecting route is served, with the listener's HSTS.
    const res = await get(portOf('websecure'), 'web.lab.test');
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=15552000; includeSubDomains');
  });

  it('renews a local-CA certificate at two thirds of its life and reloads changed files, keeping open connections', async () => {
    await listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: twoNames() }]);
    const port = portOf('websecure');
    const before = x509((await sClient(port, 'web.lab.test', rootFile())).certPem);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await get(port, 'web.lab.test', agent)).status).toBe(200);

    // Not due yet: the same certificate.
    await clock.advance(4 * DAY);
    await certs.check();
    await certs.idle();
    expect(x509((await sClient(port, 'web.lab.test', rootFile())).certPem).serial).toBe(before.serial);

    await clock.advance(1 * DAY); // 5 of 7 days: past two thirds
    await certs.check();
    await certs.idle();
    const after = x509((await sClient(port, 'web.lab.test', rootFile())).certPem);
    expect(after.serial).not.toBe(before.serial);
    expect(after.notAfter.getTime()).toBeGreaterThan(before.notAfter.getTime());
    // The connection opened before the renewal still serves requests.
    expect((await get(port, 'web.lab.test', agent)).status).toBe(200);
    expect(backend.connections).toBeGreaterThan(0);
    agent.destroy();

    const oldFiles = x509((await sClient(port, 'files.lab.test', filesCert)).certPem);
    selfSigned('files.lab.test', filesCert, filesKey, 90);
    await certs.check();
    const newFiles = x509((await sClient(port, 'files.lab.test', filesCert)).certPem);
    expect(newFiles.serial).not.toBe(oldFiles.serial);
    // Clients without SNI get the new default too.
    expect(x509((await sClient(port, null)).certPem).serial).toBe(newFiles.serial);

    const info = certs.info();
    expect(info.map((i) => [i.hosts[0], i.source, i.error])).toEqual([
      ['web.lab.test', 'internal', null],
      ['files.lab.test', 'files', null],
    ]);
    expect(info[0]?.notAfter).toBe(after.notAfter.toISOString());
  });

  it('keeps the local CA: key mode 0600, the same root after a restart', async () => {
    await listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: twoNames() }]);
    expect(statSync(path.join(dir, 'tls', 'ca', 'root.key')).mode & 0o777).toBe(0o600);
    const root = readFileSync(rootFile(), 'utf8');
    const leafKeys = (await import('node:fs'))
      .readdirSync(path.join(dir, 'tls', 'certs', 'internal'))
      .filter((f) => f.endsWith('.key'));
    expect(leafKeys).toHaveLength(1);
    expect(statSync(path.join(dir, 'tls', 'certs', 'internal', leafKeys[0] as string)).mode & 0o777).toBe(0o600);

    const again = new CertificateManager({ storeDir: path.join(dir, 'tls'), clock, logger: silentLogger });
    expect((await again.localCa()).rootPem).toBe(root);
    again.close();
  });

  it('refuses a listener whose certificate files cannot be read, naming the listener and the file', async () => {
    const missing = path.join(dir, 'nope.crt');
    const bad: ListenerTls = {
      certificates: [{ hosts: ['x.lab.test'], source: { kind: 'files', cert: missing, key: filesKey } }],
      defaultHost: null,
      hsts: null,
    };
    await expect(
      listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: bad }]),
    ).rejects.toThrow(new RegExp(`listener "websecure".*${missing.replace(/[.]/g, '\\.')}`));
    writeFileSync(missing, readFileSync(filesCert)); // a cert that does not match the key below
    const mismatch: ListenerTls = {
      ...bad,
      certificates: [{ hosts: ['x.lab.test'], source: { kind: 'files', cert: missing, key: rootKeyOf() } }],
    };
    await expect(
      listen([{ name: 'websecure', protocol: 'http', host: '127.0.0.1', port: 0, tls: mismatch }]),
    ).rejects.toThrow(/cannot be used together/);
  });

  function rootKeyOf(): string {
    const other = path.join(dir, 'other.key');
    selfSigned('other.lab.test', path.join(dir, 'other.crt'), other);
    return other;
  }
});
