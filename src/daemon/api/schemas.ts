/** Request and response shapes of the HTTP API; the OpenAPI document is generated from them. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { INSTANCE_STATES } from '../../core/status.js';
import { AddressSchema, JsonObjectSchema, PlanSchema } from '../../engine/plan-schema.js';
import { AuditEntrySchema } from '../../security/audit.js';
import { CHANGE_OUTCOMES, CHANGE_REQUEST_KINDS, RELEASE_STATUSES, STEP_STATUSES } from '../../store/store.js';
import { INSTANCE_EVENT_TYPES } from '../../core/events.js';
import { DNS_RECORD_TYPES } from '../../config/schema.js';
import { CERTIFICATE_SOURCES } from '../../tls/tls-settings.js';

export const ERROR_CODES = [
  'unauthorized',
  'forbidden',
  'bad-request',
  'not-found',
  'method-not-allowed',
  'conflict',
  'invalid-stack',
  'payload-too-large',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const ErrorCodeSchema = Type.Union(ERROR_CODES.map((c) => Type.Literal(c)));

/** One problem in a request body, at its JSON pointer (`/vars/x`; `` for the body itself). */
export const Problem = Type.Object({ path: Type.String(), message: Type.String() });
export type Problem = Static<typeof Problem>;

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: ErrorCodeSchema,
    message: Type.String(),
    fix: Type.Optional(Type.String()),
    /** Body validation failures: every problem found, each at its path. */
    problems: Type.Optional(Type.Array(Problem)),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** The last line of a stream whose operation failed after the stream started. */
export const StreamErrorLine = Type.Object({
  type: Type.Literal('error'),
  error: Type.Object({ code: ErrorCodeSchema, message: Type.String() }),
});
export type StreamErrorLine = Static<typeof StreamErrorLine>;

const VarEnv = Type.Record(Type.String({ pattern: '^GROUNDWORK_VAR_[A-Za-z0-9_]+$' }), Type.String(), {
  description: 'GROUNDWORK_VAR_* from the client environment',
});
const Vars = Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]*$' }), Type.String(), {
  description: 'Variable values, as with --var',
});

const Destroy = Type.Object(
  { volumes: Type.Boolean({ description: 'Also delete volumes (their data)' }) },
  { additionalProperties: false, description: 'Plan the removal of everything the stack created (groundwork destroy)' },
);

export const PlanRequest = Type.Object(
  {
    vars: Type.Optional(Vars),
    varEnv: Type.Optional(VarEnv),
    destroy: Type.Optional(Destroy),
  },
  { additionalProperties: false },
);
export type PlanRequest = Static<typeof PlanRequest>;

/** Change management (change/): carried by apply, deploy and rollback. */
const Governance = {
  request: Type.Optional(Type.Integer({ minimum: 1, description: 'An approved change request to carry out exactly' })),
  breakGlass: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'Make the change during a freeze window: the reason is audited and the approvers notified',
    }),
  ),
  decisions: Type.Optional(
    Type.Array(Type.Integer({ minimum: 1 }), {
      maxItems: 50,
      description: 'Decision records (docs/decisions/NNNN-*.md) the change implements',
    }),
  ),
};

export const ApplyRequest = Type.Object(
  {
    ...Governance,
    vars: Type.Optional(Vars),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
    parallelism: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    /** A saved plan; refused when stale. */
    plan: Type.Optional(PlanSchema),
    /** GROUNDWORK_VAR_* values from the client's environment. */
    varEnv: Type.Optional(VarEnv),
    destroy: Type.Optional(Destroy),
  },
  { additionalProperties: false },
);
export type ApplyRequest = Static<typeof ApplyRequest>;

export const DeployRequest = Type.Object(
  {
    ...Governance,
    varEnv: Type.Optional(VarEnv),
    ref: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'git ref to deploy; default: the working tree' }),
    ),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
    vars: Type.Optional(Vars),
  },
  { additionalProperties: false },
);
export type DeployRequest = Static<typeof DeployRequest>;

