/**
 * Query strings typed by a TypeBox object: one parser (the daemon's routes) and one serializer
 * (the client), both from the route's `query` schema in the contract, which also documents the
 * parameters in /v1/openapi.json. Properties are integers (with `minimum`/`maximum`), booleans
 * (`1`/`true`, `0`/`false`) or strings. On the wire every parameter is optional: a property the
 * schema requires must carry a `default`, which the parser fills in, so a handler gets a value.
 */
import { Kind, OptionalKind, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { ApiError } from './api-error.js';

type QueryValue = string | number | boolean;

interface QueryProperty {
  name: string;
  type: 'integer' | 'boolean' | 'string';
  optional: boolean;
  default?: QueryValue;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

function propertiesOf(schema: TObject): QueryProperty[] {
  return Object.entries(schema.properties as Record<string, TSchema>).map(([name, p]) => {
    const kind = p[Kind] as string;
    const type =
      kind === 'Integer' ? 'integer' : kind === 'Boolean' ? 'boolean' : kind === 'String' ? 'string' : undefined;
    if (!type)
      throw new Error(`query parameter ${name}: ${kind} is not supported (use an integer, a boolean or a string)`);
    const optional = p[OptionalKind] === 'Optional';
    const def = p.default as QueryValue | undefined;
    if (!optional && def === undefined)
      throw new Error(`query parameter ${name} is required but has no default; give it one or make it Optional`);
    return {
      name,
      type,
      optional,
      ...(def !== undefined ? { default: def } : {}),
      ...(typeof p.minimum === 'number' ? { minimum: p.minimum } : {}),
      ...(typeof p.maximum === 'number' ? { maximum: p.maximum } : {}),
      ...(typeof p.minLength === 'number' ? { minLength: p.minLength } : {}),
      ...(typeof p.maxLength === 'number' ? { maxLength: p.maxLength } : {}),
    };
  });
}

function badParam(name: string, expected: string, found: string): ApiError {
  return new ApiError(
    400,
    'bad-request',
    `query parameter ${name} must be ${expected}, found "${found}"`,
    'see the parameters of this route in /v1/openapi.json',
  );
}

function parseValue(p: QueryProperty, raw: string): QueryValue {
  switch (p.type) {
    case 'integer': {
      const n = raw.trim() === '' ? Number.NaN : Number(raw);
      const lo = p.minimum ?? Number.MIN_SAFE_INTEGER;
      const hi = p.maximum ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(n) || n < lo || n > hi) throw badParam(p.name, `a whole number from ${lo} to ${hi}`, raw);
      return n;
    }
    case 'boolean':
      if (raw === '1' || raw === 'true') return true;
      if (raw === '0' || raw === 'false') return false;
      throw badParam(p.name, '1, true, 0 or false', raw);
    case 'string':
      if (raw.length < (p.minLength ?? 0) || raw.length > (p.maxLength ?? Infinity))
        throw badParam(p.name, `a text of ${p.minLength ?? 0} to ${p.maxLength ?? 'any number of'} characters`, raw);
      return raw;
  }
}

export interface QueryCodec<S extends TObject> {
  readonly schema: S;
  /** The parameters of `search` checked against the schema, defaults filled in; unknown ones are ignored. */
  parse(search: URLSearchParams): Static<S>;
  /** `?a=1&b=x` (or '') for the given values: undefined and default-valued parameters are left out. */
  serialize(values: Partial<Static<S>>): string;
}

export function queryCodec<S extends TObject>(schema: S): QueryCodec<S> {
  const props = propertiesOf(schema);
  return {
    schema,
    parse(search) {
      const out: Record<string, QueryValue> = {};
      for (const p of props) {
        const raw = search.get(p.name);
        if (raw !== null) out[p.name] = parseValue(p, raw);
        else if (p.default !== undefined) out[p.name] = p.default;
      }
      return out as Static<S>;
    },
    serialize(values) {
      const q = new URLSearchParams();
      const given = values as Record<string, QueryValue | undefined>;
      for (const p of props) {
        const v = given[p.name];
        if (v === undefined || v === p.default) continue;
        q.set(p.name, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
      }
      const s = q.toString();
      return s ? `?${s}` : '';
    },
  };
}
