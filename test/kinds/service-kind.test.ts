/**
 * The service kind called directly (no CLI, no daemon, no engine): diff is pure; create, read,
 * update and delete run real processes through the real process driver, with a real SQLite
 * release log and port allocator.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { ServiceKind } from '../../src/kinds/service/service-kind.js';
import type { InstanceOutput, ServiceOutputs, ServiceSpec } from '../../src/kinds/service/service-spec.js';
import type { Address } from '../../src/model/resource.js';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { httpGet } from '../helpers/http.js';
import { describeLeftovers, isEmpty, sweepLeftovers } from '../helpers/leftovers.js';
import { isAlive, tryEnviron } from '../helpers/processes.js';
import { nodeService, writeServiceScript } from '../helpers/service-script.js';
import type { ServiceConfig } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { recordedInstance } from './recorded-instance.js';
import { serviceSpecOf, swarmTestContext, type SwarmTestContext } from './swarm-kind-context.js';
import { pidOf } from '../helpers/instance-pid.js';
import { slowStore } from '../helpers/slow-store.js';

const ADDRESS = 'service.web' as Address;
const kind = new ServiceKind();

function specOf(dir: string, web: ServiceConfig): ServiceSpec {
  const stack: StackConfig = { stack: 'kindlab', secrets: { token: {} }, services: { web } };
  return serviceSpecOf(stack, 'web', dir);
}

const live = (outputs: ServiceOutputs): InstanceOutput[] => outputs.instances.filter((i) => !i.gone);

describe('ServiceKind.diff (pure)', () => {
  const dir = '/nonexistent';
  const base = nodeService('m', { replicas: 2 });
  const outputsWith = (n: number): ServiceOutputs => ({
    instances: Array.from({ length: n }, (_, index) => recordedInstance(index)),
  });

  it('no change when spec and live instances match', () => {
    expect(kind.diff(specOf(dir, base), specOf(dir, base), outputsWith(2))).toMatchObject({
      changes: [],
      replaces: [],
    });
  });

  it('env and replicas are changes in place; runtime forces a replacement', () => {
    const env = kind.diff(specOf(dir, base), specOf(dir, { ...base, env: { ...base.env, A: '1' } }), outputsWith(2));
    expect(env).toMatchObject({ changes: ['env.A'], replaces: [] });
    const scaled = kind.diff(specOf(dir, base), specOf(dir, { ...base, replicas: 3 }), outputsWith(2));
    expect(scaled).toMatchObject({ changes: ['replicas'], replaces: [] });
    const runtime = kind.diff(
      specOf(dir, base),
      specOf(dir, { ...base, runtime: 'docker', image: 'x' } as ServiceConfig),
      outputsWith(2),
    );
    expect(runtime.replaces).toEqual(['runtime']);
  });

  it('fewer live instances than replicas is a change of `instances`; gone ones do not count', () => {
    const outputs: ServiceOutputs = { instances: [recordedInstance(0), recordedInstance(1, 'exited (SIGKILL)')] };
    expect(kind.diff(specOf(dir, base), specOf(dir, base), outputs).changes).toEqual(['instances']);
  });
});

describe('ServiceKind create / read / update / delete with the process driver', () => {
  let dir: string;
  let t: SwarmTestContext;

  beforeEach(() => {
    dir = makeTempDir('kind');
    writeServiceScript(dir);
    t = swarmTestContext({ stack: 'kindlab', dir, secrets: { GROUNDWORK_SECRET_TOKEN: 'tok-value' } });
    t.ctx.drivers = { process: new ProcessDriver({ stateDir: t.ctx.stateDir }) };
    // Releases through a store that answers a turn late, as a networked one would.
    t.ctx.releases = slowStore(t.store).releases;
  });

  afterEach(async () => {
    t.store.closeNow();
    const left = await sweepLeftovers({ dir, stateDir: path.join(dir, '.groundwork') });
    removeTempDir(dir);
    expect(isEmpty(left), `left by the test:\n  ${describeLeftovers(left)}`).toBe(true);
  });

  it('create starts the replicas with ports, base env and resolved secrets; scale, update and delete converge', async () => {
    const web = nodeService('gw-kind', { replicas: 2, env: { TOKEN: '${secret.token}' } });
    const created = await kind.create(t.ctx, ADDRESS, specOf(dir, web));
    const two = live(created);
    expect(two.map((i) => i.index)).toEqual([0, 1]);
    expect(new Set(two.map((i) => i.ports.http)).size).toBe(2);
    for (const i of two) {
      expect(isAlive(pidOf(i))).toBe(true);
      expect((await httpGet(i.ports.http as number, '/')).body).toBe(`web ${i.index} pid ${pidOf(i)}\n`);
      expect(tryEnviron(pidOf(i))).toMatchObject({
        GROUNDWORK_STACK: 'kindlab',
        GROUNDWORK_SERVICE: 'web',
        GROUNDWORK_INSTANCE: String(i.index),
        TOKEN: 'tok-value',
      });
    }
    // The secret's value is in the process environment only, not in what the kind records.
    expect(JSON.stringify(created)).not.toContain('tok-value');
    const releases = async () =>
      (await t.store.releases.listReleases('web')).map((r) => `v${r.seq} ${r.kind} ${r.status}`);
    expect(await releases()).toEqual(['v1 config active']);

    const read = await kind.read(t.ctx, ADDRESS, specOf(dir, web), created);
    expect(read).toMatchObject({ exists: true, drift: [] });

    // Scaling to 3 keeps the running two and adds one.
    const scaled = await kind.update(t.ctx, ADDRESS, specOf(dir, web), specOf(dir, { ...web, replicas: 3 }), created);
    const three = live(scaled);
    expect(three.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(three.slice(0, 2).map((i) => pidOf(i))).toEqual(two.map((i) => pidOf(i)));
    expect(await releases()).toEqual(['v1 config active']); // a scale is no new release

    // A changed env rolls every instance: new processes, the old ones gone.
    const changed = { ...web, replicas: 3, env: { ...web.env, MESSAGE: 'v2' } };
    const rolled = await kind.update(
      t.ctx,
      ADDRESS,
      specOf(dir, { ...web, replicas: 3 }),
      specOf(dir, changed),
      scaled,
    );
    const next = live(rolled);
    expect(next).toHaveLength(3);
    for (const i of next) {
      expect(three.map((x) => pidOf(x))).not.toContain(pidOf(i));
      expect((await httpGet(i.ports.http as number, '/')).body).toBe(`web ${i.index} pid ${pidOf(i)} v2\n`);
    }
    for (const old of three) expect(isAlive(pidOf(old)), `old pid ${pidOf(old)}`).toBe(false);
    expect(await releases()).toEqual(['v2 config active', 'v1 config superseded']);

    await kind.delete(t.ctx, ADDRESS, specOf(dir, changed), rolled);
    for (const i of next) expect(isAlive(pidOf(i)), `pid ${pidOf(i)} after delete`).toBe(false);
  });
});
