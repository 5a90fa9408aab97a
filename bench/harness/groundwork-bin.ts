/**
 * How the installed `groundwork` starts: node with the flags in the shebang of dist/cli/main.js
 * (`#!/usr/bin/env -S node --max-semi-space-size=2`). A bench that starts the CLI as its own
 * process runs it the same way, so it measures the daemon users get, V8 flags included.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The node flags of a `#!/usr/bin/env [-S] node FLAGS...` line; [] for a plain `node` shebang. */
export function nodeFlagsOfShebang(firstLine: string): string[] {
  const m = /^#!\s*\S*env\s+(?:-S\s+)?node((?:\s+\S+)*)\s*$/.exec(firstLine);
  if (!m)
    throw new Error(`not a node shebang: ${JSON.stringify(firstLine)} (expected #!/usr/bin/env -S node FLAGS...)`);
  return (m[1] ?? '').split(/\s+/).filter((f) => f !== '');
}

/** Arguments for `spawn(process.execPath, ...)` that run `groundwork ARGS` as the installed bin does. */
export function groundworkArgv(root: string, args: string[]): string[] {
  const main = path.join(root, 'dist', 'cli', 'main.js');
  const firstLine = readFileSync(main, 'utf8').split('\n', 1)[0] ?? '';
  return [...nodeFlagsOfShebang(firstLine), main, ...args];
}
