/**
 * Issue 10: a damaged state store is named, with its last good backup and the command that
 * restores it; every command exits 1 with that message (never a silent exit or "out of memory"),
 * and `groundwork state restore` brings back the last good state.
 */
import { closeSync, openSync, readdirSync, statSync, truncateSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/engine/plan.js';
import { jsonOf, runCli, runCliOk, STACK_FRAME } from '../helpers/cli.js';
import { writeStack } from '../helpers/lab.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const DAMAGE = {
  truncated: (file: string) => truncateSync(file, Math.floor(statSync(file).size / 3)),
  'header overwritten': (file: string) => overwrite(file, 0, Buffer.alloc(300, 0x41)),
  'random bytes': (file: string) => {
    const size = statSync(file).size;
    let seed = 12345;
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      bytes[i] = seed & 0xff;
    }
    overwrite(file, 0, bytes);
  },
} as const;

function overwrite(file: string, at: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
}

describe('a damaged state store', () => {
  let dir: string;
  const cwd = () => ({ cwd: dir });
  const db = () => path.join(dir, '.groundwork', 'state.db');

  beforeEach(async () => {
    dir = makeTempDir('damaged');
    writeStack(dir, { stack: 'damaged', volumes: { one: { path: './data/one' } } });
    await runCliOk(['apply', '-m', 'first'], cwd());
    writeStack(dir, {
      stack: 'damaged',
      volumes: { one: { path: './data/one' }, two: { path: './data/two', mode: '0700' } },
    });
    await runCliOk(['apply', '-m', 'second'], cwd());
  });

  afterEach(() => removeTempDir(dir));

  it('is private and backed up after every change', async () => {
    expect(statSync(db()).mode & 0o777).toBe(0o600);
    // 0711: a `user:` service passes through to its pid file; nobody else can list the directory.
    expect(statSync(path.join(dir, '.groundwork')).mode & 0o777).toBe(0o711);
    expect(statSync(path.join(dir, '.groundwork', 'backups')).mode & 0o777).toBe(0o700);
    const backups = jsonOf<{ serial: number; file: string }[]>(await runCliOk(['state', 'backups', '--json'], cwd()));
    expect(backups.map((b) => b.serial)).toEqual([2, 1]);
    for (const b of backups) expect(statSync(b.file).mode & 0o777).toBe(0o600);
    expect((await runCli(['state', 'check'], cwd())).code).toBe(0);
  });

  for (const [name, damage] of Object.entries(DAMAGE)) {
    it(`${name}: every command names the file and the recovery; restore brings back the last good state`, async () => {
      // Make sure the WAL is folded in, so the damage hits the data itself.
      for (const f of readdirSync(path.join(dir, '.groundwork')))
        if (f.endsWith('-wal') || f.endsWith('-shm')) truncateSync(path.join(dir, '.groundwork', f));
      damage(db());
      for (const argv of [['plan'], ['apply'], ['refresh'], ['status'], ['history'], ['up', '--no-apply']]) {
        const r = await runCli(argv, cwd());
        expect(r.code, `groundwork ${argv.join(' ')}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toContain(db());
        expect(r.stderr).toMatch(/damaged/);
        expect(r.stderr).toContain('groundwork state restore');
        expect(r.stderr).not.toMatch(/out of memory$/m);
        expect(r.stderr).not.toMatch(STACK_FRAME);
      }
      const check = await runCli(['state', 'check'], cwd());
      expect(check.code).toBe(1);
      expect(check.stdout).toMatch(/is damaged/);

      const restored = await runCliOk(['state', 'restore'], cwd());
      expect(restored.stdout).toMatch(/Restored .*state-2-.*\.db/);
      expect(readdirSync(path.join(dir, '.groundwork')).some((f) => f.startsWith('state.db.damaged-'))).toBe(true);
      const plan = jsonOf<Plan>(await runCliOk(['plan', '--json'], cwd()));
      expect(plan.steps).toEqual([]);
      expect(plan.summary.unchanged).toBe(2);
    });
  }
});
