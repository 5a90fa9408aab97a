/**
 * The swarm driver's handle data: for a task on this node, its container's host pid and that
 * process's kernel start time; for a task on another node both are 0 and identity rests on the
 * instance's Swarm service and its latest task. Read by the swarm driver (and the Swarm cluster
 * backend, which records its tasks in the same shape) alone.
 */
import { Type, type Static } from '@sinclair/typebox';
import { handleCodec } from '../driver-handle.js';

export const SwarmHandleDataSchema = Type.Object({
  pid: Type.Number(),
  startTicks: Type.Number(),
  /** The task's container id, when known (absent in records of older versions). */
  containerId: Type.Optional(Type.String()),
});
export type SwarmHandleData = Static<typeof SwarmHandleDataSchema>;

export const swarmHandle = handleCodec('swarm', SwarmHandleDataSchema, {
  describe: (d) => ({
    pid: d.pid > 0 ? d.pid : null,
    containerId: d.containerId ?? null,
    label:
      d.pid > 0 ? `pid ${d.pid}` : d.containerId ? `container ${d.containerId.slice(0, 12)}` : 'task on another node',
  }),
  none: { pid: 0, startTicks: 0 },
});
