/**
 * The normalised service spec as stored in plans and state (see model/build-model.ts), and the
 * service's outputs, as TypeBox schemas: the types are derived from them, and the registry checks
 * specs and outputs against them where they cross the store (kinds/typed-kind.ts). Fields added
 * after the first release carry a `default` (or are optional), so a state file written by an older
 * version still loads.
 */
import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';
import type { Address, JsonObject } from '../../model/resource.js';
import { RESTART_POLICIES, RUNTIMES, STRATEGIES, ServiceSchema, StatusRange } from '../../config/schema.js';
import { shape, ShapeError, type Shape } from '../shape.js';
import { DriverHandleSchema, type HandleDescription } from '../../runtime/driver-handle.js';
import { describeHandle, handleProblem, legacyHandle } from '../../runtime/handles.js';

/** One of a closed set of strings, typed as that set (the Union checks it). */
const literals = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>(Type.Union(values.map((v) => Type.Literal(v))));
const Nullable = <T extends TSchema>(t: T, options?: SchemaOptions) => Type.Union([t, Type.Null()], options);

export const ProbeSpecSchema = Type.Object({
  http: Type.Optional(
    Type.Object({
      path: Type.String(),
      port: Type.Optional(Type.String()),
      status: StatusRange,
      body: Type.Optional(Type.String()),
    }),
  ),
  tcp: Type.Optional(Type.Object({ port: Type.Optional(Type.String()) })),
  exec: Type.Optional(Type.Object({ command: Type.String() })),
  interval: Type.String({ default: '2s' }),
  timeout: Type.String({ default: '1s' }),
  start_period: Type.String({ default: '0s' }),
  healthy: Type.Number({ default: 1 }),
  unhealthy: Type.Number({ default: 3 }),
});
export type ProbeSpec = Static<typeof ProbeSpecSchema>;

export const ServiceSpecSchema = Type.Object({
  runtime: literals(RUNTIMES),
  /** Required for runtime process (validated); for containers it overrides the image's command. */
  command: Nullable(Type.String()),
  image: Nullable(Type.String()),
  dockerfile: Nullable(Type.String(), { default: null }),
  /** Container path -> volume name or absolute host path. */
  mounts: Type.Record(Type.String(), Type.String(), { default: {} }),
  build: Type.Union([
    Type.Null(),
    Type.Object({
      command: Type.String(),
      cwd: Type.String({ default: '.' }),
      timeout: Type.String({ default: '10m' }),
    }),
  ]),
  source: Nullable(Type.String(), { default: null }),
  args: Type.Union([Type.Array(Type.String()), Type.Null()], { default: null }),
  cwd: Type.String({ default: '.' }),
  env: Type.Record(Type.String(), Type.String()),
  /** Files of `KEY=VALUE` lines read when an instance starts (env-file.ts); `env` wins. Absent: none. */
  env_file: Type.Optional(Type.Array(Type.Object({ path: Type.String(), sha256: Type.String() }))),
  replicas: Type.Integer({ default: 1 }),
  ports: Type.Record(Type.String(), Type.Union([Type.Literal('auto'), Type.Number()]), { default: {} }),
  health: Type.Union([ProbeSpecSchema, Type.Null()], { default: null }),
  liveness: Type.Union([ProbeSpecSchema, Type.Null()], { default: null }),
  restart: literals(RESTART_POLICIES),
  stop_grace: Type.String({ default: '10s' }),
  deploy: Type.Object({
    strategy: literals(STRATEGIES),
    max_surge: Type.Number({ default: 1 }),
    max_unavailable: Type.Number({ default: 0 }),
    auto_rollback: Type.Boolean({ default: true }),
    progress_deadline: Type.String({ default: '60s' }),
    keep_releases: Type.Number({ default: 10 }),
    drain_timeout: Type.String({ default: '30s' }),
    monitor: Type.String({ default: '2s' }),
    blue_green: Type.Object({ keep_old_for: Type.String({ default: '5m' }) }, { default: {} }),
    canary: Type.Object(
      {
        steps: Type.Array(Type.Object({ weight: Type.Number(), pause: Type.String() }), {
          default: [
            { weight: 10, pause: '30s' },
            { weight: 50, pause: '30s' },
          ],
        }),
        max_error_rate: Type.Number({ default: 0.05 }),
        max_p95_ratio: Type.Number({ default: 2 }),
        min_requests: Type.Number({ default: 20 }),
      },
      { default: {} },
    ),
  }),
  user: Nullable(Type.String(), { default: null }),
  resources: Type.Union(
    [Type.Object({ memory: Type.Optional(Type.String()), cpu: Type.Optional(Type.Number()) }), Type.Null()],
    { default: null },
  ),
  depends_on: Type.Array(Type.String(), { default: [] }),
  /**
   * Versions of the encrypted secrets the env references (security/secret-versions.ts): a new
   * version changes this field, so exactly the services that use the secret roll. Absent: none.
   */
  secrets: Type.Optional(Type.Record(Type.String(), Type.Number())),
  /** As written in the stack file (absent: the driver's defaults); see runtime/process/log-limits.ts. */
  logs: ServiceSchema.properties.logs,
});
export type ServiceSpec = Static<typeof ServiceSpecSchema>;

