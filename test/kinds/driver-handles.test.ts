/**
 * Instances recorded before drivers owned their handles (pid, pgid, startTicks on the shared
 * record) load from a real SQLite store as driver handles, each checked by its own driver's
 * schema; what status and messages show comes from the driver's `describe`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceOutputsOf, describeInstance, instanceLabel } from '../../src/kinds/service/service-spec.js';
import { ShapeError } from '../../src/kinds/shape.js';
import { address, type JsonObject } from '../../src/model/resource.js';
import { HandleError } from '../../src/runtime/driver-handle.js';
import { containerHandle } from '../../src/runtime/docker/container-handle.js';
import { processHandle } from '../../src/runtime/process/process-handle.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'outputs-before-driver-handles.json');
const old = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<'process' | 'docker' | 'swarm', JsonObject>;

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = makeTempDir('driver-handles');
  store = SqliteStore.open(path.join(dir, 'state.db'), systemClock);
});
afterEach(() => {
  store.closeNow();
  removeTempDir(dir);
});

/** Records `outputs` for service `name` as apply does (a journaled step), and reads the row back. */
function recorded(name: string, outputs: JsonObject) {
  const a = address('service', name);
  const changeId = store.beginChange({ kind: 'apply', author: 't', message: 't', planHash: '', summary: {} });
  store.finishStep(store.startStep(changeId, a, 'create'), 'applied', {
    kind: 'upsert',
    row: { address: a, kind: 'service', spec: {}, outputs, dependsOn: [] },
  });
  store.finishChange(changeId, 'applied', {});
  return store.tryGetResource(a);
}

describe('driver-owned instance handles', () => {
  it('old-format process records load as process handles (instances and standby), old fields gone', () => {
    const row = recorded('web', old.process);
    const outs = serviceOutputsOf(row);
    const [inst] = outs.instances;
    expect(inst?.handle).toEqual({
      driver: 'process',
      data: { pid: 4242, pgid: 4240, pgidStartTicks: 77, startTicks: 99 },
    });
    expect(inst && 'pid' in inst).toBe(false);
    expect(inst && processHandle.read(inst.handle, inst.id)).toMatchObject({ pid: 4242, startTicks: 99 });
    expect(outs.standby?.instances[0]?.handle).toEqual({
      driver: 'process',
      data: { pid: 4100, pgid: 4100, startTicks: 50 },
    });
    expect(inst && describeInstance(inst)).toEqual({ pid: 4242, containerId: null, label: 'pid 4242' });
  });

  it('old-format docker and swarm records load as their drivers’ handles', () => {
    const api = serviceOutputsOf(recorded('api', old.docker)).instances[0];
    expect(api?.handle).toEqual({ driver: 'docker', data: { pid: 5151, startTicks: 12 } });
    expect(api && instanceLabel(api)).toBe('pid 5151');
    const task = serviceOutputsOf(recorded('tasks', old.swarm)).instances[0];
    expect(task?.handle).toEqual({ driver: 'swarm', data: { pid: 0, startTicks: 0 } });
    expect(task && describeInstance(task)).toEqual({ pid: null, containerId: null, label: 'task on another node' });
  });

  it('a migrated record, written back and read again, is unchanged (migration happens once)', () => {
    const first = serviceOutputsOf(recorded('web', old.process));
    const again = serviceOutputsOf(recorded('web', JSON.parse(JSON.stringify(first)) as JsonObject));
    expect(again).toEqual(first);
  });

  it('a handle whose data is not its driver’s shape is refused at the store boundary, naming the field', () => {
    const bad = {
      instances: [
        {
          ...(serviceOutputsOf({ address: 'service.web', outputs: old.process }).instances[0] ?? {}),
          handle: { driver: 'process', data: { pid: 1, startTicks: 2 } },
        },
      ],
    };
    const row = recorded('web', JSON.parse(JSON.stringify(bad)) as JsonObject);
    expect(() => serviceOutputsOf(row)).toThrow(ShapeError);
    expect(() => serviceOutputsOf(row)).toThrow(
      /field `instances\.0\.handle\.data\.pgid` is not what the process runtime records/,
    );
  });

  it('a driver refuses another driver’s handle, naming the instance', () => {
    const h = containerHandle.make({ pid: 7, startTicks: 1, containerId: 'abc' });
    expect(() => processHandle.read(h, 'lab-web-0')).toThrow(HandleError);
    expect(() => processHandle.read(h, 'lab-web-0')).toThrow(
      /^instance lab-web-0: its runtime handle belongs to the docker runtime, not to process/,
    );
    expect(containerHandle.describe(h, 'x')).toEqual({ pid: 7, containerId: 'abc', label: 'pid 7' });
  });
});
