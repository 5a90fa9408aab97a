/**
 * The driver-owned part of an instance's identity: what a driver needs to find that very
 * instance again (a pid and its kernel start time, a container). State records it as an opaque
 * `{ driver, data }`; only the driver that made it reads `data`, through its own TypeBox schema,
 * so a driver can change what it keeps without any other layer noticing. Everyone else asks the
 * driver (inspect, stop, stats, logs) or reads `describe` for display.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Runtime } from '../config/schema.js';

export const DriverHandleSchema = Type.Object({
  driver: Type.Union([Type.Literal('process'), Type.Literal('docker'), Type.Literal('swarm')]),
  /** The driver's own data (flat: numbers and strings): checked by the driver's schema, read by nobody else. */
  data: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()])),
});
const flatData = TypeCompiler.Compile(DriverHandleSchema.properties.data);
export type DriverHandle = Static<typeof DriverHandleSchema>;

/** What status and messages may show of a handle, as the driver chooses to tell it. */
export interface HandleDescription {
  /** The host pid of the instance's main process, when it has one this host can see. */
  pid: number | null;
  /** The container's engine id, for container runtimes that know it. */
  containerId: string | null;
  /** For messages: `pid 4242`, `container 3f2a…`, `not started`. */
  label: string;
}

/** A handle that is another driver's, or whose data does not have its driver's shape. */
export class HandleError extends Error {
  constructor(
    /** The instance (its id), or what held the handle. */
    readonly instance: string,
    readonly problem: string,
  ) {
    super(
      `instance ${instance}: its runtime handle ${problem}; the state was written by another version of groundwork or edited by hand: run \`groundwork refresh\`, then \`groundwork apply\`, to record it again`,
    );
    this.name = 'HandleError';
  }
}

/** One driver's reading of its handles. Type-erased methods (`check`, `describe`) serve the registry. */
export interface HandleCodec<T> {
  readonly driver: Runtime;
  /** The handle of `data`, to hand out. */
  make(data: T): DriverHandle;
  /** The driver's data of `handle`; throws a HandleError naming `instance` when it is not this driver's shape. */
  read(handle: DriverHandle, instance: string): T;
  /** Why `data` is not this driver's (JSON pointer and message), or undefined when it is. */
  check(data: unknown): { path: string; message: string } | undefined;
  describe(handle: DriverHandle, instance: string): HandleDescription;
  /** The handle of an instance that is not running (a placeholder the supervisor starts later). */
  none(): DriverHandle;
}

/**
 * A codec for `driver`'s handles with data of `schema`. Data is copied on `make`, so a handle
 * never shares an object with the driver's own bookkeeping.
 */
export function handleCodec<S extends TObject>(
  driver: Runtime,
  schema: S,
  opts: { describe(data: Static<S>): HandleDescription; none: Static<S> },
): HandleCodec<Static<S>> {
  const compiled = TypeCompiler.Compile(schema);
  const is = (v: unknown): v is Static<S> => compiled.Check(v);
  const check = (data: unknown): { path: string; message: string } | undefined => {
    if (is(data)) return undefined;
    const first = compiled.Errors(data).First();
    return { path: first?.path ?? '', message: first?.message ?? 'does not match' };
  };
  const make = (data: Static<S>): DriverHandle => {
    const copy: unknown = { ...data };
    if (!flatData.Check(copy))
      throw new Error(`a ${driver} handle holds numbers and strings only; this is a defect of the ${driver} driver`);
    return { driver, data: copy };
  };
  const read = (handle: DriverHandle, instance: string): Static<S> => {
    if (handle.driver !== driver)
      throw new HandleError(instance, `belongs to the ${handle.driver} runtime, not to ${driver}`);
    const data: unknown = handle.data;
    if (is(data)) return data;
    const bad = check(data);
    throw new HandleError(
      instance,
      `does not have the ${driver} runtime's shape: field \`${bad?.path.replace(/^\//, '') ?? ''}\` ${bad?.message ?? ''}`,
    );
  };
  return {
    driver,
    make,
    read,
    check,
    describe: (handle, instance) => opts.describe(read(handle, instance)),
    none: () => make(opts.none),
  };
}