export const ScaleRequest = Type.Object(
  {
    replicas: Type.Integer({ minimum: 0, maximum: 64, description: 'Instances to run' }),
    vars: Type.Optional(Vars),
    varEnv: Type.Optional(VarEnv),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type ScaleRequest = Static<typeof ScaleRequest>;

export const RollbackRequest = Type.Object(
  {
    ...Governance,
    to: Type.Optional(Type.Integer({ minimum: 1, description: 'Release number (vN); default: the previous release' })),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type RollbackRequest = Static<typeof RollbackRequest>;

export const RestartRequest = Type.Object(
  { author: Type.Optional(Type.String({ maxLength: 200 })), message: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export const RefreshRequest = Type.Object(
  { author: Type.Optional(Type.String({ maxLength: 200 })), message: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export type RefreshRequest = Static<typeof RefreshRequest>;
export type RestartRequest = Static<typeof RestartRequest>;
export const DownRequest = Type.Object(
  {
    /** Also stop the daemon (default true). */
    exit: Type.Optional(Type.Boolean()),
    author: Type.Optional(Type.String({ maxLength: 200 })),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type DownRequest = Static<typeof DownRequest>;

// Query parameters (daemon/api/query.ts parses and serializes them from these). On the wire each
// is optional; a non-Optional one has a default that the parser fills in.

export const HistoryQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: 'Changes to list' }),
});
export type HistoryQuery = Static<typeof HistoryQuery>;

export const EventsQuery = Type.Object({
  service: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only this service' })),
  limit: Type.Integer({ minimum: 1, maximum: 10000, default: 100, description: 'Events to list' }),
});
export type EventsQuery = Static<typeof EventsQuery>;

export const ReleasesQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'Releases to list' }),
});
export type ReleasesQuery = Static<typeof ReleasesQuery>;

/** core/service-logs.ts `LogsQuery`. */
export const LogsQuery = Type.Object({
  instance: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Only this instance' })),
  lines: Type.Integer({ minimum: 1, maximum: 100_000, default: 200, description: 'The last N lines of each file' }),
  since: Type.Optional(
    Type.String({ minLength: 1, maxLength: 100, description: 'A duration back from now (10m) or a timestamp' }),
  ),
  until: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'Only lines written before: a duration back (5m) or a timestamp',
    }),
  ),
  follow: Type.Boolean({ default: false, description: 'Keep streaming new lines until the client leaves' }),
});
export type LogsQuery = Static<typeof LogsQuery>;

export const InstanceViewSchema = Type.Object({
  service: Type.String(),
  index: Type.Integer(),
  id: Type.Union([Type.String(), Type.Null()]),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  state: Type.Union(INSTANCE_STATES.map((s) => Type.Literal(s))),
  reason: Type.String(),
  since: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  restarts: Type.Integer(),
  ports: Type.Record(Type.String(), Type.Integer()),
  ready: Type.Boolean(),
  lastProbe: Type.Union([Type.String(), Type.Null()]),
  limits: Type.Union([Type.String(), Type.Null()]),
  logDroppedLines: Type.Union([Type.Integer(), Type.Null()]),
  lastExit: Type.Union([
    Type.Null(),
    Type.Object({
      code: Type.Union([Type.Integer(), Type.Null()]),
      signal: Type.Union([Type.String(), Type.Null()]),
      at: Type.String(),
    }),
  ]),
});

const CheckStateSchema = Type.Union([Type.Literal('pending'), Type.Literal('up'), Type.Literal('down')]);
const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
/** core/status.ts `CheckView`. */
export const CheckViewSchema = Type.Object({
  name: Type.String(),
  type: Type.String(),
  state: CheckStateSchema,
  since: nullable(Type.String()),
  lastRunAt: nullable(Type.String()),
  lastError: nullable(Type.String()),
  lastLatencyMs: nullable(Type.Number()),
  tlsDaysLeft: nullable(Type.Number()),
  lastPingAt: nullable(Type.String()),
});

/** core/status.ts `ListenerView`. */
export const ListenerViewSchema = Type.Object({
  name: Type.String(),
  protocol: Type.Union([Type.Literal('http'), Type.Literal('tcp')]),
  tls: Type.Boolean(),
  address: Type.String(),
  state: Type.Union([Type.Literal('bound'), Type.Literal('failed'), Type.Literal('not-served')]),
  error: nullable(Type.String()),
  retryAt: nullable(Type.String()),
  service: nullable(Type.String()),
});

/** core/status.ts `RouteView`. */
export const RouteViewSchema = Type.Object({
  id: Type.String(),
  host: nullable(Type.String()),
  path: Type.String(),
  listener: nullable(Type.String()),
  service: Type.String(),
  port: Type.String(),
  readyBackends: Type.Integer(),
  instances: Type.Integer(),
});

export const StatusResponse = Type.Object({
  stack: Type.String(),
  storage: Type.Object({
    stateDir: Type.String(),
    freeBytes: Type.Union([Type.Integer(), Type.Null()]),
    full: Type.Boolean(),
  }),
  daemon: Type.Union([
    Type.Null(),
    Type.Object({ pid: Type.Integer(), startedAt: Type.String(), url: Type.String(), rssBytes: Type.Integer() }),
  ]),
  serial: Type.Integer(),
  services: Type.Array(
    Type.Object({
      name: Type.String(),
      replicas: Type.Integer(),
      runtime: Type.String(),
      restart: Type.String(),
      strategy: Type.String(),
      release: Type.Union([Type.Integer(), Type.Null()]),
      standby: Type.Union([
        Type.Null(),
        Type.Object({
          release: Type.Union([Type.Integer(), Type.Null()]),
          until: Type.String(),
          instances: Type.Integer(),
        }),
      ]),
      address: Type.Union([
        Type.Null(),
        Type.Object({ host: Type.String(), ports: Type.Record(Type.String(), Type.Integer()) }),
      ]),
      instances: Type.Array(InstanceViewSchema),
    }),
  ),
  checks: Type.Array(CheckViewSchema),
  listeners: Type.Array(ListenerViewSchema),
  routes: Type.Array(RouteViewSchema),
});
export type StatusResponse = Static<typeof StatusResponse>;

