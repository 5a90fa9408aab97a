/**
 * Every file in test/fixtures/bad-stacks/ is a realistic mistake. Loading one must never throw,
 * must not produce a config, and must report the expected diagnostics where the mistake is,
 * each with a fix. Binary and oversized inputs are generated into a temp dir, not committed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIAGNOSTIC_CODES,
  formatDiagnostic,
  type Diagnostic,
  type DiagnosticCode,
} from '../../src/config/diagnostic.js';
import { loadStack, MAX_STACK_FILE_BYTES, parseStackText, type LoadedStack } from '../../src/config/load.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/bad-stacks');

interface Expectation {
  code: DiagnosticCode;
  line: number;
  column?: number;
  /** Substring the diagnostic's fix must contain. */
  fix: string;
}

interface ManifestEntry {
  problem: string;
  /** Exact number of diagnostics: the mistake is reported once, without noise around it. */
  count: number;
  expect: Expectation[];
}

const isCode = (v: unknown): v is DiagnosticCode => (DIAGNOSTIC_CODES as readonly unknown[]).includes(v);

function readManifest(): Record<string, ManifestEntry> {
  const raw: unknown = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8'));
  const files = (raw as { files?: unknown }).files;
  if (typeof files !== 'object' || files === null) throw new Error('expected.json: no `files` map');
  for (const [name, entry] of Object.entries(files)) {
    const e = entry as Partial<ManifestEntry>;
    if (
      typeof e.problem !== 'string' ||
      typeof e.count !== 'number' ||
      !Array.isArray(e.expect) ||
      e.expect.length === 0
    ) {
      throw new Error(`expected.json: entry ${name} needs problem, count and a non-empty expect list`);
    }
    for (const x of e.expect) {
      if (
        !isCode(x.code) ||
        typeof x.line !== 'number' ||
        typeof x.fix !== 'string' ||
        (x.column !== undefined && typeof x.column !== 'number')
      ) {
        throw new Error(`expected.json: entry ${name} has a malformed expectation ${JSON.stringify(x)}`);
      }
    }
  }
  return files as Record<string, ManifestEntry>;
}

const manifest = readManifest();
const fixtureFiles = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

/** The checks every diagnostic must pass, whatever the input. */
function expectWellFormed(r: LoadedStack): void {
  expect(r.config).toBeUndefined();
  expect(r.diagnostics.some((d) => d.severity === 'error')).toBe(true);
  for (const d of r.diagnostics) {
    expect(DIAGNOSTIC_CODES).toContain(d.code);
    expect(d.line, `${d.code} line`).toBeGreaterThanOrEqual(1);
    expect(d.column, `${d.code} column`).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(d.line) && Number.isInteger(d.column)).toBe(true);
    expect(d.message.trim(), 'message').not.toBe('');
    expect(d.fix?.trim() ?? '', `fix of ${d.code}: ${d.message}`).not.toBe('');
    const text = formatDiagnostic(d);
    expect(text).not.toMatch(/^\s+at /m);
    expect(text).not.toMatch(/\bat (?:\S+ )?\(?(?:file:|node:|\/)\S+:\d+:\d+\)?/);
  }
}

function describeDiagnostics(ds: readonly Diagnostic[]): string {
  return ds.map((d) => `${d.line}:${d.column} ${d.code}: ${d.message} (fix: ${d.fix ?? '-'})`).join('\n');
}

describe('bad stack fixtures', () => {
  it('has a manifest entry for every fixture and a fixture for every entry', () => {
    expect(fixtureFiles.length).toBeGreaterThanOrEqual(32);
    expect(Object.keys(manifest).sort()).toEqual(fixtureFiles);
  });

  it.each(fixtureFiles)('%s', async (name) => {
    const entry = manifest[name];
    expect(entry, `no manifest entry for ${name}`).toBeDefined();
    if (!entry) return;
    const r = await loadStack(path.join(FIXTURES, name));
    expectWellFormed(r);
    const listing = describeDiagnostics(r.diagnostics);
    for (const x of entry.expect) {
      const hit = r.diagnostics.find(
        (d) =>
          d.code === x.code &&
          d.line === x.line &&
          (x.column === undefined || d.column === x.column) &&
          (d.fix ?? '').includes(x.fix),
      );
      expect(
        hit,
        `${entry.problem}: expected ${x.code} at ${x.line}:${x.column ?? '*'} with a fix containing ${JSON.stringify(x.fix)}; got\n${listing}`,
      ).toBeDefined();
    }
    expect(r.diagnostics.length, `${entry.problem}: got\n${listing}`).toBe(entry.count);
    expect(r.diagnostics.every((d) => d.file === path.join(FIXTURES, name))).toBe(true);
  });
});

