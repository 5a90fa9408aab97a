/**
 * Where each certificate lives: the user's files for `files`, else the store in the state
 * directory (`<state>/tls`): `ca/` (the local CA), `certs/internal/`, `certs/acme/<directory>/`,
 * `acme/<directory>/account.key`. Shared by the data-plane process (which writes them) and
 * `status` (which reads their expiry without asking the process).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { CertificateSpec } from './tls-settings.js';

/** The store's folder inside a state directory. */
export function tlsStoreDir(stateDir: string): string {
  return path.join(stateDir, 'tls');
}

export function localCaDir(storeDir: string): string {
  return path.join(storeDir, 'ca');
}

export function acmeAccountsDir(storeDir: string): string {
  return path.join(storeDir, 'acme');
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** The certificate and key files of a certificate spec. */
export function certificateFiles(storeDir: string, spec: CertificateSpec): { cert: string; key: string } {
  const s = spec.source;
  if (s.kind === 'files') return { cert: s.cert, key: s.key };
  const hosts = [...spec.hosts].sort();
  // Readable and unique: the first name, then a hash of them all.
  const base = `${(hosts[0] ?? 'none').replace(/\*/g, '_wildcard_').replace(/[^A-Za-z0-9._-]/g, '_')}-${shortHash(hosts.join(','))}`;
  const dir =
    s.kind === 'internal'
      ? path.join(storeDir, 'certs', 'internal')
      : path.join(storeDir, 'certs', 'acme', shortHash(s.directory));
  return { cert: path.join(dir, `${base}.crt`), key: path.join(dir, `${base}.key`) };
}
