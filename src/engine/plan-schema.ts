/** The shape of a saved plan, checked before a saved plan is applied (a file or an API body). */
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Json, JsonObject } from '../model/json.js';
import { RESOURCE_KINDS, type Address } from '../model/resource.js';
import { ACTIONS, PLAN_FORMAT_VERSION } from './plan.js';

// Schemas whose static types are the model's own (a branded Address, Json), so a value checked
// against them, or an API answer typed by them, is the model's type without a cast.
// The engine knows kinds by name only; a name may contain dots (`dns-record._ldap._tcp.SRV`) and `@`.
const ADDRESS_PATTERN = `^(${RESOURCE_KINDS.join('|')})\\.[A-Za-z0-9_@.-]+$`;
export const AddressSchema = Type.Unsafe<Address>(Type.String({ pattern: ADDRESS_PATTERN }));
export const JsonSchema = Type.Unsafe<Json>(Type.Unknown());
export const JsonObjectSchema = Type.Unsafe<JsonObject>(Type.Record(Type.String(), Type.Unknown()));

export const PlanStepSchema = Type.Object({
  address: AddressSchema,
  kind: Type.Union(RESOURCE_KINDS.map((k) => Type.Literal(k))),
  action: Type.Union(ACTIONS.map((a) => Type.Literal(a))),
  changes: Type.Array(
    Type.Object({ path: Type.String(), before: Type.Optional(JsonSchema), after: Type.Optional(JsonSchema) }),
  ),
  replaceBecause: Type.Array(Type.String()),
  after: Type.Array(AddressSchema),
  spec: Type.Optional(JsonObjectSchema),
  dependsOn: Type.Array(AddressSchema),
});

export const PlanSchema = Type.Object({
  formatVersion: Type.Literal(PLAN_FORMAT_VERSION),
  stack: Type.String(),
  stateSerial: Type.Integer({ minimum: 0 }),
  configHash: Type.String(),
  steps: Type.Array(PlanStepSchema),
  summary: Type.Object({
    create: Type.Integer(),
    update: Type.Integer(),
    replace: Type.Integer(),
    delete: Type.Integer(),
    unchanged: Type.Integer(),
  }),
  planHash: Type.String(),
});

/** Why `value` is not a well-formed plan, or undefined. */
export function planShapeProblem(value: unknown): string | undefined {
  if (Value.Check(PlanSchema, value)) {
    const steps = (value as { steps: { action: string; spec?: unknown; address: string; kind: string }[] }).steps;
    const bad = steps.find(
      (s) => (s.action !== 'delete' && s.spec === undefined) || !s.address.startsWith(`${s.kind}.`),
    );
    return bad ? `step ${bad.address} is inconsistent (kind, address or spec)` : undefined;
  }
  const e = [...Value.Errors(PlanSchema, value)][0];
  return e ? `${e.path || '(plan)'}: ${e.message}` : 'not a plan';
}
