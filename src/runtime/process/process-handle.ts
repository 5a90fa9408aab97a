/**
 * The process driver's handle data: the service's pid and the process group of the shim that
 * records its exit code, each with its kernel start time, so a reused pid or group id is never
 * taken (or signalled) for ours. Read by the process driver alone (and `exec`, through
 * `runningPid`, to enter the process's environment).
 */
import { Type, type Static } from '@sinclair/typebox';
import { handleCodec, type DriverHandle } from '../driver-handle.js';
import { isSameProcess } from './proc.js';

export const ProcessHandleDataSchema = Type.Object({
  /** The service's own process. */
  pid: Type.Number(),
  /** Process group (the supervisor shim that records the exit code); stop signals go to the group. */
  pgid: Type.Number(),
  /** Kernel start time of the group leader, so a reused pgid is never signalled (absent in records of older versions). */
  pgidStartTicks: Type.Optional(Type.Number()),
  /** Kernel start time of pid (clock ticks since boot); with pid, identifies the process even if the pid is reused. */
  startTicks: Type.Number(),
});
export type ProcessHandleData = Static<typeof ProcessHandleDataSchema>;

export const processHandle = handleCodec('process', ProcessHandleDataSchema, {
  describe: (d) =>
    d.pid > 0
      ? { pid: d.pid, containerId: null, label: `pid ${d.pid}` }
      : { pid: null, containerId: null, label: 'not started' },
  none: { pid: 0, pgid: 0, startTicks: 0 },
});

/** The pid of the instance's service while that very process runs (same start time), else undefined. */
export function runningPid(handle: DriverHandle, instance: string): number | undefined {
  const d = processHandle.read(handle, instance);
  return d.pid > 0 && isSameProcess(d.pid, d.startTicks) ? d.pid : undefined;
}
