/**
 * A secret rotation as a change record: who rotated which secret to which version, and why. The
 * new value reaches services at the next apply (a journaled change of its own), so this record
 * changes no resource and leaves the state serial, and saved plans, as they were.
 */
import type { JournalStore } from '../store/store.js';

export interface Rotation {
  secret: string;
  version: number;
  author: string;
  message: string;
}

export async function recordRotation(
  journal: Pick<JournalStore, 'beginChange' | 'finishChange'>,
  r: Rotation,
): Promise<number> {
  const id = await journal.beginChange({
    kind: 'rotate',
    author: r.author,
    message: r.message || `rotate secret ${r.secret} to version ${r.version}`,
    planHash: '',
    summary: {},
  });
  await journal.finishChange(id, 'applied', { rotated: 1 });
  return id;
}