// Responses. Each mirrors a type of the layer that produces it (named beside it); the API test
// checks every live answer of the daemon against its schema, so the two cannot drift silently.

export const PlanResponse = PlanSchema;
export type PlanResponse = Static<typeof PlanResponse>;

const ChangeOutcomeSchema = Type.Union(CHANGE_OUTCOMES.map((o) => Type.Literal(o)));

/** engine/apply.ts `ApplyResult`. */
export const ApplyResultSchema = Type.Object({
  changeId: Type.Integer(),
  outcome: ChangeOutcomeSchema,
  applied: Type.Array(Type.String()),
  failed: Type.Array(Type.Object({ address: Type.String(), error: Type.String() })),
  skipped: Type.Array(Type.Object({ address: Type.String(), because: Type.String() })),
  serial: Type.Integer(),
});
export type ApplyResultBody = Static<typeof ApplyResultSchema>;

/** engine/apply.ts `ApplyEvent`. */
export const ApplyEventSchema = Type.Union([
  Type.Object({
    seq: Type.Integer(),
    type: Type.Literal('recovered'),
    entries: Type.Array(Type.Object({ address: Type.String(), action: Type.String(), changeId: Type.Integer() })),
  }),
  Type.Object({
    seq: Type.Integer(),
    type: Type.Literal('change-start'),
    changeId: Type.Integer(),
    steps: Type.Integer(),
  }),
  Type.Object({ seq: Type.Integer(), type: Type.Literal('step-start'), address: Type.String(), action: Type.String() }),
  Type.Object({ seq: Type.Integer(), type: Type.Literal('progress'), address: Type.String(), message: Type.String() }),
  Type.Object({
    seq: Type.Integer(),
    type: Type.Literal('step-end'),
    address: Type.String(),
    action: Type.String(),
    status: Type.Union([Type.Literal('applied'), Type.Literal('failed'), Type.Literal('skipped')]),
    error: Type.Optional(Type.String()),
    ms: Type.Number(),
  }),
  Type.Object({ seq: Type.Integer(), type: Type.Literal('change-end'), result: ApplyResultSchema }),
]);
export type ApplyEventBody = Static<typeof ApplyEventSchema>;

/** One line of POST /v1/apply: the plan, the apply events, then the result (or an error line). */
export const ApplyLine = Type.Union([
  Type.Object({ type: Type.Literal('plan'), plan: PlanSchema }),
  ApplyEventSchema,
  Type.Object({ type: Type.Literal('result'), result: ApplyResultSchema }),
  StreamErrorLine,
]);
export type ApplyLine = Static<typeof ApplyLine>;

/** engine/refresh.ts `RefreshResult`. */
export const RefreshResponse = Type.Object({
  reports: Type.Array(
    Type.Object({
      address: Type.String(),
      status: Type.Union([
        Type.Literal('in-sync'),
        Type.Literal('changed'),
        Type.Literal('gone'),
        Type.Literal('error'),
      ]),
      drift: Type.Array(Type.String()),
    }),
  ),
  changeId: Type.Union([Type.Integer(), Type.Null()]),
  serial: Type.Integer(),
});
export type RefreshResponse = Static<typeof RefreshResponse>;

/** store/store.ts `ChangeRecord`. */
export const ChangeSchema = Type.Object({
  id: Type.Integer(),
  kind: Type.Union(
    (['apply', 'refresh', 'destroy', 'deploy', 'rollback', 'rotate'] as const).map((k) => Type.Literal(k)),
  ),
  author: Type.String(),
  message: Type.String(),
  planHash: Type.String(),
  serialBefore: Type.Integer(),
  serialAfter: Type.Union([Type.Integer(), Type.Null()]),
  summary: Type.Record(Type.String(), Type.Number()),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  outcome: ChangeOutcomeSchema,
  request: Type.Union([Type.Integer(), Type.Null()], { description: 'The approved change request it carried out' }),
  decisions: Type.Array(Type.Integer(), { description: 'Decision records (docs/decisions/NNNN-*.md) it implements' }),
  breakGlass: Type.Union([Type.String(), Type.Null()], { description: 'Why it was made during a freeze window' }),
});
export const HistoryResponse = Type.Array(ChangeSchema);
export type HistoryResponse = Static<typeof HistoryResponse>;

/** store/store.ts `JournalEntry`. */
export const JournalEntrySchema = Type.Object({
  id: Type.Integer(),
  changeId: Type.Integer(),
  address: AddressSchema,
  action: Type.String(),
  status: Type.Union(STEP_STATUSES.map((s) => Type.Literal(s))),
  error: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  serial: Type.Union([Type.Integer(), Type.Null()]),
});
export const ChangeResponse = Type.Composite([ChangeSchema, Type.Object({ steps: Type.Array(JournalEntrySchema) })]);
export type ChangeResponse = Static<typeof ChangeResponse>;

