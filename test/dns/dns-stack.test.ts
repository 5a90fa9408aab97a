/**
 * The `dns:` section end to end: validation with located errors and fixes, record sets as
 * resources that `plan` shows like any other, `apply` recording them, and the server serving
 * what state holds (dnsSettingsFromState), asked with dig.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/config/load.js';
import { buildModel } from '../../src/model/build-model.js';
import { DnsServer } from '../../src/dns/dns-server.js';
import { dnsSettingsFromState } from '../../src/dns/dns-settings.js';
import { serviceRecords } from '../../src/dns/service-records.js';
import { runCliOk } from '../helpers/cli.js';
import { stopDataPlane } from '../../src/proxy/process/launcher.js';
import { readState } from '../helpers/state.js';
import { dig } from './dig.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'groundwork-dns-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  // apply without a daemon starts the stack's data plane (it serves the zone): stop it first.
  for (const d of dirs) await stopDataPlane(path.join(d, '.groundwork'));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const GOOD = `stack: homelab
dns:
  listen: 127.0.0.1:5353
  upstreams: [192.168.1.1]
  records:
    - { name: nas, type: A, value: 192.168.1.10 }
    - { name: nas, type: A, value: 192.168.1.11 }
    - { name: nas, type: AAAA, value: "FD00::10" }
    - { name: www, type: CNAME, value: nas }
    - { name: "@", type: TXT, value: "v=spf1 -all", ttl: 3600 }
    - { name: _ldap._tcp, type: SRV, priority: 10, weight: 5, port: 389, target: nas }
    - { name: "@", type: MX, priority: 10, exchange: mail.example.org. }
`;

function diagnosticsOf(text: string) {
  return parseStackText(text, 'groundwork.yaml', '/tmp', { precise: true }).diagnostics;
}

describe('dns: in the stack file', () => {
  it('becomes one dns-zone resource and one dns-record per name and type', () => {
    const loaded = parseStackText(GOOD, 'groundwork.yaml', '/tmp');
    expect(loaded.diagnostics).toEqual([]);
    const { model } = buildModel(
      loaded.config!,
      { dir: '/tmp', configHash: loaded.configHash, file: loaded.file },
      { cli: {}, env: {} },
    );
    const dns = model!.resources.filter((r) => r.kind.startsWith('dns-'));
    expect(dns.map((r) => r.address)).toEqual([
      'dns-zone.homelab.internal',
      'dns-record.@.MX',
      'dns-record.@.TXT',
      'dns-record._ldap._tcp.SRV',
      'dns-record.nas.A',
      'dns-record.nas.AAAA',
      'dns-record.www.CNAME',
    ]);
    expect(dns[0]?.spec).toEqual({ zone: 'homelab.internal', listen: '127.0.0.1:5353', upstreams: ['192.168.1.1'] });
    const byAddress = Object.fromEntries(dns.map((r) => [r.address, r]));
    expect(byAddress['dns-record.nas.A']?.spec).toEqual({
      zone: 'homelab.internal',
      name: 'nas.homelab.internal',
      type: 'A',
      ttl: 300,
      values: ['192.168.1.10', '192.168.1.11'],
    });
    expect(byAddress['dns-record.nas.AAAA']?.spec.values).toEqual(['fd00::10']);
    expect(byAddress['dns-record.www.CNAME']?.spec.values).toEqual(['nas.homelab.internal']);
    expect(byAddress['dns-record.@.MX']?.spec.values).toEqual([{ priority: 10, exchange: 'mail.example.org' }]);
    expect(byAddress['dns-record._ldap._tcp.SRV']?.dependsOn).toEqual(['dns-zone.homelab.internal']);
  });

  it('reports each mistake where it is, with a fix', () => {
    const text = `stack: homelab
services:
  api: { command: "sleep 1000", ports: { http: 8080 } }
dns:
  zone: lab.test
  listen: 127.0.0.1:99999
  upstreams: [127.0.0.1:99999]
  records:
    - { name: nas, type: A, value: "fd00::1" }
    - { name: nas.lab.test, type: A, value: 10.0.0.1 }
    - { name: srv, type: SRV, port: 80, target: nas }
    - { name: mx, type: MX, priority: 1, exchange: nas, value: nas }
    - { name: api, type: A, value: 10.0.0.2 }
    - { name: www, type: CNAME, value: nas }
    - { name: www, type: TXT, value: hello }
    - { name: t, type: TXT, value: a, ttl: 60 }
    - { name: t, type: TXT, value: b, ttl: 120 }
    - { name: x, type: PTR, value: nas }
    - { name: other.example.org., type: A, value: 10.0.0.3 }
`;
    const d = diagnosticsOf(text);
    const at = (line: number) => d.filter((x) => x.line === line);
    const one = (line: number) => {
      const found = at(line);
      expect(found, `diagnostics on line ${line}: ${JSON.stringify(d, null, 1)}`).toHaveLength(1);
      return found[0]!;
    };
    expect(one(6)).toMatchObject({ code: 'invalid-value', path: 'dns.listen' });
    expect(one(7)).toMatchObject({ code: 'invalid-value', path: 'dns.upstreams.0' });
    expect(one(9)).toMatchObject({ code: 'invalid-value', fix: 'an IPv6 address goes in an AAAA record' });
    expect(one(10)).toMatchObject({ code: 'invalid-value', path: 'dns.records.1.name' });
    expect(one(10).fix).toContain('write `nas`');
    const srv = at(11);
    expect(srv.map((x) => x.message)).toEqual([
      'record 2 (srv SRV) is missing `priority`',
      'record 2 (srv SRV) is missing `weight`',
    ]);
    expect(srv[0]?.fix).toContain('priority: 10, weight: 5, port: 389');
    expect(one(12)).toMatchObject({ code: 'unknown-key', path: 'dns.records.3.value' });
    expect(one(13)).toMatchObject({ code: 'conflict', path: 'dns.records.4.name' });
    expect(one(14)).toMatchObject({ code: 'conflict' });
    expect(one(14).message).toContain('a CNAME stands alone');
    expect(at(15)).toHaveLength(0);
    expect(one(17)).toMatchObject({ code: 'conflict', path: 'dns.records.8.ttl' });
    expect(one(17).fix).toContain('ttl: 60');
    expect(one(18)).toMatchObject({ code: 'invalid-value', path: 'dns.records.9.type' });
    expect(one(18).fix).toContain('A, AAAA, CNAME, TXT, SRV, MX');
    expect(one(19).message).toContain('outside the zone lab.test');
    expect(d).toHaveLength(12);
    for (const x of d) expect(x.fix, JSON.stringify(x)).toBeTruthy();
  });

  it('plan shows record changes; apply records them; the server serves what state holds', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'groundwork.yaml');
    writeFileSync(file, GOOD);
    const opts = { cwd: dir };
    const first = await runCliOk(['plan', '--out', 'first.plan'], opts, 0);
    expect(first.stdout).toContain('+ dns-zone.homelab.internal');
    expect(first.stdout).toContain('+ dns-record.nas.A');
    expect(first.stdout).toContain('+ dns-record._ldap._tcp.SRV');
    // A saved plan with these addresses (dots, `@`) passes the saved plan's shape check.
    await runCliOk(['apply', '--plan', 'first.plan', '-m', 'dns'], opts);
    expect((await runCliOk(['plan'], opts, 0)).stdout).not.toMatch(/[+~-] dns-/);

    writeFileSync(
      file,
      GOOD.replace('value: 192.168.1.11 }', 'value: 192.168.1.12 }').replace(
        '    - { name: www, type: CNAME, value: nas }\n',
        '',
      ),
    );
    const second = await runCliOk(['plan'], opts, 0);
    expect(second.stdout).toMatch(/~ dns-record\.nas\.A/);
    expect(second.stdout).toContain('192.168.1.12');
    expect(second.stdout).toMatch(/- dns-record\.www\.CNAME/);
    expect(second.stdout).not.toContain('dns-record.nas.AAAA');
    await runCliOk(['apply', '-m', 'dns change'], opts);

    const settings = dnsSettingsFromState(readState(dir).resources);
    expect(settings).toBeDefined();
    expect(settings!.problems).toEqual([]);
    expect(settings!.listen).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(settings!.upstreams).toEqual([{ host: '192.168.1.1', port: 53 }]);
    const server = new DnsServer({
      zone: settings!.zone,
      // Port 0 rather than the recorded 5353, which another test or a real resolver may hold.
      listen: { host: '127.0.0.1', port: 0 },
      records: [
        ...settings!.records,
        ...serviceRecords(settings!.zone, [{ name: 'api', address: { host: '127.77.0.2', ports: { http: 8080 } } }]),
      ],
    });
    await server.start();
    try {
      const port = server.address().port;
      expect((await dig(port, 'nas.homelab.internal', 'A')).answer.sort()).toEqual([
        'nas.homelab.internal. 300 IN A 192.168.1.10',
        'nas.homelab.internal. 300 IN A 192.168.1.12',
      ]);
      expect((await dig(port, 'nas.homelab.internal', 'AAAA')).answer).toEqual([
        'nas.homelab.internal. 300 IN AAAA fd00::10',
      ]);
      expect((await dig(port, 'www.homelab.internal', 'A')).status).toBe('NXDOMAIN');
      expect((await dig(port, 'homelab.internal', 'TXT')).answer).toEqual([
        'homelab.internal. 3600 IN TXT "v=spf1 -all"',
      ]);
      expect((await dig(port, 'homelab.internal', 'MX')).answer).toEqual([
        'homelab.internal. 300 IN MX 10 mail.example.org.',
      ]);
      expect((await dig(port, 'SRV', '_ldap._tcp.homelab.internal')).answer).toEqual([
        '_ldap._tcp.homelab.internal. 300 IN SRV 10 5 389 nas.homelab.internal.',
      ]);
      expect((await dig(port, 'SRV', '_http._tcp.api.homelab.internal')).answer).toEqual([
        '_http._tcp.api.homelab.internal. 30 IN SRV 0 0 8080 api.homelab.internal.',
      ]);
    } finally {
      await server.close();
    }
  });
});
