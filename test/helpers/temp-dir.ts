/** One fresh directory per test under the OS temp dir; removed (with anything running in it) afterwards. */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `gw-${prefix}-`));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Copies a directory without the state and data that a local run of it may have left. */
export function copyStackDir(from: string, to: string): void {
  cpSync(from, to, {
    recursive: true,
    filter: (src) => !['.groundwork', '.data', 'node_modules'].includes(path.basename(src)),
  });
}
