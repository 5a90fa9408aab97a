/**
 * The `checks:` section of the stack file: every mistake is reported on its line, with a fix;
 * a good section becomes `check.NAME` resources with every default written out.
 */
import { describe, expect, it } from 'vitest';
import { parseStackText } from '../../../src/config/load.js';
import { buildModel } from '../../../src/model/build-model.js';

function diagnose(checks: string, extra = '') {
  const text = `stack: lab\n${extra}checks:\n${checks}`;
  const r = parseStackText(text, '/tmp/groundwork.yaml', '/tmp');
  return r.diagnostics.map((d) => ({ code: d.code, line: d.line, message: d.message, fix: d.fix ?? '' }));
}

const SERVICE = 'services:\n  api:\n    command: node server.js\n    ports: { http: auto }\n';

describe('checks: in the stack file', () => {
  it.each([
    [
      'no type',
      '  web: { interval: 5s }\n',
      'missing-key',
      3,
      /exactly one of http, tcp, dns, tls, exec, push/,
      /add e\.g\./,
    ],
    [
      'two types',
      '  web:\n    tcp: 127.0.0.1:80\n    http: { url: http://x/ }\n',
      'conflict',
      3,
      /exactly one/,
      /keep one of http, tcp/,
    ],
    [
      'icmp',
      '  gw:\n    icmp: 192.168.1.1\n',
      'unsupported',
      4,
      /icmp checks are not available: they need a raw socket/,
      /tcp: HOST:22/,
    ],
    [
      'a bad duration',
      '  web: { tcp: "127.0.0.1:80", interval: 5 seconds }\n',
      'invalid-value',
      3,
      /interval/,
      /number with a unit/,
    ],
    ['failures 0', '  web: { tcp: "127.0.0.1:80", failures: 0 }\n', 'invalid-value', 3, /failures/, /.+/],
    [
      'tcp without a port',
      '  nas:\n    tcp: 192.168.1.10\n',
      'invalid-value',
      4,
      /tcp needs host:port/,
      /127\.0\.0\.1:445/,
    ],
    [
      'a url without a scheme',
      '  web:\n    http: { url: "127.0.0.1:8080/healthz" }\n',
      'invalid-value',
      4,
      /must start with http/,
      /http:\/\/127/,
    ],
    [
      'a regex that does not compile',
      '  web:\n    http: { url: "http://x/", body_regex: "(" }\n',
      'invalid-value',
      4,
      /not a valid regular expression/,
      /body:/,
    ],
    [
      'an empty status range',
      '  web:\n    http: { url: "http://x/", status: 399-200 }\n',
      'invalid-value',
      4,
      /is empty/,
      /200-399/,
    ],
    [
      'a status out of range',
      '  web:\n    http: { url: "http://x/", status: "700" }\n',
      'invalid-value',
      4,
      /status/,
      /200-399/,
    ],
    [
      'exec with both forms',
      '  db:\n    exec: { command: [pg_isready], shell: "pg_isready" }\n',
      'conflict',
      4,
      /exactly one of command .* or shell/,
      /command: \[pg_isready/,
    ],
    ['exec with neither', '  db:\n    exec: {}\n', 'missing-key', 4, /exactly one of command/, /shell/],
    ['exec command as a string', '  db:\n    exec: { command: "pg_isready -h x" }\n', 'wrong-type', 4, /command/, /.+/],
    [
      'a timeout over the interval',
      '  web: { tcp: "127.0.0.1:80", interval: 5s, timeout: 10s }\n',
      'invalid-value',
      3,
      /longer than its interval/,
      /lower the timeout/,
    ],
    [
      'an unknown dns type',
      '  nas:\n    dns: { name: nas.lab, type: PTR }\n',
      'invalid-value',
      4,
      /type/,
      /use one of: A, AAAA/,
    ],
    [
      'a dns server that is not host:port',
      '  nas:\n    dns: { name: nas.lab, server: "127.0.0.1:99999" }\n',
      'invalid-value',
      4,
      /dns server needs host:port/,
      /127\.0\.0\.1/,
    ],
    [
      'tls without a port',
      '  cert:\n    tls: { address: example.lab }\n',
      'invalid-value',
      4,
      /tls address needs host:port/,
      /.+/,
    ],
    ['an unknown key', '  web: { tcp: "127.0.0.1:80", intervall: 5s }\n', 'unknown-key', 3, /intervall/, /interval/],
    [
      'a reference to an unknown service',
      '  api:\n    http: { url: "${service.apx.url.http}/healthz" }\n',
      'dangling-reference',
      8,
      /apx/,
      /api/,
      SERVICE,
    ],
    [
      'a secret in a check',
      '  api:\n    http: { url: "http://x/?k=${secret.key}" }\n',
      'invalid-value',
      5,
      /may only be used in env/,
      /env/,
      'secrets: { key: {} }\n',
    ],
  ])('%s: reported on its line with a fix', (_what, checks, code, line, message, fix, extra = '') => {
    const ds = diagnose(checks, extra);
    expect(ds, JSON.stringify(ds, null, 2)).toContainEqual(
      expect.objectContaining({ code, line, message: expect.stringMatching(message), fix: expect.stringMatching(fix) }),
    );
  });

  it('a good section becomes check resources with defaults written out, after the services they name', () => {
    const text = `stack: lab\n${SERVICE}checks:
  api: { http: { url: "\${service.api.url.http}/healthz", body: ok } }
  nas: { tcp: "192.168.1.10:445", interval: 5s }
  backup: { push: {}, interval: 1d }
  db: { exec: { command: [pg_isready, -h, 127.0.0.1] }, failures: 5, successes: 1 }
  lab-dns: { dns: { name: nas.lab, server: "127.0.0.1:5353", expect: [10.0.0.2] } }
  cert: { tls: { address: "127.0.0.1:443", servername: lab.test } }
`;
    const loaded = parseStackText(text, '/tmp/groundwork.yaml', '/tmp');
    expect(loaded.diagnostics).toEqual([]);
    const { model } = buildModel(
      loaded.config as NonNullable<typeof loaded.config>,
      { dir: '/tmp', configHash: 'x', file: 'groundwork.yaml' },
      { cli: {}, env: {} },
    );
    const checks = Object.fromEntries(
      (model?.resources ?? []).filter((r) => r.kind === 'check').map((r) => [r.address, r]),
    );
    expect(Object.keys(checks).sort()).toEqual([
      'check.api',
      'check.backup',
      'check.cert',
      'check.db',
      'check.lab-dns',
      'check.nas',
    ]);
    expect(checks['check.api']).toMatchObject({
      dependsOn: ['service.api'],
      spec: {
        type: 'http',
        interval: '30s',
        timeout: '10s',
        failures: 3,
        successes: 2,
        target: { url: '${service.api.url.http}/healthz', method: 'GET', status: '200-399', body: 'ok' },
      },
    });
    // A short interval shortens the default timeout; a push check goes down on one missed deadline.
    expect(checks['check.nas']?.spec).toMatchObject({ interval: '5s', timeout: '5s' });
    expect(checks['check.backup']?.spec).toMatchObject({
      type: 'push',
      failures: 1,
      successes: 1,
      target: { grace: '1d' },
    });
    expect(checks['check.cert']?.spec).toMatchObject({ target: { min_days: 14, verify: true } });
    const order = (model?.resources ?? []).map((r) => r.address);
    expect(order.indexOf('check.api' as never)).toBeGreaterThan(order.indexOf('service.api' as never));
  });
});
