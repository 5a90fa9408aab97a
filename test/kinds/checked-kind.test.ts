/**
 * The boundary between state (JSON) and the typed kinds: outputs read from a real SQLite store are
 * checked before a kind sees them, outputs a kind returns are checked before apply records them,
 * and outputs written by an older version (a field added later missing) still load.
 */
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePlan } from '../../src/engine/plan.js';
import { checked } from '../../src/kinds/checked-kind.js';
import { defaultKinds } from '../../src/kinds/registry.js';
import { serviceOutputsOf, type ServiceOutputs } from '../../src/kinds/service/service-spec.js';
import { jsonObjectShape, shape, ShapeError } from '../../src/kinds/shape.js';
import { address, type JsonObject } from '../../src/model/resource.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { httpService } from '../helpers/lab.js';
import { desiredSpecOf, swarmTestContext } from './swarm-kind-context.js';
import { pidOf } from '../helpers/instance-pid.js';

const WEB = address('service', 'web');

/** Outputs as a version before stable addresses, release directories and restart counts wrote them. */
const OLD_OUTPUTS: JsonObject = {
  instances: [
    {
      index: 0,
      id: 'lab-web-0-abc',
      pid: 4242,
      pgid: 4242,
      startTicks: 99,
      startedAt: '2026-01-01T00:00:00.000Z',
      specHash: 'h0',
      logFile: '/tmp/web-0.log',
      limits: 'none',
      ports: { http: 20001 },
    },
  ],
};

describe('outputs cross the store checked', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = makeTempDir('checked-kind');
    store = SqliteStore.open(path.join(dir, 'state.db'), systemClock);
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  const record = (outputs: JsonObject) => {
    const spec = desiredSpecOf({ stack: 'lab', services: { web: httpService() } }, 'web', dir);
    const changeId = store.beginChange({ kind: 'apply', author: 't', message: 't', planHash: '', summary: {} });
    store.finishStep(store.startStep(changeId, WEB, 'create'), 'applied', {
      kind: 'upsert',
      row: { address: WEB, kind: 'service', spec, outputs, dependsOn: [] },
    });
    store.finishChange(changeId, 'applied', {});
    return spec;
  };

  it('loads outputs written by an older version: optional fields absent, defaults filled', () => {
    record(OLD_OUTPUTS);
    const row = store.tryGetResource(WEB);
    const outs: ServiceOutputs = serviceOutputsOf(row);
    expect(outs.instances.map((i) => [pidOf(i), i.ports.http, i.restarts, i.codeDir])).toEqual([
      [4242, 20001, undefined, undefined],
    ]);
    expect(outs.address ?? null).toBeNull();
    // An instance recorded before `limits` existed gets its default; `instances` absent is none.
    const { limits: _dropped, ...noLimits } = (OLD_OUTPUTS.instances as JsonObject[])[0] as JsonObject;
    expect(serviceOutputsOf({ address: WEB, outputs: { instances: [noLimits] } }).instances[0]?.limits).toBe('none');
    expect(serviceOutputsOf({ address: WEB, outputs: {} }).instances).toEqual([]);
  });

  it('a recorded row of the wrong shape is refused, naming the resource and the field', () => {
    const bad = { instances: [{ ...(OLD_OUTPUTS.instances as JsonObject[])[0], pid: 'x' }] };
    const spec = record(bad);
    const row = store.tryGetResource(WEB);
    expect(() => serviceOutputsOf(row)).toThrow(ShapeError);
    expect(() => serviceOutputsOf(row)).toThrow(
      /^service\.web: recorded service outputs: field `instances\.0\.handle` is missing/,
    );
    // Planning reads it through the kind's diff: the same error, with the address.
    const model = {
      stack: 'lab',
      dir,
      configHash: 'c',
      secrets: [],
      resources: [{ address: WEB, kind: 'service' as const, name: 'web', spec, dependsOn: [] }],
    };
    expect(() => makePlan(model, store.listResources(), store.serial(), defaultKinds())).toThrow(
      /^service\.web: recorded service outputs: field `instances\.0\.handle`/,
    );
  });

  it('outputs a kind returns are checked before they are recorded', async () => {
    // A kind whose create returns outputs its type allows and its schema does not (a negative size).
    const Outputs = Type.Object({ size: Type.Number({ minimum: 0 }) });
    const kind = checked<JsonObject, Static<typeof Outputs>>({
      kind: 'volume',
      shapes: { spec: jsonObjectShape('volume spec'), outputs: shape(Outputs, 'volume outputs') },
      check: () => [],
      diff: () => ({ changes: [], replaces: [], stables: [] }),
      create: async () => ({ size: -1 }),
      read: async (_c, _a, spec, outputs) => ({ exists: true, spec, outputs, drift: [] }),
      update: async (_c, _a, _o, _n, outputs) => outputs,
      delete: async () => undefined,
    });
    const t = swarmTestContext({ stack: 'lab', dir });
    await expect(kind.create(t.ctx, address('volume', 'data'), {})).rejects.toThrow(
      /^volume\.data: new volume outputs: field `size` is -1 .*nothing was recorded/,
    );
    t.store.closeNow();
  });
});
