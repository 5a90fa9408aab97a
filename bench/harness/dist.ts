/**
 * Benches measure the compiled code in dist/ (what `groundwork` runs), typed by the sources:
 * `importDist<typeof import('../../src/x.js')>(root, 'x.js')`. Compiled code also keeps CPU
 * profiles mappable to src/ lines through tsc's source maps.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export async function importDist<M>(root: string, modulePath: string): Promise<M> {
  const file = path.join(root, 'dist', modulePath);
  if (!existsSync(file)) throw new Error(`${file} is missing; run \`npm run build\` first (\`npm run bench\` does)`);
  return (await import(pathToFileURL(file).href)) as M;
}

/**
 * Source files newer than their compiled form, so a bench would measure old code. The dashboard's
 * sources (src/web/app, bundled by esbuild, not compiled by tsc) are checked against the bundle's
 * index.html, which scripts/build-web.mjs writes last.
 */
export function staleDistFiles(root: string): string[] {
  const stale: string[] = [];
  const webApp = path.join(root, 'src', 'web', 'app');
  const bundle = path.join(root, 'dist', 'web', 'ui', 'index.html');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      // The dashboard's sources are bundled by scripts/build-web.mjs into dist/web/ui, not compiled one to one.
      if (e.isDirectory() && path.relative(root, p) === path.join('src', 'web', 'app')) continue;
      if (e.isDirectory()) walk(p);
      else if (dir.startsWith(webApp)) {
        if (!existsSync(bundle) || statSync(bundle).mtimeMs < statSync(p).mtimeMs) stale.push(path.relative(root, p));
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = path.join(root, 'dist', path.relative(path.join(root, 'src'), p)).replace(/\.ts$/, '.js');
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) stale.push(path.relative(root, p));
      }
    }
  };
  walk(path.join(root, 'src'));
  return stale;
}