/**
 * What state records about each running instance. How its driver finds it again (pid and start
 * time, a container) is the driver's: `handle` is opaque here, checked by the driver's own schema
 * when state is read back (runtime/handles.ts), and shown through the driver's `describe`.
 */
export const InstanceOutputSchema = Type.Object({
  index: Type.Integer(),
  id: Type.String(),
  handle: DriverHandleSchema,
  startedAt: Type.String(),
  specHash: Type.String(),
  logFile: Type.String(),
  limits: Type.String({ default: 'none' }),
  ports: Type.Record(Type.String(), Type.Number(), { default: {} }),
  /** Directory the instance runs in (a release directory, or the stack directory). */
  codeDir: Type.Optional(Type.String()),
  /** Release sequence the instance belongs to. */
  release: Type.Optional(Nullable(Type.Number())),
  /** Restarts by the supervisor since the instance was last deployed. */
  restarts: Type.Optional(Type.Number()),
  /** For an instance that is gone: how it ended, when known. */
  exitCode: Type.Optional(Nullable(Type.Number())),
  /** Set by refresh when the instance is no longer running. */
  gone: Type.Optional(Type.String()),
  /** A Swarm task: the node it runs on and its state (swarm-service.ts). */
  node: Type.Optional(Type.String()),
  taskState: Type.Optional(Type.String()),
});
export type InstanceOutput = Static<typeof InstanceOutputSchema>;

/** What status may show of a recorded instance's handle (its pid, its container), as its driver tells it. */
export function describeInstance(i: Pick<InstanceOutput, 'id' | 'handle'>): HandleDescription {
  return describeHandle(i.handle, i.id);
}

/** How messages name a recorded instance's process or container (`pid 4242`), as its driver tells it. */
export function instanceLabel(i: Pick<InstanceOutput, 'id' | 'handle'>): string {
  return describeHandle(i.handle, i.id).label;
}

/** Where a named port of a Swarm service lives: `base + slot` for `auto`, or one fixed port. */
export const SwarmPortSchema = Type.Union([
  Type.Object({ base: Type.Number() }),
  Type.Object({ fixed: Type.Number() }),
]);
/** One deployed revision of a Swarm service, as far as Groundwork needs to know it. */
export const SwarmRevisionSchema = Type.Object({
  specHash: Type.String(),
  release: Nullable(Type.Number()),
  ports: Type.Record(Type.String(), SwarmPortSchema),
});
/** Recorded under `swarm` in the outputs of a service that runs on Swarm (swarm-service.ts). */
export const SwarmServiceOutputsSchema = Type.Composite([
  SwarmRevisionSchema,
  Type.Object({
    /** The Swarm service's name (`<stack>_<service>`). */
    name: Type.String(),
    /** What Swarm's PreviousSpec holds: where `docker service rollback` (and swarmRollback) would go. */
    previous: Nullable(SwarmRevisionSchema),
  }),
]);

/** The stable address of a locally run service with ports (service-address.ts). */
export const ServiceAddressSchema = Type.Object({
  host: Type.String(),
  ports: Type.Record(Type.String(), Type.Number()),
});

export const ServiceOutputsSchema = Type.Object({
  instances: Type.Array(InstanceOutputSchema, { default: [] }),
  /** The release that runs (absent before the first release was recorded). */
  release: Type.Optional(Nullable(Type.Object({ seq: Type.Number(), dir: Type.String() }))),
  /** Blue-green: the previous set, kept warm for instant rollback until `until`. */
  standby: Type.Optional(
    Nullable(
      Type.Object({
        release: Nullable(Type.Number()),
        until: Type.String(),
        instances: Type.Array(InstanceOutputSchema),
      }),
    ),
  ),
  /** The stable address (locally run services with ports); see service-address.ts. */
  address: Type.Optional(Nullable(ServiceAddressSchema)),
  /** A service that runs on Swarm: its Swarm service. */
  swarm: Type.Optional(SwarmServiceOutputsSchema),
});
export type ServiceOutputs = Static<typeof ServiceOutputsSchema>;

export const serviceSpecShape = shape(ServiceSpecSchema, 'service spec');
const plainOutputsShape = shape(ServiceOutputsSchema, 'service outputs');

