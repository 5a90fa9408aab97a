/**
 * The API's routes as declarations without handlers: method, path, summary, and the schemas of
 * body, answer and stream lines. The daemon implements each with
 * `route({ ...API.status, handler })` (which types the handler from it), the client calls each
 * by the same entry, and the API test checks the daemon's live answers against the same schemas.
 */
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import type { RouteMethod } from './route.js';
import {
  ApplyLine,
  ApplyRequest,
  ChangeResponse,
  DeployLine,
  DeployRequest,
  DownRequest,
  EventsQuery,
  EventsResponse,
  HistoryQuery,
  HistoryResponse,
  LogsQuery,
  OpenApiResponse,
  PlanRequest,
  PlanResponse,
  ProgressLine,
  ProxyMetricsResponse,
  PushQuery,
  PushResponse,
  PushTokenRequest,
  PushTokenResponse,
  AlertsResponse,
  PromInstantQuery,
  PromRangeQuery,
  PromResponse,
  AckAlertRequest,
  OkResponse,
  AddSilenceRequest,
  SilenceViewSchema,
  ExpireSilenceRequest,
  RefreshRequest,
  RefreshResponse,
  ReleasesQuery,
  ReleasesResponse,
  RestartRequest,
  RollbackRequest,
  ScaleRequest,
  StatusResponse,
  ApplyChangeRequest,
  ApproveChangeRequest,
  ChangeRequestSchema,
  ChangeRequestsQuery,
  ChangeRequestsResponse,
  ServiceChangeRequest,
  AuditQuery,
  AuditResponse,
  RevokeTokenRequest,
  TokenViewSchema,
  TokensResponse,
} from './schemas.js';

export interface RouteSpec {
  method: RouteMethod;
  path: string;
  summary: string;
  body?: TSchema;
  /** Query parameters (daemon/api/query.ts): parsed for the handler, serialized by the client. */
  query?: TObject;
  response?: TSchema;
  streams?: 'ndjson' | 'text';
  line?: TSchema;
  /** Needs no bearer token (push pings: the token in the path is the credential). */
  public?: boolean;
}

