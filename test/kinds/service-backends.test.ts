/**
 * The service kind called directly (no CLI, no daemon), with a real process driver and real
 * processes: the backend it picks per runtime, how its diff describes instances that are not
 * running, and the port pool its `prepare` builds for a run.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import type { KindContext, PortPool, RunSetup } from '../../src/kinds/resource-kind.js';
import { ServiceKind } from '../../src/kinds/service/service-kind.js';
import type { ServiceOutputs } from '../../src/kinds/service/service-spec.js';
import { address } from '../../src/model/resource.js';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { httpGet } from '../helpers/http.js';
import { httpService, writeServerScript } from '../helpers/lab.js';
import { isAlive, killProcessesUnder } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { recordedInstance } from './recorded-instance.js';
import { serviceSpecOf, swarmTestContext } from './swarm-kind-context.js';
import { pidOf } from '../helpers/instance-pid.js';

const STACK = 'kindlab';

describe('service kind', () => {
  const kind = new ServiceKind();

  it('picks one backend per runtime: local (supervised) for process and docker, swarm for swarm', () => {
    const spec = (runtime: 'process' | 'docker' | 'swarm') => ({ runtime });
    expect(kind.backendFor(spec('process'))).toMatchObject({ name: 'local', supervised: true });
    expect(kind.backendFor(spec('docker'))).toBe(kind.backendFor(spec('process')));
    expect(kind.backendFor(spec('swarm'))).toMatchObject({ name: 'swarm', supervised: false });
  });

  describe('diff', () => {
    const spec = (replicas: number) =>
      serviceSpecOf({ stack: STACK, services: { web: httpService({ replicas }) } }, 'web');
    const outputs = (...gone: (string | undefined)[]): ServiceOutputs => ({
      instances: gone.map((g, index) => recordedInstance(index, g)),
    });

    it('reports `instances` with a description when fewer run than `replicas` asks for', () => {
      const d = kind.diff(spec(2), spec(2), outputs(undefined, 'exited with code 1'));
      expect(d.changes).toEqual(['instances']);
      expect(d.replaces).toEqual([]);
      expect(d.details).toEqual([{ path: 'instances', before: '1 running, 1 gone', after: '2 running' }]);
    });

    it('reports only `replicas` when the count changes, and nothing when all run', () => {
      const scaled = kind.diff(spec(2), spec(3), outputs(undefined, undefined));
      expect(scaled.changes).toEqual(['replicas']);
      expect(scaled.details).toBeUndefined();
      expect(kind.diff(spec(2), spec(2), outputs(undefined, undefined)).changes).toEqual([]);
    });
  });

  describe('with real processes', () => {
    let dir: string;
    beforeEach(() => {
      dir = makeTempDir('service-kind');
      writeServerScript(dir);
    });
    afterEach(async () => {
      await killProcessesUnder(dir);
      removeTempDir(dir);
    });

    it("prepare's port pool holds recorded ports, and before an apply those of instances still running", async () => {
      const driver = new ProcessDriver({ stateDir: path.join(dir, '.groundwork') });
      const t = swarmTestContext({ stack: STACK, dir, drivers: { process: driver } });
      const stack: StackConfig = { stack: STACK, services: { web: httpService() } };
      const raw = serviceSpecOf(stack, 'web', dir);
      const addr = address('service', 'web');
      const poolOf = async (setup: RunSetup): Promise<PortPool> => {
        const pool = (await kind.prepare(t.ctx, setup)).ports;
        if (!pool) throw new Error('the service kind shared no port pool');
        return pool;
      };
      const ctx: KindContext = { ...t.ctx, ports: await poolOf({ run: 'apply', recorded: [] }) };

      const outputs = await kind.create(ctx, addr, raw);
      const [inst] = outputs.instances;
      if (!inst) throw new Error('create recorded no instance');
      const port = inst.ports.http as number;
      expect((await httpGet(port, '/')).body).toContain('web 0');

      // Not in state (say, the apply that started it was killed): only an apply looks at the driver.
      expect((await poolOf({ run: 'refresh', recorded: [] })).isReserved(port)).toBe(false);
      expect((await poolOf({ run: 'apply', recorded: [] })).isReserved(port)).toBe(true);
      const recorded = [{ address: addr, kind: 'service' as const, spec: raw, outputs }];
      expect((await poolOf({ run: 'refresh', recorded })).isReserved(port)).toBe(true);

      const read = await kind.read(ctx, addr, raw, outputs);
      expect(read).toMatchObject({ exists: true, spec: raw, drift: [] });

      await kind.delete(ctx, addr, raw, outputs);
      expect(isAlive(pidOf(inst))).toBe(false);
      expect(ctx.ports.isReserved(port)).toBe(false);
      t.store.closeNow();
    });
  });
});
