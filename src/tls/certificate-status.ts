/**
 * What the data plane's certificates are, as a file beside them (`<state>/tls/status.json`,
 * mode 0600): written by the CertificateManager whenever a certificate is loaded, issued,
 * renewed or fails; read by `groundwork status` with or without a daemon. Host names, dates and
 * errors only: never a key.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CertificateSourceKind } from './tls-settings.js';
import { tlsStoreDir } from './certificate-files.js';
import { writePrivateFile } from './secure-file.js';

/** One certificate as `status` shows it. */
export interface CertificateInfo {
  listener: string;
  hosts: string[];
  source: CertificateSourceKind;
  /** ISO time; null while none was obtained. */
  notAfter: string | null;
  /** When it will be renewed (internal, acme) or null (files: replace them yourself). */
  renewAt: string | null;
  /** The last failure to obtain or load it, null when fine. */
  error: string | null;
}

export interface CertificateStatus {
  /** When the data plane wrote it. */
  updatedAt: string;
  certificates: CertificateInfo[];
}

export function certificateStatusFile(storeDir: string): string {
  return path.join(storeDir, 'status.json');
}

export function writeCertificateStatus(storeDir: string, status: CertificateStatus): void {
  writePrivateFile(certificateStatusFile(storeDir), `${JSON.stringify(status, null, 2)}\n`);
}

/** The certificates the data plane of a state directory serves; null when it never served TLS. */
export function readCertificateStatus(stateDir: string): CertificateStatus | null {
  try {
    const parsed = JSON.parse(readFileSync(certificateStatusFile(tlsStoreDir(stateDir)), 'utf8')) as CertificateStatus;
    return Array.isArray(parsed.certificates) ? parsed : null;
  } catch {
    return null;
  }
}

/** Days from `now` to an ISO time, rounded down; negative when past. */
export function daysLeft(notAfter: string, now: Date): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / 86_400_000);
}
