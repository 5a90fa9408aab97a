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
import type { Runtime } from '../config/schema.js';
import type { RuntimeDriver } from '../runtime/runtime-driver.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { PortAllocator } from './service/port-allocator.js';
import type { SecretSource } from '../security/secret-source.js';
import type { ReleaseLog } from '../deploy/release-builder.js';
import type { ClusterRuntime } from '../runtime/swarm/cluster-runtime.js';
import type { TrafficDirector } from '../deploy/traffic-director.js';

export interface DiffResult {
  /** Dotted field paths that differ. */
  changes: string[];
  /** The subset of changes that force delete-then-create. */
  replaces: string[];
  /** Fields that are the same. */
  stables: string[];
}

export interface ReadResult {
  exists: boolean;
  /** The spec as observed in the world, in the same shape as the desired spec. */
  spec: JsonObject;
  outputs: JsonObject;
  /** Human lines describing drift, e.g. "instance 1 (pid 4242) exited with code 137". */
  drift: string[];
}

export interface KindContext {
  stack: string;
  /** Directory of the stack file: relative paths resolve against it. */
  dir: string;
  stateDir: string;
  drivers: Partial<Record<Runtime, RuntimeDriver>>;
  ports: PortAllocator;
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

export class PartialFailure extends Error {
  constructor(
    message: string,
    readonly outputs: JsonObject,
  ) {
    super(message);
  }
}

export interface ResourceKind<Spec extends JsonObject = JsonObject> {
  readonly kind: ResourceKindName;
  /** Checks that only this kind knows (beyond the schema). */
  check(address: Address, spec: Spec): Diagnostic[];
  diff(old: Spec, next: Spec, oldOutputs: JsonObject): DiffResult;
  create(ctx: KindContext, address: Address, spec: Spec): Promise<JsonObject>;
  read(ctx: KindContext, address: Address, spec: Spec, outputs: JsonObject): Promise<ReadResult>;
  update(ctx: KindContext, address: Address, old: Spec, next: Spec, outputs: JsonObject): Promise<JsonObject>;
  delete(ctx: KindContext, address: Address, spec: Spec, outputs: JsonObject): Promise<void>;
}
