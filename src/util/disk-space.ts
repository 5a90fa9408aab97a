/** Free space where state lives, and whether a failure means the disk is full. */
import { statfsSync } from 'node:fs';

/** Bytes an unprivileged writer can still use on the filesystem holding `dir`; undefined if unknown. */
export function tryFreeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/** SQLite's SQLITE_FULL or the OS's ENOSPC/EDQUOT, wherever in the stack they were thrown. */
export function isDiskFull(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = 'code' in e ? String((e as { code: unknown }).code) : '';
  if (['SQLITE_FULL', 'ENOSPC', 'EDQUOT'].includes(code)) return true;
  const msg = 'message' in e ? String((e as { message: unknown }).message) : '';
  return /database or disk is full|no space left on device/i.test(msg);
}
