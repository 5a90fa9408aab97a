/**
 * The encrypted secrets file through the CLI in-process: set (value on "stdin"), get, list,
 * rotate, rm, recipients; the file holds no plaintext and decrypts only with a listed identity.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import type { CliIo } from '../../src/cli/io.js';
import { SecretVault } from '../../src/security/secret-vault.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const PLANTED = 'pl4nted-Value/with+chars=';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(dir: string, argv: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  const r: Result = { code: 0, stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: (t) => void (r.stdout += t),
    stderr: (t) => void (r.stderr += t),
    env: { PATH: process.env.PATH, NO_COLOR: '1', GROUNDWORK_AUTHOR: 'ana', ...opts.env },
    cwd: dir,
    isTty: false,
    ...(opts.stdin !== undefined ? { readSecret: async () => opts.stdin as string } : {}),
  };
  r.code = await run(argv, io);
  return r;
}

function writeStack(dir: string, recipients: Record<string, string>): void {
  const lines = [
    'stack: sf',
    'secrets:',
    '  db-password: { description: the app database }',
    '  unused: {}',
    'services:',
    '  app:',
    '    command: "true"',
    '    env: { DB: "${secret.db-password}" }',
    '  other:',
    '    command: "true"',
  ];
  if (Object.keys(recipients).length) {
    lines.push('secret_recipients:');
    for (const [n, k] of Object.entries(recipients)) lines.push(`  ${n}: ${k}`);
  }
  writeFileSync(path.join(dir, 'groundwork.yaml'), `${lines.join('\n')}\n`);
}

async function init(dir: string, env: Record<string, string> = {}): Promise<string> {
  const r = await cli(dir, ['secret', 'init', '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { recipient: string }).recipient;
}

describe('secret commands', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('secrets-file');
  });
  afterEach(() => removeTempDir(dir));

  it('set, get, list, rotate, rm: versions and metadata in the clear, values never', async () => {
    writeStack(dir, {});
    const me = await init(dir);
    expect(statSync(path.join(dir, '.groundwork', 'age.key')).mode & 0o777).toBe(0o600);
    // No recipients: the error says how to add this installation's key.
    let r = await cli(dir, ['secret', 'set', 'db-password'], { stdin: PLANTED });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('lists no secret_recipients');
    expect(r.stderr).toContain(me);

    writeStack(dir, { me });
    r = await cli(dir, ['secret', 'set', 'db-pasword'], { stdin: PLANTED });
    expect(r.stderr).toMatch(/secret db-pasword is not declared.*did you mean db-password/);
    r = await cli(dir, ['secret', 'set', 'db-password'], { stdin: '' });
    expect(r.stderr).toContain('the value of secret db-password is empty');

    r = await cli(dir, ['secret', 'set', 'db-password', '--json'], { stdin: PLANTED });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'db-password', version: 1, by: 'ana', services: ['app'] });
    const file = path.join(dir, 'groundwork.secrets.yaml');
    let text = readFileSync(file, 'utf8');
    expect(text).not.toContain(PLANTED);
    expect(text).not.toContain(Buffer.from(PLANTED).toString('base64').slice(0, 12));
    expect(text).toContain('BEGIN AGE ENCRYPTED FILE');
    expect(text).toContain('by: ana');

    r = await cli(dir, ['secret', 'get', 'db-password']);
    expect(r.stdout).toBe(`${PLANTED}\n`);

    writeFileSync(path.join(dir, 'v2'), 'second-value\n');
    r = await cli(dir, ['secret', 'rotate', 'db-password', '--from-file', 'v2', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: 2 });
    r = await cli(dir, ['secret', 'get', 'db-password', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ version: 2, value: 'second-value', source: 'encrypted' });
    r = await cli(dir, ['secret', 'get', 'db-password', '--version', '1']);
    expect(r.stdout).toBe(`${PLANTED}\n`);
    r = await cli(dir, ['secret', 'rotate', 'unused', '--generate']);
    expect(r.stderr).toMatch(/secret unused is not in .* yet.*\n {2}fix: .*secret set unused/);

    r = await cli(dir, ['secret', 'list', '--json'], { env: { GROUNDWORK_SECRET_UNUSED: 'from-env' } });
    const list = JSON.parse(r.stdout) as { secrets: { name: string }[] };
    expect(list.secrets).toEqual([
      expect.objectContaining({ name: 'db-password', version: 2, versions: [1, 2], by: 'ana', services: ['app'] }),
      expect.objectContaining({ name: 'unused', version: null, source: 'environment', services: [] }),
    ]);
    expect(r.stdout).not.toContain(PLANTED);
    expect(r.stdout).not.toContain('from-env');

    r = await cli(dir, ['secret', 'rm', 'db-password', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ removedVersions: 2, services: ['app'] });
    text = readFileSync(file, 'utf8');
    expect(text).not.toContain('db-password');
    r = await cli(dir, ['secret', 'rm', 'db-password']);
    expect(r.stderr).toContain('secret db-password is not in');
  });

  it('decrypts only with an identity that is a listed recipient; recipients --update re-encrypts', async () => {
    writeStack(dir, {});
    const host = await init(dir);
    const otherKey = path.join(dir, 'other.key');
    const other = await init(dir, { GROUNDWORK_AGE_IDENTITY: otherKey });
    expect(other).not.toBe(host);
    writeStack(dir, { host });
    expect((await cli(dir, ['secret', 'set', 'db-password'], { stdin: PLANTED })).code).toBe(0);

    // The other identity is not a recipient: get fails and says what to do; the vault has no value.
    let r = await cli(dir, ['secret', 'get', 'db-password'], { env: { GROUNDWORK_AGE_IDENTITY: otherKey } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`cannot decrypt version 1 of secret db-password`);
    expect(r.stderr).toContain(`add ${other} to secret_recipients`);
    const vault = (identityFile: string) =>
      new SecretVault({
        secretsFile: path.join(dir, 'groundwork.secrets.yaml'),
        identityFile,
        env: {},
        plainDir: path.join(dir, '.groundwork', 'secrets'),
      });
    const outsider = vault(otherKey);
    await outsider.refresh(['db-password']);
    expect(outsider.tryGet('db-password')).toBeUndefined();
    expect(outsider.howToSet('db-password')).toContain(`not to this installation's key ${other}`);
    const insider = vault(path.join(dir, '.groundwork', 'age.key'));
    await insider.refresh(['db-password']);
    expect(insider.tryGet('db-password', 1)).toBe(PLANTED);
    expect(insider.versions()).toEqual({ 'db-password': 1 });

    // The other key is listed: the file says which versions it cannot read until re-encrypted.
    writeStack(dir, { host, other });
    r = await cli(dir, ['secret', 'recipients', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ stale: [{ name: 'db-password', version: 1, missing: ['other'] }] });
    // Only a holder of a listed key can re-encrypt; the outsider is refused and nothing changes.
    r = await cli(dir, ['secret', 'recipients', '--update'], { env: { GROUNDWORK_AGE_IDENTITY: otherKey } });
    expect(r.stderr).toContain('cannot re-encrypt db-password version 1');
    r = await cli(dir, ['secret', 'recipients', '--update', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ updated: 1, stale: [] });
    r = await cli(dir, ['secret', 'get', 'db-password'], { env: { GROUNDWORK_AGE_IDENTITY: otherKey } });
    expect(r.stdout).toBe(`${PLANTED}\n`);
    // An identity file others can read is refused, with the chmod that fixes it.
    const { chmodSync } = await import('node:fs');
    chmodSync(otherKey, 0o644);
    r = await cli(dir, ['secret', 'get', 'db-password'], { env: { GROUNDWORK_AGE_IDENTITY: otherKey } });
    expect(r.stderr).toMatch(/mode 0644 \(readable by others\)[\s\S]*chmod 600/);
  });

  it('a value never comes from argv: set and rotate refuse one, without echoing it', async () => {
    writeStack(dir, {});
    for (const sub of ['set', 'rotate']) {
      const r = await cli(dir, ['secret', sub, 'db-password', PLANTED], { stdin: 'x' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('never taken from the command line');
      expect(r.stderr + r.stdout).not.toContain(PLANTED);
    }
  });
});
