/**
 * Every driver's handle codec, by runtime: for the store boundary (a recorded handle is checked
 * by its own driver's schema when state is read back) and for display (`describeHandle`), so
 * neither needs a driver instance nor reads a driver's data itself.
 */
import type { Runtime } from '../config/schema.js';
import { containerHandle } from './docker/container-handle.js';
import type { DriverHandle, HandleCodec, HandleDescription } from './driver-handle.js';
import { processHandle } from './process/process-handle.js';
import { swarmHandle } from './swarm/swarm-handle.js';

type ErasedCodec = Pick<HandleCodec<unknown>, 'check' | 'describe' | 'none'>;

const CODECS: Record<Runtime, ErasedCodec> = { process: processHandle, docker: containerHandle, swarm: swarmHandle };

/** What status and messages show of a handle (pid, container id), as its driver tells it. */
export function describeHandle(handle: DriverHandle, instance: string): HandleDescription {
  return CODECS[handle.driver].describe(handle, instance);
}

/** Why a recorded handle's data is not its driver's shape (a JSON pointer into `data`), or undefined. */
export function handleProblem(handle: DriverHandle): { path: string; message: string } | undefined {
  return CODECS[handle.driver].check(handle.data);
}

/** The handle of an instance of `runtime` that is not running. */
export function noHandle(runtime: Runtime): DriverHandle {
  return CODECS[runtime].none();
}

/**
 * The handle of an instance recorded before drivers owned their handles: those records carried
 * pid, pgid, pgidStartTicks and startTicks on the shared record, for every runtime. The runtime
 * is read from what the record's driver wrote as its log (`docker logs NAME` for docker,
 * `docker service logs NAME` for swarm instances and Swarm tasks, a file path for processes):
 * those versions wrote exactly these forms.
 */
export function legacyHandle(old: {
  pid: number;
  pgid?: number;
  pgidStartTicks?: number;
  startTicks: number;
  logFile: string;
}): DriverHandle {
  if (old.logFile.startsWith('docker service logs '))
    return { driver: 'swarm', data: { pid: old.pid, startTicks: old.startTicks } };
  if (old.logFile.startsWith('docker logs '))
    return { driver: 'docker', data: { pid: old.pid, startTicks: old.startTicks } };
  return {
    driver: 'process',
    data: {
      pid: old.pid,
      pgid: old.pgid ?? old.pid,
      ...(old.pgidStartTicks !== undefined ? { pgidStartTicks: old.pgidStartTicks } : {}),
      startTicks: old.startTicks,
    },
  };
}
