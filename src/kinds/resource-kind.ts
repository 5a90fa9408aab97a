/**
 * The contract every resource kind implements (after Pulumi's dynamic provider).
 *
 * Failure semantics:
 * - `create` that throws has created nothing that outlives the step (it cleans up), unless it
 *   throws a PartialFailure, whose outputs describe what does exist.
 * - `update` that throws leaves the old resource standing; a PartialFailure says what changed.
 * - `delete` that throws means the resource still exists.
 * - `read` never changes the world; `exists: false` means the thing is gone.
 */
import type { Diagnostic } from '../config/diagnostic.js';
import type { Address, JsonObject, ResourceKindName } from '../model/resource.js';
import type { FieldChange } from '../model/field-diff.js';
import type { Runtime } from '../config/schema.js';
import type { RuntimeDriver } from '../runtime/runtime-driver.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { SecretSource } from '../security/secret-source.js';
import type { ReleaseStore } from '../store/store.js';
import type { ClusterRuntime } from '../runtime/swarm/cluster-runtime.js';
import type { TrafficDirector } from './service/traffic.js';
import type { Shape } from './shape.js';

/** What a spec or outputs that do not match a kind's shape throw (part of the contract: the planner names the resource). */
export { ShapeError } from './shape.js';

export interface DiffResult {
  /** Dotted field paths that differ, plus any the kind reports beyond the spec (see `details`). */
  changes: string[];
  /** The subset of changes that force delete-then-create. */
  replaces: string[];
  /** Fields that are the same. */
  stables: string[];
  /**
   * How the kind describes a change that is not a spec field, for the plan: e.g. the service
   * kind's `instances` (before "1 running, 1 gone", after "2 running"). A change in `changes` that
   * is neither a spec field nor described here shows with null before and after.
   */
  details?: FieldChange[];
}

/** Where releases are recorded: the store's release area. */
export type ReleaseLog = ReleaseStore;

/**
 * Host ports handed out during one run (`auto` ports). A port is never handed out twice while
 * reserved; the service kind's PortAllocator implements it.
 */
export interface PortPool {
  reserve(port: number): void;
  release(port: number): void;
  isReserved(port: number): boolean;
  /**
   * A free port, reserved; throws when none is left. `instance` ports come from the pool's range
   * (GROUNDWORK_PORT_RANGE); `address` ports (stable service addresses) from a range of their own,
   * so they never crowd out instances.
   */
  allocate(purpose?: 'instance' | 'address'): Promise<number>;
}

/** An inclusive range of host ports. */
export interface PortRange {
  from: number;
  to: number;
}

/** One resource as state records it, as `prepare` sees it. */
export interface RecordedResource {
  address: Address;
  kind: ResourceKindName;
  spec: JsonObject;
  outputs: JsonObject;
}

/** What one apply or refresh is about to do, as a kind's `prepare` sees it. */
export interface RunSetup {
  /** `refresh` only reads the world; `apply` changes it. */
  run: 'apply' | 'refresh';
  /** Every resource in state, of every kind. */
  recorded: readonly RecordedResource[];
  /** Where `auto` ports come from (GROUNDWORK_PORT_RANGE); the kind's default when absent. */
  portRange?: PortRange;
}

/** What a kind may share with every step of one run; the engine puts it into the context. */
export interface RunShares {
  /** The run's port pool; at most one kind of a registry hands out ports. */
  ports?: PortPool;
}

export interface ReadResult<Spec extends JsonObject = JsonObject, Outputs extends JsonObject = JsonObject> {
  exists: boolean;
  /** The spec as observed in the world, in the same shape as the desired spec. */
  spec: Spec;
  outputs: Outputs;
  /** Human lines describing drift, e.g. "instance 1 (pid 4242) exited with code 137". */
  drift: string[];
}

export interface KindContext {
  stack: string;
  /** Directory of the stack file: relative paths resolve against it. */
  dir: string;
  stateDir: string;
  drivers: Partial<Record<Runtime, RuntimeDriver>>;
  /** Ports of this run; built by the kind that hands ports out (its `prepare`), from recorded state. */
  ports: PortPool;
  secrets: SecretSource;
  /** Recorded outputs of another resource (a dependency applied earlier in this run or before). */
  outputsOf(address: Address): JsonObject | undefined;
  clock: Clock;
  logger: Logger;
  sleep(ms: number): Promise<void>;
  /** Docker Swarm, for services with `runtime: swarm` (a whole service is one Swarm service). */
  cluster?: ClusterRuntime;
  /** Where releases are recorded (absent in tests that do not care). */
  releases?: ReleaseLog;
  /** The daemon's data plane, when one runs: rollouts move traffic through it. */
  traffic?: TrafficDirector;
  /** Who and why, recorded with releases. */
  change?: { author: string; message: string };
  /** One line of progress for the user (e.g. "instance 2/3 healthy"). */
  progress(address: Address, message: string): void;
}

/** The context as its owner (core, the CLI, the daemon) builds it; the engine adds the rest per run. */
export type KindContextBase = Omit<KindContext, 'outputsOf' | 'progress' | 'ports'>;

export class PartialFailure extends Error {
  constructor(
    message: string,
    readonly outputs: JsonObject,
  ) {
    super(message);
  }
}

/**
 * A resource kind, typed by its spec and its outputs. Both are declared as shapes (TypeBox schemas,
 * see shape.ts): the registry wraps every kind in a CheckedKind (checked-kind.ts), which checks
 * specs and recorded outputs before the kind sees them and the outputs it returns before the
 * store records them. The engine sees only that JSON-facing form (`ResourceKind`, the defaults).
 */
export interface ResourceKind<Spec extends JsonObject = JsonObject, Outputs extends JsonObject = JsonObject> {
  readonly kind: ResourceKindName;
  /** What a spec and the outputs look like; a value that does not match never reaches the methods. */
  readonly shapes: { readonly spec: Shape<Spec>; readonly outputs: Shape<Outputs> };
  /** Checks that only this kind knows (beyond the schema). */
  check(address: Address, spec: Spec): Diagnostic[];
  diff(old: Spec, next: Spec, oldOutputs: Outputs): DiffResult;
  create(ctx: KindContext, address: Address, spec: Spec): Promise<Outputs>;
  read(ctx: KindContext, address: Address, spec: Spec, outputs: Outputs): Promise<ReadResult<Spec, Outputs>>;
  update(ctx: KindContext, address: Address, old: Spec, next: Spec, outputs: Outputs): Promise<Outputs>;
  delete(ctx: KindContext, address: Address, spec: Spec, outputs: Outputs): Promise<void>;
  /**
   * Once per apply or refresh, before the first step: the kind sees every recorded resource (of
   * every kind) and returns what it shares with the run's steps, e.g. the service kind's port
   * pool, holding every port in state. Reads the world at most; never changes it. Optional.
   */
  prepare?(ctx: KindContextBase, setup: RunSetup): Promise<RunShares>;
}

/**
 * One implementation per resource kind: what the engine plans and applies through. Each entry
 * takes and returns JSON (as plans and state hold it); `defaultKinds()` fills it with CheckedKinds.
 */
export type KindRegistry = Record<ResourceKindName, ResourceKind>;
