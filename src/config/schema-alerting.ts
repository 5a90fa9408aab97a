/**
 * The stack file's `notify:`, `alerts:` and `maintenance:` sections: where notifications go,
 * which conditions raise alerts, and when matching alerts are not sent. Channel settings may
 * reference secrets (`${secret.slack-url}`); the daemon resolves them when it builds the channel,
 * so values never enter plans or state.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DurationT, Name, Names } from './schema-parts.js';

const Url = (description: string) =>
  Type.String({
    pattern: '^(https?://|\\$\\{secret\\.)',
    description,
    'x-fix': 'write an http:// or https:// URL, or ${secret.NAME} when the URL is a credential',
  });

const Matcher = Type.String({
  pattern: '^\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(=~|!~|!=|=)',
  description: 'A label matcher as in Alertmanager: severity="page", service=~"web|api", env!="test"',
  'x-fix': 'write NAME="value", NAME!="value", NAME=~"regex" or NAME!~"regex"',
});

export const EMAIL_SECURITY = ['tls', 'starttls', 'none'] as const;

export const ChannelSchema = Type.Object(
  {
    webhook: Type.Optional(
      Type.Object(
        {
          url: Url('Where the JSON notification is POSTed'),
          secret: Type.Optional(
            Type.String({ description: 'HMAC-SHA256 key for the X-Groundwork-Signature header; use ${secret.NAME}' }),
          ),
          headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra request headers' })),
        },
        { additionalProperties: false },
      ),
    ),
    slack: Type.Optional(
      Type.Object(
        { url: Url('Incoming-webhook URL (Slack, Mattermost, Rocket.Chat); usually ${secret.NAME}') },
        { additionalProperties: false },
      ),
    ),
    ntfy: Type.Optional(
      Type.Object(
        {
          server: Url('ntfy server, e.g. https://ntfy.sh or http://127.0.0.1:2586'),
          topic: Type.String({ minLength: 1, description: 'Topic to publish to' }),
          token: Type.Optional(Type.String({ description: 'Access token of a protected topic; use ${secret.NAME}' })),
        },
        { additionalProperties: false },
      ),
    ),
    alertmanager: Type.Optional(
      Type.Object(
        {
          url: Url("A receiver of Alertmanager's webhook payload (version 4)"),
          receiver: Type.Optional(Type.String({ description: 'The receiver name sent in the payload' })),
        },
        { additionalProperties: false },
      ),
    ),
    email: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, description: 'SMTP server' }),
          port: Type.Integer({ minimum: 1, maximum: 65535, description: 'SMTP port: 465 (tls), 587 (starttls), 25' }),
          security: Type.Optional(
            Type.Union(
              EMAIL_SECURITY.map((s) => Type.Literal(s)),
              {
                default: 'starttls',
                description: 'tls from the first byte, starttls upgrade, or none (a relay on loopback)',
                'x-fix': `use one of ${EMAIL_SECURITY.join(', ')}`,
              },
            ),
          ),
          user: Type.Optional(Type.String()),
          password: Type.Optional(Type.String({ description: 'Use ${secret.NAME}' })),
          from: Type.String({ minLength: 3, description: 'Sender address' }),
          to: Type.Array(Type.String({ minLength: 3 }), { minItems: 1, description: 'Recipient addresses' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'One of webhook, slack, ntfy, alertmanager or email' },
);

const GroupBy = Type.Array(
  Type.String({
    pattern: '^([a-zA-Z_][a-zA-Z0-9_]*|\\.\\.\\.)$',
    description: "A label name, or '...' alone: every label (no grouping)",
    'x-fix': "write label names such as alertname or service, or ['...'] to group by every label",
  }),
  {
    uniqueItems: true,
    description:
      "Alerts with the same values of these labels are sent together, one notification per group (Alertmanager's group_by); absent: each alert on its own, at once",
  },
);

/** Alertmanager's grouping settings; group_wait and group_interval only apply with group_by. */
const groupingFields = {
  group_by: Type.Optional(GroupBy),
  group_wait: Type.Optional(DurationT("How long a new group's first notification waits for more alerts", '30s')),
  group_interval: Type.Optional(
    DurationT('The least time between two notifications of a group when it changes (an alert joins or resolves)', '5m'),
  ),
};

export const NotifyRouteSchema = Type.Object(
  {
    match: Type.Optional(Type.Array(Matcher, { description: 'All must match; none: every alert' })),
    channels: Type.Array(Name('A channel under notify.channels'), { minItems: 1, uniqueItems: true }),
    repeat_interval: Type.Optional(DurationT('Send again while firing and unacknowledged; 0s: never', '4h')),
    continue: Type.Optional(Type.Boolean({ description: 'Also try the routes after this one (default false)' })),
    ...groupingFields,
  },
  { additionalProperties: false },
);

export const InhibitRuleSchema = Type.Object(
  {
    source_matchers: Type.Array(Matcher, { minItems: 1, description: 'The alert that, while firing, inhibits' }),
    target_matchers: Type.Array(Matcher, { minItems: 1, description: 'The alerts it keeps from being sent' }),
    equal: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }), {
        uniqueItems: true,
        description: 'Labels that must have the same value in both (e.g. [host]); none: any source inhibits',
      }),
    ),
  },
  { additionalProperties: false, description: "An inhibition rule, as Alertmanager's inhibit_rules" },
);

