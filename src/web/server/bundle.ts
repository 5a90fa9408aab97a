/**
 * The dashboard's built files (scripts/build-web.mjs writes them to dist/web/ui): read once into
 * memory with their precompressed forms (`.br`, `.gz` beside each), so serving is a map lookup
 * and no request compresses anything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bytes a `Response` takes as its body (a Buffer's type allows a shared buffer, which it does not). */
export type Bytes = Uint8Array<ArrayBuffer>;

export interface Asset {
  body: Bytes;
  br: Bytes | undefined;
  gzip: Bytes | undefined;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** dist/web/ui of this package, found from this file whether it runs from src/ (tests) or dist/. */
export function defaultBundleDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.join(dir, 'dist', 'web', 'ui');
}

export class Bundle {
  private constructor(
    readonly dir: string,
    private readonly files: ReadonlyMap<string, Asset>,
  ) {}

  /** The bundle in `dir`, or undefined when it was not built (no index.html there). */
  static tryLoad(dir: string): Bundle | undefined {
    if (!existsSync(path.join(dir, 'index.html'))) return undefined;
    const files = new Map<string, Asset>();
    const walk = (rel: string): void => {
      for (const name of readdirSync(path.join(dir, rel))) {
        const r = rel === '' ? name : `${rel}/${name}`;
        const full = path.join(dir, r);
        if (statSync(full).isDirectory()) {
          walk(r);
          continue;
        }
        if (name.endsWith('.br') || name.endsWith('.gz')) continue;
        const read = (f: string): Bytes => new Uint8Array(readFileSync(f));
        const sibling = (ext: string) => (existsSync(`${full}${ext}`) ? read(`${full}${ext}`) : undefined);
        files.set(r, {
          body: read(full),
          br: sibling('.br'),
          gzip: sibling('.gz'),
          type: TYPES[path.extname(name)] ?? 'application/octet-stream',
        });
      }
    };
    walk('');
    return new Bundle(dir, files);
  }

  /** A file by its path under the bundle (`index.html`, `assets/app-X.js`); undefined if none. */
  tryFile(rel: string): Asset | undefined {
    return this.files.get(rel);
  }

  /**
   * The page's script and stylesheet as `Link` preload values, script first: the daemon is sent
   * them before the page's API requests (dashboard.ts), so its single thread answers them
   * (a map lookup each) before it computes any query.
   */
  get entryLinks(): string[] {
    const html = new TextDecoder().decode(this.index.body);
    const links: string[] = [];
    for (const m of html.matchAll(/<script type="module" src="([^"]+)"/g)) links.push(`<${m[1]}>; rel=modulepreload`);
    for (const m of html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g))
      links.push(`<${m[1]}>; rel=preload; as=style`);
    return links;
  }

  get index(): Asset {
    const a = this.files.get('index.html');
    if (!a) throw new Error(`the dashboard bundle in ${this.dir} has no index.html; run \`npm run build\``);
    return a;
  }
}

/** The encoding to send, from an Accept-Encoding header: brotli, then gzip, then none (q=0 refuses). */
export function pickEncoding(accept: string | undefined, asset: Asset): 'br' | 'gzip' | undefined {
  const accepted = new Set<string>();
  for (const part of (accept ?? '').split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    accepted.add(name.trim());
  }
  if (asset.br && accepted.has('br')) return 'br';
  if (asset.gzip && accepted.has('gzip')) return 'gzip';
  return undefined;
}
