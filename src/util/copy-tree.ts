/** Copying a working tree into a release directory (deploys, and apply's snapshots). */
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Copies `src` into `dir` entry by entry, skipping `.groundwork`, `.git` and every path in
 * `skip` (the state directory, and so the release itself, may live inside the source).
 * Symlinks are copied as links.
 */
export function copyWorkingTree(src: string, dir: string, skip: readonly string[]): void {
  const skipped = new Set([path.join(src, '.groundwork'), path.join(src, '.git'), ...skip.map((e) => path.resolve(e))]);
  for (const name of readdirSync(src)) {
    const from = path.join(src, name);
    if (skipped.has(path.resolve(from))) continue;
    cpSync(from, path.join(dir, name), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (p) => !skipped.has(path.resolve(p)),
    });
  }
}