/** store/store.ts `InstanceEvent`. */
export const EventsResponse = Type.Array(
  Type.Object({
    id: Type.Integer(),
    at: Type.String(),
    address: Type.String(),
    instance: Type.String(),
    type: Type.String(),
    reason: Type.String(),
  }),
);
export type EventsResponse = Static<typeof EventsResponse>;

/** GET /v1/events/stream: core/event-stream.ts. */
export const EventStreamQuery = Type.Object({
  service: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'Only this service (and no stack-wide changes)' }),
  ),
});
const literals = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));
const Stamp = { seq: Type.Integer(), at: Type.String() };
/** core/event-stream.ts `StreamEvent`: one server-sent event's data. */
export const EventStreamLine = Type.Union([
  Type.Object({
    ...Stamp,
    type: Type.Literal('instance'),
    service: Type.String(),
    instance: Type.String(),
    state: literals(INSTANCE_EVENT_TYPES),
    reason: Type.String(),
  }),
  Type.Object({
    ...Stamp,
    type: Type.Literal('release'),
    service: Type.String(),
    release: Type.Union([Type.Integer(), Type.Null()]),
    phase: literals(['started', 'finished', 'failed', 'rolled-back'] as const),
    detail: Type.String(),
  }),
  Type.Object({
    ...Stamp,
    type: Type.Literal('progress'),
    service: Type.String(),
    operation: literals(['deploy', 'rollback', 'restart'] as const),
    message: Type.String(),
    outcome: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Null()], {
      description: "Set on the operation's last event",
    }),
  }),
  Type.Object({
    ...Stamp,
    type: Type.Literal('change'),
    changeId: Type.Union([Type.Integer(), Type.Null()]),
    kind: Type.String(),
    outcome: Type.String(),
    author: Type.String(),
  }),
  StreamErrorLine,
]);
export type EventStreamLine = Static<typeof EventStreamLine>;