/**
 * Service outputs at the store boundary: on read, instances recorded before drivers owned their
 * handles (pid, pgid, startTicks on the record itself) are migrated to a driver handle first; then
 * the outputs' own schema, then each instance's handle data by its driver's schema.
 */
export const serviceOutputsShape: Shape<ServiceOutputs> = {
  schema: ServiceOutputsSchema,
  is: (value): value is ServiceOutputs => plainOutputsShape.is(value) && handlesProblem(value) === undefined,
  read(value, resource, crossing = 'read') {
    const outs = plainOutputsShape.read(crossing === 'read' ? withDriverHandles(value) : value, resource, crossing);
    const bad = handlesProblem(outs);
    if (bad) throw new ShapeError(resource, 'service outputs', bad.path, bad.problem, crossing);
    return outs;
  },
};

/** The first instance whose handle data is not its driver's shape: its JSON pointer and what is wrong. */
function handlesProblem(outs: ServiceOutputs): { path: string; problem: string } | undefined {
  const lists: [string, InstanceOutput[]][] = [['/instances', outs.instances]];
  if (outs.standby) lists.push(['/standby/instances', outs.standby.instances]);
  for (const [at, list] of lists)
    for (const [i, inst] of list.entries()) {
      const bad = handleProblem(inst.handle);
      if (bad)
        return {
          path: `${at}/${i}/handle/data${bad.path}`,
          problem: `is not what the ${inst.handle.driver} runtime records (${bad.message.charAt(0).toLowerCase()}${bad.message.slice(1)})`,
        };
    }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Outputs as recorded by a version before drivers owned their handles, with each such instance's
 * pid, pgid, pgidStartTicks and startTicks moved into a driver handle (runtime/handles.ts
 * `legacyHandle`). Anything else, and outputs already migrated, come back as they are; a value
 * that is not an old instance is left for the schema to report.
 */
export function withDriverHandles(value: unknown): unknown {
  if (!isObject(value)) return value;
  const migrate = (list: unknown): unknown => (Array.isArray(list) ? list.map(migrateInstance) : list);
  const needs = (list: unknown) => Array.isArray(list) && list.some((i) => isObject(i) && !('handle' in i));
  const standby = value.standby;
  const standbyNeeds = isObject(standby) && needs(standby.instances);
  if (!needs(value.instances) && !standbyNeeds) return value;
  return {
    ...value,
    instances: migrate(value.instances),
    ...(standbyNeeds ? { standby: { ...standby, instances: migrate(standby.instances) } } : {}),
  };
}

function migrateInstance(inst: unknown): unknown {
  if (!isObject(inst) || 'handle' in inst) return inst;
  const { pid, pgid, pgidStartTicks, startTicks, ...rest } = inst;
  const num = (v: unknown): v is number => typeof v === 'number';
  if (!num(pid) || !num(startTicks) || typeof rest.logFile !== 'string') return inst;
  return {
    ...rest,
    handle: legacyHandle({
      pid,
      startTicks,
      logFile: rest.logFile,
      ...(num(pgid) ? { pgid } : {}),
      ...(num(pgidStartTicks) ? { pgidStartTicks } : {}),
    }),
  };
}

/** Empty outputs: what a service that runs nothing records. */
export function noServiceOutputs(): ServiceOutputs {
  return { instances: [], release: null, standby: null, address: null };
}

/** A resource row (of state, a plan or a release), as far as the accessors below read it. */
interface Recorded {
  address: string;
  spec: JsonObject;
  outputs: JsonObject;
}

/** The spec of a recorded service, checked; a ShapeError names the resource and the field. */
export function serviceSpecOf(row: Pick<Recorded, 'address' | 'spec'>): ServiceSpec {
  return serviceSpecShape.read(row.spec, row.address);
}

/**
 * The outputs of a recorded service, checked; none (no instances) when there is no row. Outputs
 * written before a field existed load with its default; a ShapeError names the resource and field.
 */
export function serviceOutputsOf(row: Pick<Recorded, 'address' | 'outputs'> | undefined): ServiceOutputs {
  return row ? serviceOutputsShape.read(row.outputs, row.address) : noServiceOutputs();
}

/** Outputs about to be recorded (a deploy's step write), checked: a value that does not match is never written. */
export function checkedServiceOutputs(address: string, outputs: ServiceOutputs): ServiceOutputs {
  return serviceOutputsShape.read(outputs, address, 'write');
}

/**
 * Records a service's outputs outside an apply (the supervisor's restarts, `down`, a deploy),
 * checked first: a value that does not match is never written.
 */
export async function recordServiceOutputs(
  resources: { recordRuntimeOutputs(address: Address, outputs: JsonObject): Promise<void> },
  address: Address,
  outputs: ServiceOutputs,
): Promise<void> {
  await resources.recordRuntimeOutputs(address, checkedServiceOutputs(address, outputs));
}