export const API = {
  status: {
    method: 'GET',
    path: '/v1/status',
    summary: 'Services and instances with state, pid, uptime, restarts, health, ports',
    response: StatusResponse,
  },
  plan: {
    method: 'POST',
    path: '/v1/plan',
    summary: 'Plan the stack file against recorded state',
    body: PlanRequest,
    response: PlanResponse,
  },
  apply: {
    method: 'POST',
    path: '/v1/apply',
    summary: 'Apply the stack file (or a saved plan); streams apply events',
    body: ApplyRequest,
    streams: 'ndjson',
    line: ApplyLine,
  },
  refresh: {
    method: 'POST',
    path: '/v1/refresh',
    summary: 'Read the world and record drift',
    body: RefreshRequest,
    response: RefreshResponse,
  },
  history: {
    method: 'GET',
    path: '/v1/history',
    summary: 'Recorded changes, newest first',
    query: HistoryQuery,
    response: HistoryResponse,
  },
  change: {
    method: 'GET',
    path: '/v1/changes/:id',
    summary: 'One change with its journal',
    response: ChangeResponse,
  },
  events: {
    method: 'GET',
    path: '/v1/events',
    summary: 'Instance events: state changes, exits, restarts',
    query: EventsQuery,
    response: EventsResponse,
  },
  logs: {
    method: 'GET',
    path: '/v1/services/:name/logs',
    summary: 'Logs of a service',
    query: LogsQuery,
    streams: 'text',
  },
  restart: {
    method: 'POST',
    path: '/v1/services/:name/restart',
    summary: 'Restart a service one instance at a time',
    body: RestartRequest,
    streams: 'ndjson',
    line: ProgressLine,
  },
  scale: {
    method: 'POST',
    path: '/v1/services/:name/scale',
    summary: 'Run N instances of a service (a journaled change of its recorded replicas); streams apply events',
    body: ScaleRequest,
    streams: 'ndjson',
    line: ApplyLine,
  },
  down: {
    method: 'POST',
    path: '/v1/down',
    summary: 'Stop every service (and the daemon unless exit is false)',
    body: DownRequest,
    streams: 'ndjson',
    line: ProgressLine,
  },
  deploy: {
    method: 'POST',
    path: '/v1/services/:name/deploy',
    summary: 'Build a release (git ref or working tree) and roll it out; streams progress',
    body: DeployRequest,
    streams: 'ndjson',
    line: DeployLine,
  },
  rollback: {
    method: 'POST',
    path: '/v1/services/:name/rollback',
    summary: 'Roll back to the previous release (or `to`): code and config; streams progress',
    body: RollbackRequest,
    streams: 'ndjson',
    line: DeployLine,
  },
  releases: {
    method: 'GET',
    path: '/v1/services/:name/releases',
    summary: 'Releases of a service, newest first',
    query: ReleasesQuery,
    response: ReleasesResponse,
  },
  proxyMetrics: {
    method: 'GET',
    path: '/v1/proxy/metrics',
    summary: 'Per-route and per-backend traffic metrics of the built-in proxy',
    response: ProxyMetricsResponse,
  },
  push: {
    method: 'GET',
    path: '/v1/push/:token',
    summary: "A push check's heartbeat; needs no API token, only the check's (an unknown one is a 404)",
    query: PushQuery,
    response: PushResponse,
    public: true,
  },
  pushPost: {
    method: 'POST',
    path: '/v1/push/:token',
    summary: "A push check's heartbeat (POST, any body, which is ignored); as GET",
    body: Type.Unknown(),
    query: PushQuery,
    response: PushResponse,
    public: true,
  },
  pushToken: {
    method: 'POST',
    path: '/v1/checks/:name/push-token',
    summary: 'A new token for a push check (the old one stops working); the path is in this answer only',
    body: PushTokenRequest,
    response: PushTokenResponse,
  },
  promQuery: {
    method: 'GET',
    path: '/api/v1/query',
    summary: "PromQL at one instant, in Prometheus's HTTP API shape (a Grafana Prometheus data source works)",
    query: PromInstantQuery,
    response: PromResponse,
  },
  promQueryRange: {
    method: 'GET',
    path: '/api/v1/query_range',
    summary: "PromQL over a range, in Prometheus's HTTP API shape",
    query: PromRangeQuery,
    response: PromResponse,
  },
  alerts: {
    method: 'GET',
    path: '/v1/alerts',
    summary: 'Firing, pending and recently resolved alerts, with who was told; silences in force or to come',
    response: AlertsResponse,
  },
  ackAlert: {
    method: 'POST',
    path: '/v1/alerts/:fingerprint/ack',
    summary: 'Acknowledges a firing alert: its repeats stop',
    body: AckAlertRequest,
    response: OkResponse,
  },
  addSilence: {
    method: 'POST',
    path: '/v1/silences',
    summary: 'Silences alerts matching every matcher, from now for the duration',
    body: AddSilenceRequest,
    response: SilenceViewSchema,
  },
  expireSilence: {
    method: 'POST',
    path: '/v1/silences/:id/expire',
    summary: 'Ends a silence now',
    body: ExpireSilenceRequest,
    response: OkResponse,
  },
  requestApply: {
    method: 'POST',
    path: '/v1/change-requests',
    summary: 'Writes an apply down for approval (a saved plan, or the plan of the stack file now)',
    body: ApplyChangeRequest,
    response: ChangeRequestSchema,
  },
  requestServiceChange: {
    method: 'POST',
    path: '/v1/services/:name/change-requests',
    summary: 'Writes a deploy or rollback of the service down for approval',
    body: ServiceChangeRequest,
    response: ChangeRequestSchema,
  },
  approveChange: {
    method: 'POST',
    path: '/v1/change-requests/:id/approve',
    summary: "Approves a change request (as the token's person; never the request's own author)",
    body: ApproveChangeRequest,
    response: ChangeRequestSchema,
  },
  changeRequests: {
    method: 'GET',
    path: '/v1/change-requests',
    summary: 'Change requests, newest first, with their approvals and status',
    query: ChangeRequestsQuery,
    response: ChangeRequestsResponse,
  },
  changeRequest: {
    method: 'GET',
    path: '/v1/change-requests/:id',
    summary: 'One change request with what it approves (its subject and hash)',
    response: ChangeRequestSchema,
  },
  tokens: {
    method: 'GET',
    path: '/v1/tokens',
    summary: 'API tokens: ids, roles, services, people, states (never the tokens or their hashes)',
    response: TokensResponse,
  },
  revokeToken: {
    method: 'POST',
    path: '/v1/tokens/:id/revoke',
    summary: 'Revokes a token: refused from the next request',
    body: RevokeTokenRequest,
    response: TokenViewSchema,
  },
  audit: {
    method: 'GET',
    path: '/v1/audit',
    summary: 'The hash-chained audit log, oldest first, from `after` (page through it to export it)',
    query: AuditQuery,
    response: AuditResponse,
  },
  openapi: {
    method: 'GET',
    path: '/v1/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    response: OpenApiResponse,
  },
} as const satisfies Record<string, RouteSpec>;

export type ApiName = keyof typeof API;
