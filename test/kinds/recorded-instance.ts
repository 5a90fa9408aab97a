import type { InstanceOutput } from '../../src/kinds/service/service-spec.js';
import { processHandle } from '../../src/runtime/process/process-handle.js';

/** A recorded instance as state holds it, for tests of what reads only `index` and `gone` (diff). */
export function recordedInstance(index: number, gone?: string): InstanceOutput {
  return {
    index,
    id: `kindlab-web-${index}`,
    handle: processHandle.make({ pid: 4000 + index, pgid: 4000 + index, startTicks: 1 }),
    startedAt: '2026-12-01T00:00:00.000Z',
    specHash: 'h',
    logFile: `/tmp/web-${index}.log`,
    limits: 'none',
    ports: {},
    ...(gone ? { gone } : {}),
  };
}
