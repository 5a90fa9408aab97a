/**
 * The docker driver's handle data. The container is addressed by its name (the instance id);
 * `pid` is the container's init as the host sees it (State.Pid) and `startTicks` that process's
 * kernel start time, so a handle from before a `docker restart` is never taken for the current
 * process (0 where the engine's pids are not visible in /proc). Read by the docker driver alone.
 */
import { Type, type Static } from '@sinclair/typebox';
import { handleCodec } from '../driver-handle.js';

export const ContainerHandleDataSchema = Type.Object({
  pid: Type.Number(),
  startTicks: Type.Number(),
  /** The engine's id of the container (absent in records of older versions). */
  containerId: Type.Optional(Type.String()),
});
export type ContainerHandleData = Static<typeof ContainerHandleDataSchema>;

export const containerHandle = handleCodec('docker', ContainerHandleDataSchema, {
  describe: (d) => ({
    pid: d.pid > 0 ? d.pid : null,
    containerId: d.containerId ?? null,
    label: d.pid > 0 ? `pid ${d.pid}` : d.containerId ? `container ${d.containerId.slice(0, 12)}` : 'not started',
  }),
  none: { pid: 0, startTicks: 0 },
});