export const NotifySchema = Type.Object(
  {
    channels: Type.Optional(Names(ChannelSchema, 'Where notifications can go')),
    routes: Type.Optional(
      Type.Array(NotifyRouteSchema, { description: 'First matching route wins (unless continue); see default' }),
    ),
    default: Type.Optional(
      Type.Array(Name('A channel under notify.channels'), {
        uniqueItems: true,
        description: 'Channels for alerts that match no route (default: every channel)',
      }),
    ),
    repeat_interval: Type.Optional(DurationT('Repeat of unmatched alerts; 0s: never', '4h')),
    ...groupingFields,
    inhibit: Type.Optional(
      Type.Array(InhibitRuleSchema, {
        description: 'While a source alert fires, matching target alerts are shown as inhibited and not sent',
      }),
    ),
    external_url: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description: "Base of the acknowledge and silence links in notifications (default: the daemon's URL)",
        'x-fix': 'write the URL people reach the daemon at, e.g. http://lab.example:7070',
      }),
    ),
  },
  { additionalProperties: false, description: 'Notification channels and routing' },
);

export const ALERT_EVENTS = ['crashloop', 'unhealthy', 'deploy-failed', 'rolled-back'] as const;

export const AlertSchema = Type.Object(
  {
    check: Type.Optional(Name('Fires while this check (under checks:) is down')),
    event: Type.Optional(
      Type.Union(
        ALERT_EVENTS.map((e) => Type.Literal(e)),
        {
          description:
            'Fires on what the daemon sees: crashloop (an instance restarts in a loop), unhealthy (an instance fails readiness), deploy-failed, rolled-back (an automatic rollback)',
          'x-fix': `use one of ${ALERT_EVENTS.join(', ')}`,
        },
      ),
    ),
    expr: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "A PromQL expression over the daemon's metrics (groundwork_check_up, ...): one alert per series it returns, with that series' labels; {{ $value }} is its value",
        'x-fix': 'write an instant-vector expression such as groundwork_check_up{check="web"} == 0',
      }),
    ),
    logs: Type.Optional(
      Type.Object(
        {
          service: Name('The service (runtime process) whose log lines are watched'),
          pattern: Type.String({
            minLength: 1,
            description: 'Text a line must contain, or a regular expression written /like (this|that)/i',
            'x-fix': 'write the text to look for, e.g. ERROR, or a regular expression such as /timeout|refused/i',
          }),
          window: Type.Optional(DurationT('Matching lines are counted over this last stretch of time', '1m')),
          threshold: Type.Optional(
            Type.Integer({
              minimum: 1,
              default: 1,
              description: 'Fires while at least this many matching lines were written within the window',
              'x-fix': 'write a whole number of at least 1',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            "Fires while the service's log has at least `threshold` lines matching `pattern` within `window`; labels service and rule",
        },
      ),
    ),
    interval: Type.Optional(
      DurationT(
        'How often an expr rule is evaluated (default 5s: the metrics are in memory, and a page should take seconds)',
        '5s',
      ),
    ),
    service: Type.Optional(Name('Only this service (default: every service)')),
    for: Type.Optional(DurationT('How long the condition must hold before the alert fires', '0s')),
    keep_firing_for: Type.Optional(DurationT('How long it keeps firing after the condition stops', '0s')),
    severity: Type.Optional(
      Type.String({
        pattern: '^[a-z][a-z0-9-]*$',
        default: 'warning',
        description: 'page, critical, warning, ticket, info... (routes match on it)',
        'x-fix': 'write a lowercase word such as page or warning',
      }),
    ),
    labels: Type.Optional(Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }), Type.String())),
    summary: Type.Optional(Type.String({ description: 'One line; {{ $labels.NAME }} and {{ $value }} are filled in' })),
    description: Type.Optional(Type.String()),
    runbook: Type.Optional(Type.String({ pattern: '^https?://', 'x-fix': 'write an http(s) URL' })),
    escalation: Type.Optional(
      Name('The escalation policy (under oncall.escalation) an incident it opens follows; wins over the service’s'),
    ),
  },
  { additionalProperties: false, description: 'An alert rule' },
);

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const ClockTime = (description: string) =>
  Type.String({
    pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
    description,
    'x-fix': 'write a 24-hour time such as 02:00',
  });
const Instant = (description: string) =>
  Type.String({
    pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2})?(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$',
    description,
    'x-fix': 'write a date-time with its offset, e.g. 2026-12-24T18:00:00+01:00',
  });

export const MaintenanceSchema = Type.Object(
  {
    match: Type.Optional(Type.Array(Matcher, { description: 'Alerts it covers; none: every alert' })),
    once: Type.Optional(Type.Object({ start: Instant('Start'), end: Instant('End') }, { additionalProperties: false })),
    weekly: Type.Optional(
      Type.Object(
        {
          days: Type.Array(
            Type.Union(
              WEEKDAYS.map((d) => Type.Literal(d)),
              { 'x-fix': `use ${WEEKDAYS.join(', ')}` },
            ),
            { minItems: 1, uniqueItems: true, description: 'Days the window starts on' },
          ),
          from: ClockTime('Local start'),
          to: ClockTime('Local end; before from: the window ends the next day'),
          timezone: Type.Optional(Type.String({ description: 'IANA time zone, default UTC', default: 'UTC' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'Alerts matching are shown as in maintenance and not sent' },
);

export type ChannelConfigSection = Static<typeof ChannelSchema>;
export type NotifyConfig = Static<typeof NotifySchema>;
export type AlertConfig = Static<typeof AlertSchema>;
export type MaintenanceConfig = Static<typeof MaintenanceSchema>;
