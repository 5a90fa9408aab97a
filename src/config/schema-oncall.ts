/**
 * The stack file's `people:` and `oncall:` sections: who the team is (their access role and how
 * to reach them), who is on call when, and how an incident escalates until someone acknowledges.
 * Contacts have the same shape as notify channels, and their settings may reference secrets.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ChannelSchema, WEEKDAYS } from './schema-alerting.js';
import { DurationT, Name, Names } from './schema-parts.js';

export const ROLES = ['viewer', 'deployer', 'operator', 'approver', 'admin'] as const;

const HHMM = (description: string) =>
  Type.String({
    pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
    description,
    'x-fix': 'write a 24-hour local time such as 09:00 or 17:30',
  });

export const PagingRuleSchema = Type.Object(
  {
    contact: Name('One of this person’s contacts'),
    after: Type.Optional(DurationT('How long after the person is paged this contact is used', '0s')),
  },
  { additionalProperties: false },
);

export const PersonSchema = Type.Object(
  {
    role: Type.Optional(
      Type.Union(
        ROLES.map((r) => Type.Literal(r)),
        {
          description:
            'What this person may do with an API token: viewer (read), deployer (+ deploy, rollback), operator (+ restart, scale, apply, down), approver (read + approve changes), admin (everything, reading secret values included). Without a role the person can be paged but gets no token.',
          'x-fix': `use one of ${ROLES.join(', ')}`,
        },
      ),
    ),
    services: Type.Optional(
      Type.Array(Name('A service this person is limited to'), {
        description: 'Limits the role to these services (default: every service, and stack-wide operations)',
        minItems: 1,
        uniqueItems: true,
      }),
    ),
    description: Type.Optional(Type.String()),
    contacts: Type.Optional(
      Names(ChannelSchema, 'How to reach this person: each like a notify channel (ntfy, email, webhook, slack)'),
    ),
    paging: Type.Optional(
      Type.Array(PagingRuleSchema, {
        minItems: 1,
        description: 'When paged, which contacts are used and after how long (default: every contact at once)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const RestrictionSchema = Type.Object(
  {
    days: Type.Optional(
      Type.Array(
        Type.Union(
          WEEKDAYS.map((d) => Type.Literal(d)),
          { 'x-fix': `use ${WEEKDAYS.join(', ')}` },
        ),
        { uniqueItems: true, description: 'Days the window starts on (default: every day)' },
      ),
    ),
    from: HHMM('Local start'),
    to: HHMM('Local end; at or before from: the window crosses midnight'),
  },
  { additionalProperties: false },
);

export const LayerSchema = Type.Object(
  {
    name: Type.Optional(Name('Shown in `oncall who` (default layer-N)')),
    members: Type.Array(Name('A person under people:'), { minItems: 1, description: 'In rotation order' }),
    rotation: Type.String({
      pattern: '^(daily|weekly|[1-9][0-9]*h)$',
      description: 'Length of one turn: daily, weekly, or a whole number of hours such as 12h',
      'x-fix': 'write daily, weekly or a number of hours such as 12h',
    }),
    start: Type.String({
      pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2})?(Z|[+-]\\d{2}:\\d{2})?$',
      description:
        "When the first member's first turn starts: a local date-time in the schedule's time zone (2026-01-05T09:00), or an instant with its offset (2026-01-05T09:00+01:00), read on the schedule's wall clock. Every handoff is at that local time of day, whatever daylight saving does",
      'x-fix': 'write a local date-time such as 2026-01-05T09:00 (or with an offset, 2026-01-05T09:00+01:00)',
    }),
    only: Type.Optional(
      Type.Array(RestrictionSchema, {
        minItems: 1,
        description: 'The layer covers only these windows, e.g. weekdays 09:00-17:00',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ScheduleSchema = Type.Object(
  {
    timezone: Type.String({ minLength: 1, description: 'IANA time zone of the handoffs, e.g. Europe/Berlin' }),
    layers: Type.Array(LayerSchema, {
      minItems: 1,
      description: 'Later layers win where they have someone (a business-hours layer over a weekly one)',
    }),
  },
  { additionalProperties: false },
);

const Target = Type.String({
  pattern: '^(person|schedule|channel):[a-z][a-z0-9-]{0,62}$',
  description: 'person:NAME, schedule:NAME (whoever is on call) or channel:NAME (a notify channel)',
  'x-fix': 'write person:ana, schedule:primary or channel:ops-chat',
});

export const EscalationSchema = Type.Object(
  {
    steps: Type.Array(
      Type.Object(
        {
          notify: Type.Array(Target, { minItems: 1, uniqueItems: true }),
          escalate_after: Type.Optional(DurationT('Without an acknowledgement by then, the next step is paged', '5m')),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    repeat: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10, description: 'Run the steps again from the top this many times' }),
    ),
  },
  { additionalProperties: false },
);

export const OncallSchema = Type.Object(
  {
    schedules: Type.Optional(Names(ScheduleSchema, 'Rotations: who is on call when')),
    escalation: Type.Optional(Names(EscalationSchema, 'Escalation policies: who is paged, in which order')),
    policy: Type.Optional(Name('The escalation policy incidents follow (default: the only one)')),
    page: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        uniqueItems: true,
        description: 'Alert severities that open an incident and page (default: critical)',
      }),
    ),
  },
  { additionalProperties: false, description: 'On-call schedules, escalation policies and what pages' },
);

export type PersonConfig = Static<typeof PersonSchema>;
export type OncallConfig = Static<typeof OncallSchema>;
export type ScheduleConfig = Static<typeof ScheduleSchema>;
export type EscalationConfig = Static<typeof EscalationSchema>;
