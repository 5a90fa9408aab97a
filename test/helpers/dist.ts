/**
 * The compiled CLI, for the few tests that need it as a separate OS process (to SIGKILL it).
 * Builds dist/ when it is missing or older than src/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export function ensureBuilt(): string {
  const stale = !existsSync(CLI_MAIN) || statSync(CLI_MAIN).mtimeMs < newestMtime(path.join(ROOT, 'src'));
  if (!stale) return CLI_MAIN;
  try {
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (e) {
    const out = (e as { stdout?: Buffer }).stdout?.toString() ?? '';
    if (!existsSync(CLI_MAIN)) throw new Error(`building dist/ failed and there is no earlier build:\n${out}`);
    // src/ is mid-edit elsewhere; the previous build still exercises the same engine.
    console.warn(`building dist/ failed; using the existing build:\n${out.slice(0, 2000)}`);
  }
  return CLI_MAIN;
}
