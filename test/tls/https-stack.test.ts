/**
 * HTTPS from the stack file to the data-plane process: `tls:` and `redirect_https:` validated
 * with located diagnostics; `apply` (no daemon) records them and the data plane serves them;
 * `status` shows each certificate's expiry. Certificates are checked with openssl.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/config/load.js';
import type { CertificateInfo } from '../../src/tls/certificate-status.js';
import { runCliOk } from '../helpers/cli.js';
import { ensureBuilt } from '../helpers/dist.js';
import { teardownStack } from '../helpers/lab.js';
import { readState } from '../helpers/state.js';
import { freePort } from '../helpers/ports.js';
import { httpService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sClient, selfSigned, x509 } from './openssl.js';

describe('tls: in the stack file', () => {
  it('reports each mistake where it is, with a fix', () => {
    const text = `stack: lab
services:
  web: { command: "sleep 1000", ports: { http: auto } }
listeners:
  plain: { port: 8080, redirect_https: nope }
  plain2: { port: 8081, redirect_https: plain }
  db:
    port: 5433
    protocol: tcp
    service: web
    target_port: http
    tls: { certificates: [ { hosts: [db.lab.test], source: internal } ] }
  websecure:
    port: 8443
    tls:
      default: other.lab.test
      hsts_subdomains: true
      certificates:
        - { hosts: [files.lab.test], source: files, cert: a.pem }
        - { hosts: ["*.lab.test", files.lab.test], source: acme }
        - { hosts: [x.lab.test], source: internal, key: k.pem }
        - { hosts: [y.lab.test], source: lets-encrypt }
`;
    const d = parseStackText(text, 'groundwork.yaml', '/tmp', { precise: true }).diagnostics;
    const at = (line: number) => d.filter((x) => x.line === line);
    expect(at(5)).toMatchObject([{ code: 'dangling-reference', path: 'listeners.plain.redirect_https' }]);
    expect(at(6)).toMatchObject([{ code: 'invalid-value', path: 'listeners.plain2.redirect_https' }]);
    expect(at(6)[0]?.fix).toContain('add a `tls:` section to listener `plain`');
    expect(at(12)).toMatchObject([{ code: 'invalid-value', path: 'listeners.db.tls' }]);
    expect(at(16)).toMatchObject([{ code: 'dangling-reference', path: 'listeners.websecure.tls.default' }]);
    expect(at(17)).toMatchObject([{ code: 'invalid-value', path: 'listeners.websecure.tls.hsts_subdomains' }]);
    expect(at(19)).toMatchObject([{ code: 'missing-key', message: expect.stringContaining('no `key`') }]);
    expect(
      at(20)
        .map((x) => x.code)
        .sort(),
    ).toEqual(['conflict', 'invalid-value']);
    expect(at(20).find((x) => x.code === 'invalid-value')?.message).toContain('HTTP-01');
    expect(at(21)).toMatchObject([{ code: 'invalid-value', path: 'listeners.websecure.tls.certificates.2.key' }]);
    expect(at(22)).toMatchObject([{ code: 'invalid-value', path: 'listeners.websecure.tls.certificates.3.source' }]);
    expect(at(22)[0]?.fix).toMatch(/files.*internal.*acme/);
    expect(d).toHaveLength(10);
    for (const x of d) expect(x.fix, JSON.stringify(x)).toBeTruthy();
  });
});

describe('tls: the ACME challenge in the stack file', () => {
  const httpsOnly = (acme: string, port = 443) => `stack: lab
services:
  web: { command: "sleep 1000", ports: { http: auto } }
listeners:
  websecure:
    port: ${port}
    tls:
      certificates:
        - { hosts: [web.example.org], source: acme${acme} }
`;
  const parse = (text: string) => parseStackText(text, 'groundwork.yaml', '/tmp', { precise: true }).diagnostics;

  it('refuses HTTP-01 (the default) without a plain listener, and says TLS-ALPN-01 would work', () => {
    for (const acme of ['', ', acme: { challenge: http-01 }']) {
      const d = parse(httpsOnly(acme, 8443));
      expect(d).toMatchObject([
        { severity: 'error', code: 'missing-key', line: 9, path: 'listeners.websecure.tls.certificates.0' },
      ]);
      expect(d[0]?.message).toContain('HTTP-01');
      expect(d[0]?.fix).toContain('challenge: tls-alpn-01');
      expect(d[0]?.fix).toContain('on port 443');
    }
  });

  it('takes TLS-ALPN-01 on port 443 as is, and warns when the listener is elsewhere', () => {
    expect(parse(httpsOnly(', acme: { challenge: tls-alpn-01 }'))).toEqual([]);
    const d = parse(httpsOnly(', acme: { challenge: tls-alpn-01 }', 8443));
    expect(d).toMatchObject([
      { severity: 'warning', path: 'listeners.websecure.tls.certificates.0.acme.challenge', line: 9 },
    ]);
    expect(d[0]?.message).toContain('port 8443');
    const bad = parse(httpsOnly(', acme: { challenge: dns-01 }'));
    expect(bad).toMatchObject([{ severity: 'error', path: 'listeners.websecure.tls.certificates.0.acme.challenge' }]);
    expect(bad[0]?.fix).toMatch(/http-01.*tls-alpn-01/);
  });
});

describe('tls: per-route redirect_https in the stack file', () => {
  const stack = (listeners: string, routes: string) => `stack: lab
services:
  web: { command: "sleep 1000", ports: { http: auto } }
listeners:
  web: { port: 8080 }
${listeners}
routes:
${routes}
`;
  const parse = (text: string) => parseStackText(text, 'groundwork.yaml', '/tmp', { precise: true }).diagnostics;
  const secure = (name: string, port: number) =>
    `  ${name}: { port: ${port}, tls: { certificates: [ { hosts: [${name}.lab.test], source: internal } ] } }`;
  const r = (extra: string) => `  - { match: { path: / }, service: web, port: http, ${extra} }`;

  it('finds the TLS listener to redirect to, or says which one to name', () => {
    expect(parse(stack(secure('a', 8443), r('redirect_https: true')))).toEqual([]);
    expect(parse(stack(secure('a', 8443), r('redirect_https: false')))).toEqual([]);
    const two = `${secure('a', 8443)}\n${secure('b', 9443)}`;
    expect(parse(stack(two, r('redirect_https: true, listener: b')))).toEqual([]);
    const ambiguous = parse(stack(two, r('redirect_https: true')));
    expect(ambiguous).toMatchObject([{ code: 'conflict', path: 'routes.0.redirect_https', line: 9 }]);
    expect(ambiguous[0]?.fix).toContain('one of: a, b');
    const none = parse(stack('', r('redirect_https: true')));
    expect(none).toMatchObject([{ code: 'dangling-reference', path: 'routes.0.redirect_https' }]);
    const plain = parse(stack(secure('a', 8443), r('redirect_https: true, listener: web')));
    expect(plain).toMatchObject([{ code: 'invalid-value', path: 'routes.0.redirect_https' }]);
    expect(plain[0]?.message).toContain('`web` has no tls');
    expect(plain[0]?.fix).toContain('(a)');
  });
});

describe('HTTPS through apply and the data-plane process', () => {
  let dir = '';
  let httpsPort = 0;
  let httpPort = 0;
  let otherPort = 0;

  beforeAll(async () => {
    ensureBuilt();
    dir = makeTempDir('https-stack');
    writeServiceScript(dir);
    selfSigned('files.lab.test', path.join(dir, 'files.crt'), path.join(dir, 'files.key'));
    httpsPort = await freePort();
    httpPort = await freePort();
    otherPort = await freePort();
    writeStack(dir, {
      stack: 'secure',
      services: { web: httpService() },
      listeners: {
        web: { port: httpPort, redirect_https: 'websecure' },
        other: { port: otherPort },
        websecure: {
          port: httpsPort,
          tls: {
            certificates: [
              { hosts: ['web.lab.test'], source: 'internal' },
              { hosts: ['files.lab.test'], source: 'files', cert: 'files.crt', key: 'files.key' },
            ],
            hsts: '180d',
          },
        },
      },
      routes: [
        { match: { path: '/' }, service: 'web', port: 'http' },
        { match: { path: '/healthz' }, service: 'web', port: 'http', redirect_https: false },
        { match: { host: 'shop.lab.test' }, listener: 'websecure', service: 'web', port: 'http', redirect_https: true },
      ],
    });
    await runCliOk(['apply', '-m', 'https'], { cwd: dir });
  }, 60_000);

  afterAll(async () => {
    if (!dir) return;
    await teardownStack(dir, 'secure');
    removeTempDir(dir);
  });

  it('serves both names with their certificates, redirects plain HTTP, and status shows expiry', async () => {
    const root = path.join(dir, '.groundwork', 'tls', 'ca', 'root.crt');
    const web = await sClient(httpsPort, 'web.lab.test', root);
    expect(web.verified).toBe(true);
    expect(x509(web.certPem).issuer).toMatch(/Groundwork Local CA/);
    const files = await sClient(httpsPort, 'files.lab.test', path.join(dir, 'files.crt'));
    expect(files.verified).toBe(true);

    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: httpPort });
      let text = '';
      s.on('data', (c) => (text += c.toString('latin1')));
      s.on('end', () => resolve(text));
      s.on('error', reject);
      s.end('GET /a?b=1 HTTP/1.1\r\nhost: web.lab.test\r\nconnection: close\r\n\r\n');
    });
    expect(answer).toContain(`location: https://web.lab.test:${httpsPort}/a?b=1\r\n`);

    // Per route: /healthz opts out of the listener's redirect; shop.lab.test (a websecure route)
    // is redirected from a plain listener that serves everything else.
    const plainGet = (port: number, host: string, target: string) =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port });
        let text = '';
        s.on('data', (c) => (text += c.toString('latin1')));
        s.on('end', () => resolve(text));
        s.on('error', reject);
        s.end(`GET ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      });
    expect(await plainGet(httpPort, 'web.lab.test', '/healthz')).toMatch(/^HTTP\/1\.1 200 /);
    const shop = await plainGet(otherPort, 'shop.lab.test', '/cart?id=7');
    expect(shop).toMatch(/^HTTP\/1\.1 308 /);
    expect(shop).toContain(`location: https://shop.lab.test:${httpsPort}/cart?id=7\r\n`);
    expect(await plainGet(otherPort, 'web.lab.test', '/a')).toMatch(/^HTTP\/1\.1 200 /);

    // No private key in outputs, the data plane's log or the recorded state (paths only).
    const key = readFileSync(path.join(dir, 'files.key'), 'utf8').split('\n')[1] as string;
    const stateDump = (await runCliOk(['status', '--json'], { cwd: dir })).stdout;
    expect(stateDump).not.toContain(key);
    expect(readFileSync(path.join(dir, '.groundwork', 'dataplane.log'), 'utf8')).not.toContain(key);
    const recorded = JSON.stringify(readState(dir).resources.find((r) => r.address === 'listener.websecure'));
    expect(recorded).toContain(path.join(dir, 'files.key'));
    expect(recorded).not.toContain(key);

    const status = JSON.parse(stateDump) as { certificates: CertificateInfo[] };
    const byHost = new Map(status.certificates.map((c) => [c.hosts[0], c]));
    expect(byHost.get('web.lab.test')).toMatchObject({ listener: 'websecure', source: 'internal', error: null });
    expect(byHost.get('web.lab.test')?.notAfter).toBe(x509(web.certPem).notAfter.toISOString());
    expect(byHost.get('files.lab.test')?.notAfter).toBe(x509(files.certPem).notAfter.toISOString());
    const text = (await runCliOk(['status'], { cwd: dir })).stdout;
    expect(text).toMatch(/web\.lab\.test\s+websecure\s+internal\s+\S+ \(6 days left/);
    expect(text).toMatch(/files\.lab\.test\s+websecure\s+files\s+\S+ \(29 days left\)/);
  });

  it('`ca export` gives the root that signed the internal certificates, never its key', async () => {
    const root = readFileSync(path.join(dir, '.groundwork', 'tls', 'ca', 'root.crt'), 'utf8');
    const plain = await runCliOk(['ca', 'export'], { cwd: dir });
    expect(plain.stdout).toBe(root);
    expect(plain.stderr).toContain('update-ca-certificates');
    const json = JSON.parse(
      (await runCliOk(['ca', 'export', '--out', 'lab-root.crt', '--json'], { cwd: dir })).stdout,
    ) as {
      pem: string;
      sha256: string;
    };
    expect(json.pem).toBe(root);
    expect(readFileSync(path.join(dir, 'lab-root.crt'), 'utf8')).toBe(root);
    const key = readFileSync(path.join(dir, '.groundwork', 'tls', 'ca', 'root.key'), 'utf8').split('\n')[1] as string;
    expect(plain.stdout + plain.stderr + JSON.stringify(json)).not.toContain(key);
    expect((await runCliOk(['ca', 'import'], { cwd: dir }, 2)).stderr).toContain('takes one action, export');
  });
});
