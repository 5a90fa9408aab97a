/**
 * The `swarm` service backend: a whole service is one Swarm service of the kind context's
 * ClusterRuntime (see swarm-service.ts for the mapping, ports and health).
 */
import type { Address } from '../../model/resource.js';
import type { KindContext } from '../resource-kind.js';
import type { ServiceBackend, ServiceReadResult, ServiceSide } from './service-backend.js';
import type { InstanceOutput, ServiceOutputs, ServiceSpec } from './service-spec.js';
import { swarmCreate, swarmDelete, swarmDeploy, swarmRead, swarmRollback, swarmUpdate } from './swarm-service.js';

export class SwarmServiceBackend implements ServiceBackend {
  readonly name = 'swarm' as const;
  readonly supervised = false;

  create(ctx: KindContext, address: Address, spec: ServiceSpec): Promise<ServiceOutputs> {
    return swarmCreate(ctx, address, spec);
  }

  update(ctx: KindContext, address: Address, old: ServiceSpec, next: ServiceSpec, outputs: ServiceOutputs) {
    return swarmUpdate(ctx, address, old, next, outputs);
  }

  /** Swarm rolls the tasks itself; what ran before (`from`, `current`) is the cluster's to replace. */
  deploy(
    ctx: KindContext,
    address: Address,
    _from: ServiceSide,
    _current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs> {
    return swarmDeploy(ctx, address, to, outputs);
  }

  /** Swarm's own rollback when `to` is the spec it keeps as the previous one; a deploy otherwise. */
  rollback(
    ctx: KindContext,
    address: Address,
    _from: ServiceSide,
    _current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs> {
    return swarmRollback(ctx, address, outputs, to);
  }

  read(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<ServiceReadResult> {
    return swarmRead(ctx, address, spec, outputs);
  }

  delete(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<void> {
    return swarmDelete(ctx, address, spec, outputs);
  }

  /**
   * Removes the Swarm service (its tasks stop on every node) and records no instances; the next
   * apply sees the missing instances and deploys the recorded spec again (the port blocks stay).
   */
  async stop(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<ServiceOutputs> {
    await swarmDelete(ctx, address, spec, outputs);
    // The outputs keep the Swarm revision (port blocks, previous spec).
    return { ...outputs, instances: [], standby: null };
  }
}
