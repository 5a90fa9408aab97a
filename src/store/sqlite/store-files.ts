/**
 * The files of a SQLite state store: integrity checks, consistent backups kept N deep, restore.
 * A damaged store is named with what is wrong and how to recover; nothing guesses.
 */
import Database from 'better-sqlite3';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../util/error-message.js';

/** Backups live next to the store: `.groundwork/backups/state-<serial>-<time>.db`. */
export function backupDirOf(storeFile: string): string {
  return path.join(path.dirname(storeFile), 'backups');
}

export interface BackupFile {
  file: string;
  serial: number;
  takenAt: string;
  bytes: number;
}

/** Backups, newest first. */
export function listBackups(storeFile: string): BackupFile[] {
  const dir = backupDirOf(storeFile);
  if (!existsSync(dir)) return [];
  const out: BackupFile[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^state-(\d+)-(\d{8}T\d{6}(?:\d{3})?Z)\.db$/.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    const t = m[2] as string;
    const iso = `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}${t.length > 16 ? `.${t.slice(15, 18)}` : ''}Z`;
    out.push({ file, serial: Number(m[1]), takenAt: iso, bytes: statSync(file).size });
  }
  return out.sort((a, b) => b.takenAt.localeCompare(a.takenAt) || b.serial - a.serial);
}

export function backupName(serial: number, at: Date): string {
  return `state-${serial}-${at.toISOString().replace(/[-:.]/g, '')}.db`;
}

export type IntegrityResult = { ok: true } | { ok: false; problem: string };

/** Opens the file read-only and runs SQLite's quick check; never throws. */
export function checkStoreFile(file: string): IntegrityResult {
  if (!existsSync(file)) return { ok: false, problem: 'the file does not exist' };
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    const bad = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (bad.length) return { ok: false, problem: `SQLite's integrity check found: ${bad.slice(0, 3).join('; ')}` };
    db.pragma('user_version', { simple: true });
    return { ok: true };
  } catch (e) {
    return { ok: false, problem: describeSqliteFailure(e) };
  } finally {
    db?.close();
  }
}

/** SQLite's words for a damaged file are terse ("out of memory" for a mangled header): say what it means. */
export function describeSqliteFailure(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  const msg = errorMessage(e);
  if (code === 'SQLITE_NOTADB' || /not a database/.test(msg))
    return 'it is not a SQLite database (its header is damaged or it was overwritten)';
  if (code === 'SQLITE_CORRUPT' || /malformed/.test(msg)) return `the database is damaged (${msg})`;
  if (code === 'SQLITE_NOMEM' || /out of memory/.test(msg))
    return `the database is damaged: SQLite could not read its structure (${msg})`;
  return msg;
}

/** Whether a failure of SQLite means the file itself is damaged (as opposed to locked, or a full disk). */
export function isDamage(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  return ['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_NOMEM', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_VTAB'].includes(
    code,
  );
}

export class StoreDamagedError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly lastGood: BackupFile | undefined,
  ) {
    super(
      `the state store ${file} is damaged: ${problem}. ${
        lastGood
          ? `The last good backup is ${lastGood.file} (state serial ${lastGood.serial}, taken ${lastGood.takenAt}).`
          : 'There is no backup of it.'
      }`,
    );
    this.name = 'StoreDamagedError';
  }

  get fix(): string {
    return this.lastGood
      ? '`groundwork state restore` puts the last good backup in place (the damaged file is kept beside it); `groundwork state check` checks again'
      : 'move the damaged file away and run `groundwork refresh` and `groundwork apply` to record the stack again; `groundwork state check` checks again';
  }
}

/** Restores `backup` as the store: the current files are kept as `<file>.damaged-<time>`. */
export function restoreBackup(storeFile: string, backup: string, at: Date): { keptAs: string | undefined } {
  const check = checkStoreFile(backup);
  if (!check.ok)
    throw new Error(
      `the backup ${backup} is itself damaged: ${check.problem}; pick another (\`groundwork state backups\`)`,
    );
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  let keptAs: string | undefined;
  if (existsSync(storeFile)) {
    keptAs = `${storeFile}.damaged-${stamp}`;
    renameSync(storeFile, keptAs);
  }
  for (const side of ['-wal', '-shm']) {
    const f = `${storeFile}${side}`;
    if (existsSync(f)) {
      if (keptAs) renameSync(f, `${keptAs}${side}`);
      else rmSync(f);
    }
  }
  const tmp = `${storeFile}.restoring`;
  copyFileSync(backup, tmp);
  chmodSync(tmp, 0o600);
  renameSync(tmp, storeFile);
  return { keptAs };
}

/** Makes a file 0600 where it exists (SQLite creates with the process umask). */
export function privateFile(file: string): void {
  try {
    if (existsSync(file)) chmodSync(file, 0o600);
  } catch {
    /* not ours to change */
  }
}

/**
 * The state directory: 0711. Others may pass through it (a service running as its own `user:`
 * writes its pid and exit files under instances/) but not list it; everything in it that holds
 * configuration is 0600 (files) or 0700 (backups, secrets).
 */
export const STATE_DIR_MODE = 0o711;

export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: STATE_DIR_MODE });
  try {
    chmodSync(dir, STATE_DIR_MODE);
  } catch {
    /* not ours to change */
  }
}