/** GET /v1/network: core/network-view.ts `NetworkView`. */
export const NetworkResponse = Type.Object({
  dns: Type.Union([
    Type.Null(),
    Type.Object({
      zone: Type.String(),
      listen: Type.String(),
      records: Type.Array(
        Type.Object({
          name: Type.String(),
          type: literals(DNS_RECORD_TYPES),
          ttl: Type.Integer(),
          value: Type.String(),
          origin: literals(['declared', 'service'] as const),
        }),
      ),
      problems: Type.Array(Type.String()),
    }),
  ]),
  certificates: Type.Array(
    Type.Object({
      listener: Type.String(),
      hosts: Type.Array(Type.String()),
      source: literals(CERTIFICATE_SOURCES),
      notAfter: Type.Union([Type.String(), Type.Null()]),
      renewAt: Type.Union([Type.String(), Type.Null()]),
      error: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
export type NetworkResponse = Static<typeof NetworkResponse>;

/** store/store.ts `ReleaseRecord` (the spec snapshot holds references, never secret values). */
export const ReleaseSchema = Type.Object({
  service: Type.String(),
  seq: Type.Integer(),
  hash: Type.String(),
  status: Type.Union(RELEASE_STATUSES.map((s) => Type.Literal(s))),
  kind: Type.Union([Type.Literal('deploy'), Type.Literal('config'), Type.Literal('rollback')]),
  source: Type.String(),
  spec: JsonObjectSchema,
  dir: Type.String(),
  buildLog: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
  author: Type.String(),
  createdAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
});
export const ReleasesResponse = Type.Object({
  service: Type.String(),
  current: Type.Union([Type.Integer(), Type.Null()]),
  releases: Type.Array(ReleaseSchema),
});
export type ReleasesResponse = Static<typeof ReleasesResponse>;

/** deploy/deployer.ts `DeployResult` (deploy and rollback). */
export const DeployResultSchema = Type.Object({
  ok: Type.Boolean(),
  service: Type.String(),
  release: Type.Union([Type.Integer(), Type.Null()]),
  attempted: Type.Union([Type.Integer(), Type.Null()]),
  rolledBack: Type.Boolean(),
  changeId: Type.Union([Type.Integer(), Type.Null()]),
  reason: Type.Optional(Type.String()),
  ms: Type.Number(),
});
export type DeployResultBody = Static<typeof DeployResultSchema>;

/** One line of a deploy or rollback: progress messages, then the result (or an error line). */
export const DeployLine = Type.Union([
  Type.Object({ type: Type.Literal('progress'), message: Type.String() }),
  Type.Object({ type: Type.Literal('result'), result: DeployResultSchema }),
  StreamErrorLine,
]);
export type DeployLine = Static<typeof DeployLine>;

/** One line of a restart or down: progress messages, then `ok` (or an error line). */
export const ProgressLine = Type.Union([
  Type.Object({ type: Type.Literal('progress'), address: Type.Optional(Type.String()), message: Type.String() }),
  Type.Object({ type: Type.Literal('result'), ok: Type.Literal(true) }),
  StreamErrorLine,
]);
export type ProgressLine = Static<typeof ProgressLine>;

/** proxy/data-plane.ts `TrafficMetrics` and `DataPlaneMetrics`. */
const TrafficMetricsSchema = Type.Object({
  requests: Type.Integer(),
  status: Type.Object({
    '1xx': Type.Integer(),
    '2xx': Type.Integer(),
    '3xx': Type.Integer(),
    '4xx': Type.Integer(),
    '5xx': Type.Integer(),
    error: Type.Integer(),
  }),
  latency: Type.Object({
    bounds: Type.Array(Type.Number()),
    counts: Type.Array(Type.Integer()),
    sum: Type.Number(),
    count: Type.Integer(),
  }),
  inFlight: Type.Integer(),
});
export const ProxyMetricsResponse = Type.Object({
  routes: Type.Record(Type.String(), TrafficMetricsSchema),
  backends: Type.Record(
    Type.String(),
    Type.Composite([
      TrafficMetricsSchema,
      Type.Object({ pool: Type.String(), ejected: Type.Boolean(), draining: Type.Boolean() }),
    ]),
  ),
  listeners: Type.Record(
    Type.String(),
    Type.Object({
      connections: Type.Integer(),
      activeConnections: Type.Integer(),
      bytesIn: Type.Integer(),
      bytesOut: Type.Integer(),
    }),
  ),
});
export type ProxyMetricsResponse = Static<typeof ProxyMetricsResponse>;

/** An OpenAPI 3.1 document (its own schema is the OpenAPI specification's). */
export const OpenApiResponse = Type.Object({
  openapi: Type.String(),
  info: Type.Object({ title: Type.String(), version: Type.String() }),
  paths: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
  components: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type OpenApiResponse = Static<typeof OpenApiResponse>;

/** GET/POST /v1/push/:token: Uptime Kuma's push parameters (`status=down` reports a failure). */
export const PushQuery = Type.Object({
  status: Type.Optional(Type.String({ description: 'up (default) or down: the job reports its own failure' })),
  msg: Type.Optional(Type.String({ description: 'Why it failed (kept as the error, 200 characters at most)' })),
});
export const PushResponse = Type.Object({ ok: Type.Boolean() });

/** POST /v1/checks/:name/push-token: core `newPushToken`. */
export const PushTokenRequest = Type.Object({}, { additionalProperties: false });
export const PushTokenResponse = Type.Object({ check: Type.String(), path: Type.String() });
export type PushTokenResponse = Static<typeof PushTokenResponse>;

/** GET /v1/alerts: core `AlertsView`. */
const NullableString = Type.Union([Type.String(), Type.Null()]);
export const AlertViewSchema = Type.Object({
  rule: Type.String(),
  fingerprint: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  state: Type.String({ description: 'pending, firing or resolved' }),
  activeAt: Type.String(),
  firedAt: NullableString,
  resolvedAt: NullableString,
  value: Type.Union([Type.Number(), Type.Null()]),
  suppressedBy: Type.Union([Type.String(), Type.Null()], { description: 'silence N or maintenance NAME' }),
  ackedAt: NullableString,
  ackedBy: NullableString,
  deliveries: Type.Array(
    Type.Object({
      channel: Type.String(),
      status: Type.String({ description: 'pending, sending or delivered' }),
      attempts: Type.Integer(),
      lastError: NullableString,
      deliveredAt: NullableString,
      kind: Type.String({ description: 'firing or resolved' }),
    }),
  ),
});
export const SilenceViewSchema = Type.Object({
  id: Type.Integer(),
  matchers: Type.Array(Type.String()),
  startsAt: Type.String(),
  endsAt: Type.String(),
  author: Type.String(),
  comment: Type.String(),
  active: Type.Boolean(),
});
export const AlertsResponse = Type.Object({
  alerts: Type.Array(AlertViewSchema),
  silences: Type.Array(SilenceViewSchema),
  channelProblems: Type.Array(
    Type.Object({
      channel: Type.String(),
      problem: Type.String({ description: 'Why the channel cannot deliver, and how to fix it' }),
    }),
    { description: 'Notification channels the daemon could not build; nothing reaches them until fixed' },
  ),
});
export type AlertsResponse = Static<typeof AlertsResponse>;

/** POST /v1/alerts/:fingerprint/ack. */
export const AckAlertRequest = Type.Object(
  {
    author: Type.Optional(
      Type.String({ maxLength: 200, description: "Who acknowledges (a person's token signs with their name)" }),
    ),
  },
  { additionalProperties: false },
);
export const OkResponse = Type.Object({ ok: Type.Boolean() });
export type OkResponse = Static<typeof OkResponse>;

/** POST /v1/silences. */
export const AddSilenceRequest = Type.Object(
  {
    matchers: Type.Array(Type.String({ maxLength: 500 }), { minItems: 1, maxItems: 50 }),
    duration: Type.Optional(
      Type.String({ pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$', description: 'e.g. 2h (default 1h)' }),
    ),
    comment: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type AddSilenceRequest = Static<typeof AddSilenceRequest>;
export type SilenceViewResponse = Static<typeof SilenceViewSchema>;

/** POST /v1/silences/:id/expire. */
export const ExpireSilenceRequest = Type.Object({}, { additionalProperties: false });

/** GET /api/v1/query and /api/v1/query_range: Prometheus's HTTP API (so Grafana can use the daemon as a data source). */
export const PromInstantQuery = Type.Object({
  query: Type.Optional(Type.String({ description: 'A PromQL expression' })),
  time: Type.Optional(Type.String({ description: 'Unix seconds or RFC 3339 (default now)' })),
});
export const PromRangeQuery = Type.Object({
  query: Type.Optional(Type.String({ description: 'A PromQL expression' })),
  start: Type.Optional(Type.String({ description: 'Unix seconds or RFC 3339' })),
  end: Type.Optional(Type.String({ description: 'Unix seconds or RFC 3339' })),
  step: Type.Optional(Type.String({ description: 'Seconds or a duration such as 15s' })),
});
export const PromResponse = Type.Object({
  status: Type.String({ description: 'success or error' }),
  data: Type.Optional(Type.Unknown()),
  errorType: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
});
export type PromResponse = Static<typeof PromResponse>;

/** Incidents and on-call (src/core/incidents-view.ts). */
export const IncidentSchema = Type.Object({
  id: Type.Integer(),
  key: Type.String({ description: 'service:NAME, or alert:RULE for alerts without a service' }),
  title: Type.String(),
  severity: Type.String(),
  service: NullableString,
  status: Type.String({ description: 'triggered, acknowledged or resolved' }),
  createdAt: Type.String(),
  ackedAt: NullableString,
  ackedBy: NullableString,
  resolvedAt: NullableString,
  resolvedBy: NullableString,
  assignee: NullableString,
  policy: NullableString,
  step: Type.Integer({ description: 'The escalation step being paged (0-based)' }),
  loop: Type.Integer(),
  stepStartedAt: Type.String(),
});
export const IncidentsQuery = Type.Object({
  status: Type.Optional(
    Type.String({ pattern: '^(triggered|acknowledged|resolved)$', description: 'triggered, acknowledged or resolved' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many (default 50)' })),
});
export const IncidentsResponse = Type.Object({ incidents: Type.Array(IncidentSchema) });
export type IncidentsResponse = Static<typeof IncidentsResponse>;
/** One timeline event (store.ts `IncidentEvent`). */
export const IncidentEventSchema = Type.Object({
  id: Type.Integer(),
  incidentId: Type.Integer(),
  at: Type.String(),
  kind: Type.String(),
  actor: Type.String(),
  text: Type.String(),
});
/** An action item of a postmortem (store.ts `ActionItem`): shown with its incident and returned alone. */
export const ActionItemSchema = Type.Object({
  id: Type.Integer(),
  incidentId: Type.Integer(),
  text: Type.String(),
  owner: Type.String(),
  due: NullableString,
  done: Type.Boolean(),
});
export type ActionItemResponse = Static<typeof ActionItemSchema>;
export const IncidentDetailResponse = Type.Object({
  incident: IncidentSchema,
  policyReason: Type.Union([Type.String(), Type.Null()], {
    description:
      'Which escalation policy the incident follows and why (its alert rule’s, its service’s, or the default)',
  }),
  timeline: Type.Array(IncidentEventSchema),
  actionItems: Type.Array(ActionItemSchema),
});
export type IncidentDetailResponse = Static<typeof IncidentDetailResponse>;
export const IncidentActionRequest = Type.Object(
  {
    action: Type.Union([Type.Literal('ack'), Type.Literal('resolve'), Type.Literal('note'), Type.Literal('assign')]),
    text: Type.Optional(Type.String({ maxLength: 4000, description: 'The note, or the person to assign' })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export const IncidentResponse = Type.Object({ incident: IncidentSchema });
export type IncidentResponse = Static<typeof IncidentResponse>;
export const IncidentLinkQuery = Type.Object({
  sig: Type.Optional(Type.String({ maxLength: 64, description: 'The signature from the page' })),
  confirm: Type.Optional(
    Type.String({
      maxLength: 8,
      description:
        'Ignored (links of earlier versions carried confirm=yes): a GET never changes anything; POST to the same address to act',
    }),
  ),
});
export const IncidentLinkResponse = Type.Object({
  incident: Type.Pick(IncidentSchema, ['id', 'status', 'title']),
  done: Type.Boolean({ description: 'false: nothing changed yet; POST to `confirm` to do it' }),
  confirm: Type.Optional(Type.String({ description: 'The signed address to POST to' })),
  message: Type.String(),
});
export type IncidentLinkResponse = Static<typeof IncidentLinkResponse>;
export const PostmortemResponse = Type.Object({ markdown: Type.String() });
export type PostmortemResponse = Static<typeof PostmortemResponse>;
export const OverrideSchema = Type.Object({
  id: Type.Integer(),
  schedule: Type.String(),
  who: Type.String(),
  from: Type.String(),
  to: Type.String(),
  reason: Type.String(),
  author: Type.String(),
  createdAt: Type.String(),
});
export type OverrideResponse = Static<typeof OverrideSchema>;
export const OncallQuerySchema = Type.Object({
  at: Type.Optional(Type.String({ description: 'An ISO time (default now)' })),
  schedule: Type.Optional(Type.String({ maxLength: 63 })),
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, description: 'Shifts for this many days (default 7)' })),
});
/** GET /v1/oncall/:schedule/ics: how far ahead the calendar file reaches. */
export const OncallIcsQuery = Type.Object({
  days: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 366, description: 'Shifts for this many days (default 90)' }),
  ),
});
export const OncallResponse = Type.Object({
  at: Type.String(),
  until: Type.String(),
  schedules: Type.Array(
    Type.Object({
      name: Type.String(),
      timezone: Type.String(),
      now: Type.Union([Type.Object({ who: Type.String(), source: Type.String() }), Type.Null()]),
      nowSince: Type.Optional(
        Type.String({ description: 'When the shift under way at `at` began (absent when nobody is on call)' }),
      ),
      shifts: Type.Array(
        Type.Object({ who: Type.String(), from: Type.String(), to: Type.String(), source: Type.String() }),
      ),
    }),
  ),
  overrides: Type.Array(OverrideSchema),
});
export type OncallResponse = Static<typeof OncallResponse>;
export const AddOverrideRequest = Type.Object(
  {
    schedule: Type.String({ maxLength: 63 }),
    who: Type.String({ maxLength: 63 }),
    from: Type.String({ maxLength: 64 }),
    to: Type.String({ maxLength: 64 }),
    reason: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export const RemoveOverrideRequest = Type.Object({}, { additionalProperties: false });
export const IncidentStatsResponse = Type.Object({
  stats: Type.Array(
    Type.Object({
      service: Type.String(),
      month: Type.String({ description: 'YYYY-MM of the incidents’ start' }),
      incidents: Type.Integer(),
      acknowledged: Type.Integer(),
      resolved: Type.Integer(),
      mttaSeconds: Type.Union([Type.Number(), Type.Null()]),
      mttrSeconds: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});
export type IncidentStatsResponse = Static<typeof IncidentStatsResponse>;
export const AddActionItemRequest = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 2000 }),
    owner: Type.String({ minLength: 1, maxLength: 63 }),
    due: Type.Optional(Type.String({ maxLength: 64, description: 'A date such as 2026-12-31' })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export const SetActionItemRequest = Type.Object(
  { done: Type.Boolean(), author: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
/** change/change-requests.ts `ChangeRequestView`. */
export const ChangeRequestSchema = Type.Object({
  id: Type.Integer(),
  kind: Type.Union(CHANGE_REQUEST_KINDS.map((k) => Type.Literal(k))),
  service: Type.Union([Type.String(), Type.Null()]),
  /** Exactly what is approved: a plan, or a deploy or rollback with the state it was made against. */
  subject: JsonObjectSchema,
  hash: Type.String({ description: 'SHA-256 of the subject: what approvers sign' }),
  author: Type.String(),
  message: Type.String(),
  decisions: Type.Array(Type.Integer()),
  createdAt: Type.String(),
  appliedChange: Type.Union([Type.Integer(), Type.Null()], { description: 'The change that carried it out' }),
  approvals: Type.Array(Type.Object({ by: Type.String(), at: Type.String(), comment: Type.String() })),
  required: Type.Integer({ description: 'Approvals the policy asks now' }),
  approvedBy: Type.Array(Type.String(), { description: 'Approvals that count (not the author, a role that approves)' }),
  refusal: Type.Union([Type.Object({ by: Type.String(), at: Type.String(), reason: Type.String() }), Type.Null()], {
    description: 'Who rejected it (or withdrew it, when its author) and why; a refused request is never carried out',
  }),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('approved'),
    Type.Literal('applied'),
    Type.Literal('refused'),
  ]),
});
export type ChangeRequestResponse = Static<typeof ChangeRequestSchema>;
export const ChangeRequestsResponse = Type.Array(ChangeRequestSchema);
export type ChangeRequestsResponse = Static<typeof ChangeRequestsResponse>;

/** change/decisions.ts `DecisionRecord`: one decision record under docs/decisions/ of the stack. */
export const DecisionSchema = Type.Object({
  number: Type.Integer({ minimum: 1 }),
  title: Type.String(),
  status: Type.String({ description: 'The Status: line of the record (proposed, accepted, superseded by 0007, ...)' }),
  file: Type.String({ description: "Relative to the stack's directory, e.g. docs/decisions/0003-use-sqlite.md" }),
});
export const DecisionsResponse = Type.Array(DecisionSchema);
export type DecisionsResponse = Static<typeof DecisionsResponse>;
export const DecisionResponse = Type.Object({
  ...DecisionSchema.properties,
  markdown: Type.String({ description: 'The whole record, as written (Markdown)' }),
});
export type DecisionResponse = Static<typeof DecisionResponse>;

export const ChangeRequestsQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: 'Change requests to list' }),
});
export type ChangeRequestsQuery = Static<typeof ChangeRequestsQuery>;

const RequestCommon = {
  message: Type.Optional(Type.String({ maxLength: 2000 })),
  author: Type.Optional(Type.String({ maxLength: 200 })),
  decisions: Governance.decisions,
  vars: Type.Optional(Vars),
  varEnv: Type.Optional(VarEnv),
};

/** POST /v1/change-requests: an apply to approve (a saved plan, or the plan of the stack file now). */
export const ApplyChangeRequest = Type.Object(
  { ...RequestCommon, plan: Type.Optional(PlanSchema) },
  { additionalProperties: false },
);
export type ApplyChangeRequest = Static<typeof ApplyChangeRequest>;

/** POST /v1/services/:name/change-requests: a deploy or rollback of the service to approve. */
export const ServiceChangeRequest = Type.Object(
  {
    ...RequestCommon,
    kind: Type.Union([Type.Literal('deploy'), Type.Literal('rollback')]),
    ref: DeployRequest.properties.ref,
    to: RollbackRequest.properties.to,
  },
  { additionalProperties: false },
);
export type ServiceChangeRequest = Static<typeof ServiceChangeRequest>;

export const ApproveChangeRequest = Type.Object(
  {
    author: Type.Optional(
      Type.String({ maxLength: 200, description: "Who approves (a person's token signs with their name)" }),
    ),
    message: Type.Optional(Type.String({ maxLength: 2000, description: 'A comment kept with the approval' })),
  },
  { additionalProperties: false },
);
export type ApproveChangeRequest = Static<typeof ApproveChangeRequest>;

/** POST /v1/change-requests/:id/reject and …/withdraw: a refusal always says why. */
export const RejectChangeRequest = Type.Object(
  {
    author: Type.Optional(
      Type.String({ maxLength: 200, description: "Who refuses (a person's token signs with their name)" }),
    ),
    reason: Type.String({ minLength: 1, maxLength: 2000, description: 'Why it is refused: shown with the request' }),
  },
  { additionalProperties: false },
);
export type RejectChangeRequest = Static<typeof RejectChangeRequest>;

/** GET /v1/whoami: the caller as authenticated (security/tokens.ts `Caller`), so a page can hide what it may not do. */
export const WhoamiResponse = Type.Object({
  tokenId: Type.String({ description: "The token's id (`admin` for the daemon's own)" }),
  user: Type.Union([Type.String(), Type.Null()]),
  role: Type.String(),
  permissions: Type.Array(Type.String(), { description: 'What the token may do (security/permissions.ts)' }),
  services: Type.Union([Type.Array(Type.String()), Type.Null()], {
    description: 'The services it may touch; null: every service, and stack-wide operations',
  }),
});
export type WhoamiResponse = Static<typeof WhoamiResponse>;

/** security/tokens.ts `TokenView`: a token as listed, never its hash. */
export const TokenViewSchema = Type.Object({
  id: Type.String(),
  role: Type.String(),
  services: Type.Union([Type.Array(Type.String()), Type.Null()]),
  user: Type.Union([Type.String(), Type.Null()]),
  label: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
});
export const TokensResponse = Type.Array(TokenViewSchema);
export type TokensResponse = Static<typeof TokensResponse>;
export type TokenViewResponse = Static<typeof TokenViewSchema>;
export const RevokeTokenRequest = Type.Object({}, { additionalProperties: false });
export type RevokeTokenRequest = Static<typeof RevokeTokenRequest>;

/** security/audit.ts `AuditRecord`: an entry with its number, time and chain. */
export const AuditRecordSchema = Type.Composite([
  Type.Object({ seq: Type.Integer(), at: Type.String(), prevHash: Type.String(), hash: Type.String() }),
  AuditEntrySchema,
]);
export const AuditResponse = Type.Array(AuditRecordSchema);
export type AuditResponse = Static<typeof AuditResponse>;
export const AuditQuery = Type.Object({
  after: Type.Integer({ minimum: 0, default: 0, description: 'Entries after this number (for paging and export)' }),
  limit: Type.Integer({ minimum: 1, maximum: 10000, default: 1000, description: 'Entries to list' }),
});
export type AuditQuery = Static<typeof AuditQuery>;

/** security/audit.ts `AuditVerification`: the chain recomputed, every problem naming its entry. */
const AuditProblemSchema = Type.Object({
  seq: Type.Integer({ description: 'The entry it concerns (for a missing tail: the first missing number)' }),
  kind: Type.Union([
    Type.Literal('edited'),
    Type.Literal('broken-chain'),
    Type.Literal('missing'),
    Type.Literal('unreadable'),
  ]),
  message: Type.String(),
});
export const AuditVerifyResponse = Type.Object({
  ok: Type.Boolean({ description: 'Whether every entry matches its hash and chains on the one before' }),
  entries: Type.Integer(),
  head: Type.Optional(
    Type.Object(
      { seq: Type.Integer(), hash: Type.String() },
      { description: 'The newest entry as recorded at its append' },
    ),
  ),
  problems: Type.Array(AuditProblemSchema, { description: 'In log order: the first is where the chain breaks' }),
});
export type AuditVerifyResponse = Static<typeof AuditVerifyResponse>;
