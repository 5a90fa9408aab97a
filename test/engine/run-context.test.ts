/**
 * How the engine builds the context of a run from the kinds' `prepare`: it knows the shared
 * things only by name (the port pool), takes them from the one kind that provides them, and
 * refuses a registry in which two kinds both claim to.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runContext } from '../../src/engine/run-context.js';
import { defaultKinds } from '../../src/kinds/registry.js';
import type { KindContextBase, KindRegistry, RecordedResource, ResourceKind } from '../../src/kinds/resource-kind.js';
import { PortAllocator } from '../../src/kinds/service/port-allocator.js';
import { address } from '../../src/model/resource.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { swarmTestContext } from '../kinds/swarm-kind-context.js';

const own = { outputsOf: () => undefined, progress: () => undefined };

describe('run context', () => {
  let dir: string;
  let base: KindContextBase;
  let close: () => void;
  beforeEach(() => {
    dir = makeTempDir('run-context');
    const t = swarmTestContext({ stack: 'runlab', dir });
    base = t.ctx;
    close = () => t.store.closeNow();
  });
  afterEach(() => {
    close();
    removeTempDir(dir);
  });

  it("takes the port pool from the service kind's prepare, holding the recorded ports", async () => {
    const recorded: RecordedResource[] = [
      {
        address: address('service', 'web'),
        kind: 'service',
        spec: {},
        outputs: { instances: [{ index: 0, ports: { http: 24001 } }] },
      },
      { address: address('volume', 'data'), kind: 'volume', spec: {}, outputs: { path: path.join(dir, 'd') } },
    ];
    const ctx = await runContext(defaultKinds(), base, { run: 'refresh', recorded }, own);
    expect(ctx.ports).toBeInstanceOf(PortAllocator);
    expect(ctx.ports.isReserved(24001)).toBe(true);
    expect(ctx.ports.isReserved(24002)).toBe(false);
  });

  it('without a kind that hands out ports, allocating one fails and says why', async () => {
    const { service: _service, ...others } = defaultKinds();
    const kinds = { ...others, service: others.volume } satisfies KindRegistry;
    const ctx = await runContext(kinds, base, { run: 'apply', recorded: [] }, own);
    await expect(ctx.ports.allocate()).rejects.toThrow(/no resource kind of this registry hands out ports/);
  });

  it('refuses a registry in which two kinds both hand out ports, naming them', async () => {
    const real = defaultKinds();
    // A second kind that also shares a pool: the volume kind with a prepare of its own.
    const volume: ResourceKind = {
      kind: 'volume',
      shapes: real.volume.shapes,
      check: (a, s) => real.volume.check(a, s),
      diff: (o, n, out) => real.volume.diff(o, n, out),
      create: (c, a, s) => real.volume.create(c, a, s),
      read: (c, a, s, o) => real.volume.read(c, a, s, o),
      update: (c, a, o, n, out) => real.volume.update(c, a, o, n, out),
      delete: (c, a, s, o) => real.volume.delete(c, a, s, o),
      prepare: async () => ({ ports: new PortAllocator([]) }),
    };
    await expect(runContext({ ...real, volume }, base, { run: 'apply', recorded: [] }, own)).rejects.toThrow(
      'resource kinds service and volume both hand out ports',
    );
  });
});