describe('several independent problems', () => {
  it('reports all of them in one run, in file order', () => {
    const text = [
      'stack: shop', // 1
      'services:', // 2
      '  web:', // 3
      '    command: node server.js', // 4
      '    replica: 2', // 5  unknown key
      '    restart: allways', // 6  bad enum
      '    stop_grace: 10', // 7  duration without a unit
      '    depends_on: [dbb]', // 8  dangling reference
      '  db:', // 9
      '    command: postgres', // 10
      '',
    ].join('\n');
    const r = parseStackText(text, 'several.yaml');
    expectWellFormed(r);
    expect(r.diagnostics.map((d) => [d.line, d.code])).toEqual([
      [5, 'unknown-key'],
      [6, 'invalid-value'],
      [7, 'wrong-type'],
      [8, 'dangling-reference'],
    ]);
  });

  it('reports problems in different services and sections together', () => {
    const text = [
      'stack: shop',
      'variables: { region: { default: eu } }',
      'services:',
      '  a: { command: ./a, env: { R: "${var.regin}" } }',
      '  b: { command: ./b, ports: { http: 70000 } }',
      '  c: { command: ./c, health: { http: { path: /, port: web } }, ports: { http: auto } }',
      'volumes:',
      '  data: { path: ./data, mode: 777 }',
      'routes:',
      '  - { match: { host: x.test }, service: d, port: http }',
      '',
    ].join('\n');
    const r = parseStackText(text, 'sections.yaml');
    expectWellFormed(r);
    expect(r.diagnostics.map((d) => d.line)).toEqual([4, 5, 6, 8, 10]);
  });
});

describe('generated inputs', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-bad-stacks-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, data: Buffer | string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, data);
    return p;
  };

  it('refuses binary garbage as not-text', async () => {
    let s = 0x2545f491;
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      bytes[i] = s >>> 24;
    }
    bytes[100] = 0;
    const r = await loadStack(write('garbage.yaml', bytes));
    expectWellFormed(r);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'not-text', line: 1, column: 1 });
  });

  it('refuses a Latin-1 file (invalid UTF-8, no NUL) as not-text', async () => {
    const r = await loadStack(write('latin1.yaml', Buffer.from('stack: caf\xe9\n', 'latin1')));
    expectWellFormed(r);
    expect(r.diagnostics[0]?.code).toBe('not-text');
  });

  it('refuses a UTF-16 file as not-text', async () => {
    const r = await loadStack(
      write('utf16.yaml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('stack: shop\n', 'utf16le')])),
    );
    expectWellFormed(r);
    expect(r.diagnostics[0]?.code).toBe('not-text');
  });

  it('accepts a UTF-8 byte order mark', async () => {
    const r = await loadStack(
      write('bom.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('stack: shop\n')])),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.config?.stack).toBe('shop');
  });

  it('refuses a file over the size limit before reading it', async () => {
    const head = 'stack: shop\n# padding\n';
    const big = Buffer.alloc(MAX_STACK_FILE_BYTES + 1, '#');
    big.write(head);
    const r = await loadStack(write('big.yaml', big));
    expectWellFormed(r);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'too-large', line: 1, column: 1 });
    expect(r.diagnostics[0]?.message).toContain('4 MiB');
  });

  it('accepts a file of exactly the size limit', async () => {
    const big = Buffer.alloc(MAX_STACK_FILE_BYTES, ' ');
    big.write('stack: shop\n');
    const r = await loadStack(write('limit.yaml', big));
    expect(r.diagnostics.filter((d) => d.code === 'too-large')).toEqual([]);
  });

  it('reports a missing file as io-error', async () => {
    const r = await loadStack(path.join(dir, 'nope', 'groundwork.yaml'));
    expectWellFormed(r);
    expect(r.diagnostics[0]?.code).toBe('io-error');
  });

  it('reports a directory without a stack file as io-error', async () => {
    const empty = path.join(dir, 'empty-dir');
    mkdirSync(empty);
    const r = await loadStack(empty);
    expectWellFormed(r);
    expect(r.diagnostics[0]?.code).toBe('io-error');
    expect(r.diagnostics[0]?.fix).toContain('groundwork init');
  });

  it('treats whitespace-only and a lone BOM as empty', () => {
    for (const text of ['   \n\n\t\n', '\ufeff', '\ufeff# only a comment\n']) {
      const r = parseStackText(text, 'blank.yaml');
      expectWellFormed(r);
      expect(r.diagnostics.map((d) => d.code)).toEqual(['empty-file']);
    }
  });
});
