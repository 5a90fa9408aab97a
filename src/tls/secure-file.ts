/**
 * Files that hold private keys: written whole (temporary file + rename, so a reader never sees
 * half a key and a crash leaves the old one), mode 0600, in directories of mode 0700.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

export function writePrivateFile(file: string, data: string): void {
  writeWhole(file, data, 0o600);
}

/** A certificate (public): readable by others, e.g. a root people import into a trust store. */
export function writePublicFile(file: string, data: string): void {
  writeWhole(file, data, 0o644);
}

function writeWhole(file: string, data: string, mode: number): void {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}
