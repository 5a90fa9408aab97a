/**
 * Tests that signal or inspect an instance's process ask its driver for the pid, as the code
 * does (describe), instead of reading the driver's handle data.
 */
import type { DriverHandle } from '../../src/runtime/driver-handle.js';
import { describeHandle } from '../../src/runtime/handles.js';
import { processHandle, type ProcessHandleData } from '../../src/runtime/process/process-handle.js';

/** The host pid of an instance (a recorded instance or a driver's handle); throws when its driver shows none. */
export function pidOf(i: { id: string; handle: DriverHandle } | undefined): number {
  if (!i) throw new Error('no such instance');
  const pid = describeHandle(i.handle, i.id).pid;
  if (pid === null)
    throw new Error(`instance ${i.id} has no pid its driver shows (${describeHandle(i.handle, i.id).label})`);
  return pid;
}

/** The pid an instance's driver shows, or null (an instance that is not running: a placeholder, a remote task). */
export function shownPid(i: { id: string; handle: DriverHandle }): number | null {
  return describeHandle(i.handle, i.id).pid;
}

/** The process driver's own data of a handle (group, start ticks), for tests of that driver's identity checks. */
export function processDataOf(i: { id: string; handle: DriverHandle }): ProcessHandleData {
  return processHandle.read(i.handle, i.id);
}

/** `h` with some of its driver's data replaced: contract tests use it to stand in for a reused pid. */
export function withHandleData<H extends { handle: DriverHandle }>(h: H, patch: Record<string, number>): H {
  return { ...h, handle: { ...h.handle, data: { ...h.handle.data, ...patch } } };
}
