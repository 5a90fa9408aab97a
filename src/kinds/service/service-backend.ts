/**
 * Who runs a whole service (after Nomad's split between task drivers and whole-service
 * orchestrators): the `local` backend starts and supervises instances on this machine through a
 * RuntimeDriver (process, docker); the `swarm` backend hands the whole service to the Swarm
 * cluster, which places, restarts and rolls its tasks. The backend is chosen once per service
 * from its spec (`backendNameOf`); nothing else asks which runtime a service uses.
 */
import type { Runtime } from '../../config/schema.js';
import type { Address } from '../../model/resource.js';
import type { KindContext, ReadResult } from '../resource-kind.js';
import type { InstanceOutput, ServiceOutputs, ServiceSpec } from './service-spec.js';

export const SERVICE_BACKENDS = ['local', 'swarm'] as const;
export type ServiceBackendName = (typeof SERVICE_BACKENDS)[number];

/** The backend of each runtime; a new runtime must say which backend runs it. */
const BACKEND_OF_RUNTIME: Record<Runtime, ServiceBackendName> = {
  process: 'local',
  docker: 'local',
  swarm: 'swarm',
};

/** The backend that runs a service with this spec. */
export function backendNameOf(spec: Pick<ServiceSpec, 'runtime'>): ServiceBackendName {
  return BACKEND_OF_RUNTIME[spec.runtime];
}

/**
 * What one instance of each runtime is: a host process (the host's PATH and HOME; volumes handed
 * to the service's user) or a container (its image's environment; image, mounts and labels).
 */
const INSTANCE_FORM: Record<Runtime, 'host-process' | 'container'> = {
  process: 'host-process',
  docker: 'container',
  swarm: 'container',
};

export function runsInContainer(runtime: Runtime): boolean {
  return INSTANCE_FORM[runtime] === 'container';
}

/** One side of a deploy: a spec, the code directory it runs and its release (rollout.ts's RolloutSide). */
export interface ServiceSide {
  spec: ServiceSpec;
  codeDir: string;
  release: number | null;
  /** The side's code is not a snapshot (the live stack directory): keep its instances until the end. */
  keepOld?: boolean;
}

/** What a backend observes of a service: whether it exists, its outputs, drift (the spec reads back as recorded). */
export type ServiceReadResult = Omit<ReadResult<ServiceSpec, ServiceOutputs>, 'spec'>;

/**
 * The lifecycle of one whole service. Failure semantics are the ResourceKind's: a create that
 * throws leaves nothing behind unless it throws a PartialFailure describing what exists; an
 * update or deploy that fails throws a PartialFailure with the outputs of what runs; a failed
 * delete means the service still exists.
 */
export interface ServiceBackend {
  readonly name: ServiceBackendName;
  /**
   * Whether the daemon's supervisor watches and restarts this backend's instances. False for
   * swarm: the cluster's orchestrator restarts tasks, on nodes where no supervisor runs.
   */
  readonly supervised: boolean;
  create(ctx: KindContext, address: Address, spec: ServiceSpec): Promise<ServiceOutputs>;
  /** `changed`: the spec fields that differ (dotted paths), from the kind's diff. */
  update(
    ctx: KindContext,
    address: Address,
    old: ServiceSpec,
    next: ServiceSpec,
    outputs: ServiceOutputs,
    changed: readonly string[],
  ): Promise<ServiceOutputs>;
  /** Rolls the service from what runs (`from`, `current`) to `to` by its strategy; returns the new outputs. */
  deploy(
    ctx: KindContext,
    address: Address,
    from: ServiceSide,
    current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs>;
  /** Back to an earlier release `to`: a deploy, unless the backend keeps the previous spec itself (Swarm). */
  rollback(
    ctx: KindContext,
    address: Address,
    from: ServiceSide,
    current: InstanceOutput[],
    to: ServiceSide,
    outputs: ServiceOutputs,
  ): Promise<ServiceOutputs>;
  read(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<ServiceReadResult>;
  delete(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<void>;
  /**
   * `groundwork down`: stops everything the service runs and keeps it in state (no instances),
   * so the next apply starts it again. Returns the outputs to record; throws a PartialFailure
   * with the outputs of what still runs when something could not be stopped.
   */
  stop(ctx: KindContext, address: Address, spec: ServiceSpec, outputs: ServiceOutputs): Promise<ServiceOutputs>;
}
