/**
 * A kind context for calling the swarm service functions directly (no CLI, no daemon): real
 * SQLite release log, real port allocator, secrets from a given environment, and every
 * progress line kept for assertions.
 */
import path from 'node:path';
import type { StackConfig } from '../../src/config/schema.js';
import type { KindContext } from '../../src/kinds/resource-kind.js';
import { PortAllocator } from '../../src/kinds/service/port-allocator.js';
import { serviceSpecShape, type ServiceSpec } from '../../src/kinds/service/service-spec.js';
import { buildModel } from '../../src/model/build-model.js';
import type { Address, JsonObject } from '../../src/model/resource.js';
import type { ClusterRuntime } from '../../src/runtime/swarm/cluster-runtime.js';
import { EnvFileSecretSource } from '../../src/security/secret-source.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';

export interface SwarmTestContext {
  ctx: KindContext;
  store: SqliteStore;
  /** Outputs other resources see through ctx.outputsOf. */
  outputs: Map<Address, JsonObject>;
  progress: string[];
}

export function swarmTestContext(opts: {
  stack: string;
  dir: string;
  cluster?: ClusterRuntime;
  secrets?: Record<string, string>;
  reserved?: number[];
  drivers?: KindContext['drivers'];
}): SwarmTestContext {
  const stateDir = path.join(opts.dir, '.groundwork');
  const store = SqliteStore.open(path.join(opts.dir, 'state.db'), systemClock);
  const outputs = new Map<Address, JsonObject>();
  const progress: string[] = [];
  const ctx: KindContext = {
    stack: opts.stack,
    dir: opts.dir,
    stateDir,
    drivers: opts.drivers ?? {},
    ports: new PortAllocator(opts.reserved ?? []),
    secrets: new EnvFileSecretSource(opts.secrets ?? {}, path.join(stateDir, 'secrets')),
    outputsOf: (a) => outputs.get(a),
    clock: systemClock,
    logger: silentLogger,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
    releases: store.releases,
    change: { author: 'tester', message: 'test' },
    progress: (_a, m) => {
      progress.push(m);
    },
  };
  return { ctx, store, outputs, progress };
}

/** The normalised spec of one service of `stack`, as plan and state hold it (variables substituted). */
export function serviceSpecOf(stack: StackConfig, service: string, dir = '/tmp'): ServiceSpec {
  return serviceSpecShape.read(desiredSpecOf(stack, service, dir), `service.${service}`);
}

/** The same spec as the JSON the engine hands a kind. */
export function desiredSpecOf(stack: StackConfig, service: string, dir = '/tmp'): JsonObject {
  const { model, diagnostics } = buildModel(
    stack,
    { dir, configHash: 'test', file: path.join(dir, 'groundwork.yaml') },
    { cli: {}, env: {} },
  );
  if (!model) throw new Error(diagnostics.map((d) => d.message).join('; '));
  const r = model.resources.find((x) => x.address === `service.${service}`);
  if (!r) throw new Error(`no service ${service} in the stack`);
  return r.spec;
}
