/**
 * The stack file's `changes:` section: who must approve a change before it is applied, and when
 * changes are frozen. Freeze windows take the same `once`/`weekly` shapes as `maintenance:`
 * (one schema, one evaluator: alerts/maintenance.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Name } from './schema-parts.js';
import { MaintenanceSchema } from './schema-alerting.js';
import type { Diagnostic } from './diagnostic.js';
import { didYouMean } from '../util/did-you-mean.js';

const Services = (description: string) =>
  Type.Array(Name('A service of this stack'), { minItems: 1, uniqueItems: true, description });

export const ApprovalRuleSchema = Type.Object(
  {
    services: Type.Optional(
      Services(
        'Changes to these services need approval, a new version of a secret they use included (default: every change: apply, deploy, rollback, rotation, of any service)',
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

/** Where a document path is (semantic-checks.ts's Locate; repeated here to keep the import one way). */
type Locate = (path: (string | number)[], key?: boolean) => { line: number; column: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the schema cannot say of `changes:`: rules and freezes name declared services, a freeze
 * has exactly one schedule, ends after it starts, in a time zone that exists, and `notify` names
 * declared channels.
 */
export function changeChecks(doc: Record<string, unknown>, file: string, locate: Locate): Diagnostic[] {
  const out: Diagnostic[] = [];
  const changes = isObj(doc.changes) ? doc.changes : undefined;
  if (!changes) return out;
  const push = (path: (string | number)[], d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'>) => {
    const pos = locate(path);
    out.push({ severity: 'error', file, line: pos.line, column: pos.column, path: path.join('.'), ...d });
  };
  const services = Object.keys(isObj(doc.services) ? doc.services : {});
  const notify = isObj(doc.notify) ? doc.notify : {};
  const channels = Object.keys(isObj(notify.channels) ? notify.channels : {});
  const names = (path: (string | number)[], list: unknown, known: string[], what: string, fix: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((n, i) => {
      if (typeof n !== 'string' || known.includes(n)) return;
      const guess = didYouMean(n, known);
      push([...path, i], {
        code: 'dangling-reference',
        message: `no ${what} named \`${n}\``,
        fix: guess ? `did you mean \`${guess}\`?` : fix,
      });
    });
  };
  for (const [name, r] of Object.entries(isObj(changes.approvals) ? changes.approvals : {}))
    if (isObj(r))
      names(['changes', 'approvals', name, 'services'], r.services, services, 'service', 'declare it under services');
  for (const [name, f] of Object.entries(isObj(changes.freezes) ? changes.freezes : {})) {
    if (!isObj(f)) continue;
    const base = ['changes', 'freezes', name];
    names([...base, 'services'], f.services, services, 'service', 'declare it under services');
    const kinds = ['once', 'weekly'].filter((k) => k in f);
    if (kinds.length !== 1)
      push(base, {
        code: kinds.length ? 'conflict' : 'missing-key',
        message: `freeze window \`${name}\` needs exactly one of once, weekly (found ${kinds.length ? kinds.join(' and ') : 'neither'})`,
        fix: 'e.g. once: { start: 2026-12-24T00:00:00+01:00, end: 2027-01-02T00:00:00+01:00 }, or weekly: { days: [fri], from: "18:00", to: "08:00", timezone: Europe/Berlin }',
      });
    if (isObj(f.once) && typeof f.once.start === 'string' && typeof f.once.end === 'string')
      if (!(Date.parse(f.once.end) > Date.parse(f.once.start)))
        push([...base, 'once', 'end'], {
          code: 'invalid-value',
          message: `freeze window \`${name}\` ends before it starts`,
          fix: 'make end later than start',
        });
    if (isObj(f.weekly) && typeof f.weekly.timezone === 'string') {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: f.weekly.timezone });
      } catch {
        push([...base, 'weekly', 'timezone'], {
          code: 'invalid-value',
          message: `unknown time zone \`${f.weekly.timezone}\``,
          fix: 'use an IANA time zone such as Europe/Berlin, America/New_York or UTC',
        });
      }
    }
  }
  names(['changes', 'notify'], changes.notify, channels, 'channel', 'declare it under notify.channels');
  return out;
}
