/**
 * The version a data-plane process reports, and the one a daemon expects: the package version
 * plus a hash of the proxy's compiled code (every file under `proxy/`, next to the entry). Two
 * equal versions run the same code, so a rebuilt or upgraded Groundwork replaces a data plane
 * started by the previous one even when the package version did not change.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

function packageVersion(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'groundwork' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* not here */
    }
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}

function addFiles(hash: ReturnType<typeof createHash>, dir: string, root: string): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) addFiles(hash, p, root);
    else if (/\.(js|ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) {
      hash.update(path.relative(root, p)).update('\0').update(readFileSync(p)).update('\0');
    }
  }
}

const cache = new Map<string, string>();

/** `0.1.0+3f2a9c1e0b7d` for the data plane whose entry is `entryFile` (…/proxy/process/main.js). */
export function dataPlaneVersion(entryFile: string): string {
  const proxyDir = path.dirname(path.dirname(path.resolve(entryFile)));
  let v = cache.get(proxyDir);
  if (v === undefined) {
    const hash = createHash('sha256');
    addFiles(hash, proxyDir, proxyDir);
    // The DNS server and the certificate manager run in the data plane too: their code is part of what the version names.
    for (const part of ['dns', 'tls']) {
      const dir = path.join(path.dirname(proxyDir), part);
      if (existsSync(dir)) addFiles(hash, dir, path.dirname(proxyDir));
    }
    v = `${packageVersion(proxyDir)}+${hash.digest('hex').slice(0, 12)}`;
    cache.set(proxyDir, v);
  }
  return v;
}
