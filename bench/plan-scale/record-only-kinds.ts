/**
 * Bench-only resource kinds, used to seed a state store with thousands of rows. `create` and
 * `update` return outputs shaped like the real kinds' (instances with pids and ports, volume
 * paths) without starting a process or touching a directory; `check`, `diff` and `read`
 * are the real kinds'. Starting 2,000 real services is not what plan-scale measures.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { KindRegistry } from '../../src/kinds/registry.js';
import type { KindContext, ResourceKind } from '../../src/kinds/resource-kind.js';
import type { Address, JsonObject, ResourceKindName } from '../../src/model/resource.js';

type Outputs = (ctx: KindContext, address: Address, spec: JsonObject) => JsonObject;

export function recordOnlyKinds(real: KindRegistry): KindRegistry {
  let nextPort = 20000;
  let nextPid = 100000;
  const serviceOutputs = (ctx: KindContext, address: Address, spec: JsonObject): JsonObject => {
    const name = address.slice('service.'.length);
    const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
    const portSpec = (spec.ports ?? {}) as Record<string, number | 'auto'>;
    const instances: JsonObject[] = [];
    for (let index = 0; index < replicas; index++) {
      const ports: JsonObject = {};
      for (const [p, v] of Object.entries(portSpec)) ports[p] = v === 'auto' ? nextPort++ : v;
      const pid = nextPid++;
      instances.push({
        index,
        id: `${ctx.stack}-${name}-${index}-${pid.toString(36)}`,
        pid,
        pgid: pid,
        startTicks: 4_000_000 + pid,
        startedAt: '2024-06-01T12:00:00.000Z',
        specHash: createHash('sha256')
          .update(`${address}/${index}/${JSON.stringify(spec)}`)
          .digest('hex'),
        logFile: path.join(ctx.stateDir, 'logs', `${name}-${index}.log`),
        limits: 'none',
        ports,
      });
    }
    return { instances };
  };
  const volumeOutputs = (ctx: KindContext, spec: JsonObject): JsonObject => ({
    path: path.resolve(ctx.dir, String(spec.path)),
    uid: 1000,
    gid: 1000,
  });

  const recordOnly = (k: ResourceKind, outputs: Outputs): ResourceKind => ({
    kind: k.kind,
    shapes: k.shapes,
    check: (address, spec) => k.check(address, spec),
    diff: (old, next, oldOutputs) => k.diff(old, next, oldOutputs),
    read: (ctx, address, spec, out) => k.read(ctx, address, spec, out),
    create: async (ctx, address, spec) => outputs(ctx, address, spec),
    update: async (ctx, address, _old, next) => outputs(ctx, address, next),
    delete: async () => undefined,
  });
  const outputsOf: Partial<Record<ResourceKindName, Outputs>> = {
    service: serviceOutputs,
    volume: (ctx, _a, spec) => volumeOutputs(ctx, spec),
  };
  // Every kind of the real registry, so a kind added later is recorded too (with empty outputs).
  return Object.fromEntries(
    (Object.keys(real) as ResourceKindName[]).map((name) => [
      name,
      recordOnly(real[name], outputsOf[name] ?? (() => ({}))),
    ]),
  ) as KindRegistry;
}
