/**
 * A kind's spec or outputs at the boundary where JSON becomes a typed value: a TypeBox schema,
 * compiled once, whose check is a type guard, so a checked value is the kind's own type without a
 * cast. Values written by an older version load: when the check fails, the schema's `default`s
 * fill the fields added since (on a copy) and the value is checked again.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { JsonObject } from '../model/json.js';

/** Where a value crosses the store: read back from state, or about to be recorded. */
export type Crossing = 'read' | 'write';

/** A value that does not have its shape: names the resource, the part (spec, outputs), the field and what was found. */
export class ShapeError extends Error {
  constructor(
    readonly resource: string,
    readonly part: string,
    /** JSON pointer of the field, e.g. `/instances/0/pid`; empty for the whole value. */
    readonly field: string,
    readonly problem: string,
    readonly crossing: Crossing,
  ) {
    const where = field ? `field \`${field.replace(/^\//, '').replace(/\//g, '.')}\`` : 'the value';
    const fix =
      crossing === 'read'
        ? 'the state was written by another version of groundwork or edited by hand: run `groundwork refresh`, then `groundwork apply`, to record it again'
        : 'nothing was recorded; this is a defect of the resource kind: report it with the resource spec';
    super(`${resource}: ${crossing === 'read' ? 'recorded' : 'new'} ${part}: ${where} ${problem}; ${fix}`);
    this.name = 'ShapeError';
  }

  /** The same problem, of the resource at `resource` (where the thrower did not know the address). */
  at(resource: string): ShapeError {
    return new ShapeError(resource, this.part, this.field, this.problem, this.crossing);
  }
}

export interface Shape<T> {
  readonly schema: TSchema;
  /** True when `value` has the shape as it is (no defaults filled). */
  is(value: unknown): value is T;
  /**
   * The typed value: `value` itself when it matches, else a copy with the schema's defaults
   * filled in (a value written before a field existed). Throws a ShapeError naming `resource`
   * and the first field that does not match.
   */
  read(value: unknown, resource: string, crossing?: Crossing): T;
}

export function shape<S extends TSchema>(schema: S, part: string): Shape<Static<S>> {
  const compiled = TypeCompiler.Compile(schema);
  const is = (value: unknown): value is Static<S> => compiled.Check(value);
  return {
    schema,
    is,
    read(value, resource, crossing = 'read') {
      if (is(value)) return value;
      const upgraded: unknown = Value.Default(schema, Value.Clone(value));
      if (is(upgraded)) return upgraded;
      const first = compiled.Errors(upgraded).First();
      throw new ShapeError(resource, part, first?.path ?? '', describe(first?.message, first?.value), crossing);
    },
  };
}

/**
 * Any JSON object: the shape of kinds whose spec the stack schema has checked and that only
 * record it (kinds/record). JSON.parse of state and plans produce nothing but JSON, so the check
 * is on the object itself.
 */
export const JsonObjectSchema = Type.Unsafe<JsonObject>(Type.Record(Type.String(), Type.Unknown()));
export const jsonObjectShape = (part: string): Shape<JsonObject> => shape(JsonObjectSchema, part);

/** Outputs of a kind that records nothing beyond its spec. */
export const NoOutputsSchema = Type.Object({});
export type NoOutputs = Static<typeof NoOutputsSchema>;
export const noOutputsShape = shape(NoOutputsSchema, 'outputs');

function describe(message: string | undefined, found: unknown): string {
  const text = found === undefined ? 'is missing' : `is ${(JSON.stringify(found) ?? String(found)).slice(0, 80)}`;
  return message ? `${text} (${message.charAt(0).toLowerCase()}${message.slice(1)})` : text;
}
