/**
 * The stack file's `changes:` section: who must approve a change before it is applied, and when
 * changes are frozen. Freeze windows take the same `once`/`weekly` shapes as `maintenance:`
 * (one schema, one evaluator: alerts/maintenance.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Name } from './schema-parts.js';
import { MaintenanceSchema } from './schema-alerting.js';

const Services = (description: string) =>
  Type.Array(Name('A service of this stack'), { minItems: 1, uniqueItems: true, description });

export const ApprovalRuleSchema = Type.Object(
  {
    services: Type.Optional(
      Services(
        'Changes to these services need approval (default: every change: apply, deploy, rollback, of any service)',
      ),
    ),
    approvals: Type.Integer({
      minimum: 1,
      maximum: 10,
      description: 'How many people other than the author must approve (a user whose role is approver or admin)',
      'x-fix': 'write a whole number from 1 to 10',
    }),
  },
  { additionalProperties: false, description: 'Changes covered by this rule need approvals' },
);

export const FreezeSchema = Type.Object(
  {
    services: Type.Optional(Services('Frozen services (default: every change)')),
    once: MaintenanceSchema.properties.once,
    weekly: MaintenanceSchema.properties.weekly,
    description: Type.Optional(Type.String()),
  },
  {
    additionalProperties: false,
    description: 'During this window changes are refused unless given --break-glass "reason"',
  },
);

export const ChangesSchema = Type.Object(
  {
    approvals: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), ApprovalRuleSchema, {
        description: 'Approval rules by name; a change covered by several needs the most approvals any asks',
      }),
    ),
    freezes: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), FreezeSchema, {
        description: 'Freeze windows by name: one-off (once) or recurring (weekly, in an IANA time zone)',
      }),
    ),
    notify: Type.Optional(
      Type.Array(Name('A channel under notify.channels'), {
        minItems: 1,
        uniqueItems: true,
        description: 'Channels told of every break-glass change (the approvers listen there)',
      }),
    ),
  },
  { additionalProperties: false, description: 'Change management: approvals and freeze windows' },
);

export type ChangesConfig = Static<typeof ChangesSchema>;
export type ApprovalRuleConfig = Static<typeof ApprovalRuleSchema>;
export type FreezeConfig = Static<typeof FreezeSchema>;
