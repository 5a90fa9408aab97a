/**
 * Valid stacks load with no diagnostics and the values written in them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStack, parseStackText } from '../../src/config/load.js';
import { FULL_STACK as FULL, SEED_STACKS } from './seed-stacks.js';

describe('good stacks', () => {
  it.each(SEED_STACKS.map((text, i) => [i, text] as const))('fuzzer seed %i is valid', (_i, text) => {
    const r = parseStackText(text, 'seed.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.config).toBeDefined();
  });

  it('loads a minimal stack', () => {
    const r = parseStackText('stack: x\n', 'min.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.config).toEqual({ stack: 'x' });
    expect(r.configHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('loads a stack that uses every key of the schema', () => {
    const r = parseStackText(FULL, 'full.yaml');
    expect(r.diagnostics).toEqual([]);
    const c = r.config;
    expect(c).toBeDefined();
    if (!c) return;
    expect(c.$schema).toBe('./groundwork.schema.json');
    expect(c.stack).toBe('homelab');
    expect(c.variables).toEqual({
      region: { default: 'eu-west', description: 'where the lab runs' },
      workers: { default: 3 },
      debug: { default: false },
    });
    expect(c.secrets).toEqual({ 'db-password': { description: 'password of the app user' }, 'api-key': {} });
    expect(c.volumes?.pgdata).toEqual({ path: './data/pg', owner: 'postgres:postgres', mode: '0750' });
    expect(c.volumes?.uploads).toEqual({ path: '/srv/uploads', owner: '1000:1000', mode: '755' });

    const db = c.services?.db;
    expect(db?.runtime).toBe('process');
    expect(db?.args).toEqual(['-D', '${volume.pgdata}', '-p', '${port.pg}']);
    expect(db?.cwd).toBe('services/db');
    expect(db?.ports).toEqual({ pg: 5432 });
    expect(db?.health).toEqual({
      tcp: { port: 'pg' },
      interval: '5s',
      timeout: '1s',
      start_period: '30s',
      healthy: 1,
      unhealthy: 5,
    });
    expect(db?.restart).toBe('on-failure');
    expect(db?.stop_grace).toBe('1m30s');
    expect(db?.user).toBe('postgres');
    expect(db?.resources).toEqual({ memory: '1GiB', cpu: 2 });

    const web = c.services?.web;
    expect(web?.command).toBe('node dist/server.js');
    expect(web?.env).toEqual({
      PORT: '${port.http}',
      REGION: '${var.region}',
      DATABASE_URL: 'postgres://app:${secret.db-password}@${service.db.address.pg}/app',
      API_KEY: '${secret.api-key}',
      UPLOADS: '${volume.uploads}',
      LITERAL: 'cost is $${price}',
      WORKERS: 4,
      VERBOSE: true,
    });
    expect(web?.replicas).toBe(2);
    expect(web?.ports).toEqual({ http: 'auto', admin: 'auto' });
    expect(web?.health).toEqual({
      http: { path: '/healthz', port: 'http', status: '200-299', body: 'ok' },
      interval: '2s',
    });
    expect(web?.liveness).toEqual({ exec: { command: 'test -f /tmp/alive' }, interval: '10s' });
    expect(web?.deploy).toEqual({
      strategy: 'blue-green',
      max_surge: 1,
      max_unavailable: 0,
      auto_rollback: true,
      progress_deadline: '60s',
    });
    expect(web?.resources).toEqual({ memory: '256MiB', cpu: 0.5 });
    expect(web?.depends_on).toEqual(['db']);

    expect(c.routes).toEqual([
      { match: { host: 'web.lab.test', path: '/' }, service: 'web', port: 'http' },
      { match: { host: '*.admin.lab.test', path: '/admin' }, service: 'web', port: 'admin' },
    ]);
  });

  it('gives equal configs equal hashes, whatever the key order and layout', () => {
    const a = parseStackText('stack: x\nservices:\n  web: { command: run, replicas: 2 }\n', 'a.yaml');
    const b = parseStackText(
      '# same stack\nservices:\n  web:\n    replicas: 2\n    command: "run"\nstack: x\n',
      'b.yaml',
    );
    const c = parseStackText('stack: x\nservices:\n  web: { command: run, replicas: 3 }\n', 'c.yaml');
    expect(a.diagnostics).toEqual([]);
    expect(b.diagnostics).toEqual([]);
    expect(a.configHash).toBe(b.configHash);
    expect(a.configHash).not.toBe(c.configHash);
  });

  it('resolves YAML anchors and aliases', () => {
    const text = [
      'stack: anchors',
      'services:',
      '  web:',
      '    command: node web.js',
      '    ports: { http: auto }',
      '    health: &probe',
      '      http: { path: /healthz }',
      '      interval: 2s',
      '    env: &env',
      '      NODE_ENV: production',
      '      LOG_LEVEL: &level info',
      '  api:',
      '    command: node api.js',
      '    ports: { http: auto }',
      '    health: *probe',
      '    env: *env',
      '    depends_on: &deps [web]',
      '  worker:',
      '    command: node worker.js',
      '    env: { LOG_LEVEL: *level }',
      '    depends_on: *deps',
      '',
    ].join('\n');
    const r = parseStackText(text, 'anchors.yaml');
    expect(r.diagnostics).toEqual([]);
    const s = r.config?.services;
    expect(s?.api?.health).toEqual({ http: { path: '/healthz' }, interval: '2s' });
    expect(s?.api?.health).toEqual(s?.web?.health);
    expect(s?.api?.env).toEqual({ NODE_ENV: 'production', LOG_LEVEL: 'info' });
    expect(s?.worker?.env).toEqual({ LOG_LEVEL: 'info' });
    expect(s?.worker?.depends_on).toEqual(['web']);
  });

  it('reports a problem inside an anchored value once per use, at the definition', () => {
    const text = [
      'stack: anchors',
      'services:',
      '  web:',
      '    command: node web.js',
      '    ports: { http: auto }',
      '    health: &probe { http: { path: /healthz }, interval: 2 sec }',
      '  api:',
      '    command: node api.js',
      '    ports: { http: auto }',
      '    health: *probe',
      '',
    ].join('\n');
    const r = parseStackText(text, 'anchors.yaml');
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.path, d.line, d.code])).toEqual([
      ['services.web.health.interval', 6, 'invalid-value'],
      ['services.api.health.interval', 6, 'invalid-value'],
    ]);
  });

  it('accepts comments, flow style, quoting, CRLF line endings and a byte order mark', () => {
    const text =
      '\ufeff# lab\r\nstack: "lab" # the name\r\nservices: { web: { command: \'node "x.js"\', replicas: 0 } }\r\n';
    const r = parseStackText(Buffer.from(text, 'utf8'), 'crlf.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.config).toEqual({ stack: 'lab', services: { web: { command: 'node "x.js"', replicas: 0 } } });
  });

  it('accepts the YAML document markers --- and ...', () => {
    const r = parseStackText('---\nstack: x\n...\n', 'markers.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.config?.stack).toBe('x');
  });

  describe('from disk', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'gw-good-stacks-'));
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('finds groundwork.yaml in a directory and resolves dir', async () => {
      writeFileSync(path.join(dir, 'groundwork.yaml'), FULL);
      const r = await loadStack(dir);
      expect(r.diagnostics).toEqual([]);
      expect(r.file).toBe(path.join(dir, 'groundwork.yaml'));
      expect(r.dir).toBe(dir);
      expect(r.config?.stack).toBe('homelab');
      expect(r.configHash).toBe(parseStackText(FULL, 'other-name.yaml').configHash);
    });

    it('falls back to groundwork.yml', async () => {
      const sub = mkdtempSync(path.join(dir, 'yml-'));
      writeFileSync(path.join(sub, 'groundwork.yml'), 'stack: yml\n');
      const r = await loadStack(sub);
      expect(r.diagnostics).toEqual([]);
      expect(r.config?.stack).toBe('yml');
    });
  });
});
