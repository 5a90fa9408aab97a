/**
 * A typed client of the daemon API over node:http: one method per route, request and response
 * types `Static<>` of the schemas in schemas.ts (the ones /v1/openapi.json is made of). Used by
 * the CLI and the tests; knows nothing of either. Answers are typed, not re-validated: the API
 * test checks the daemon's real answers against the same schemas.
 */
import http from 'node:http';
import type { Static } from '@sinclair/typebox';
import type { ApiResponse as PromApiBody } from '../../observe/promql/engine.js';
import { API, type RouteSpec } from './contract.js';
import { queryCodec } from './query.js';
import type {
  ApplyLine,
  ApplyRequest,
  ChangeResponse,
  DeployLine,
  DeployRequest,
  DownRequest,
  ErrorBody,
  ErrorCode,
  EventsQuery,
  EventsResponse,
  HistoryQuery,
  HistoryResponse,
  LogsQuery,
  OpenApiResponse,
  WhoamiResponse,
  PlanRequest,
  PlanResponse,
  Problem,
  ProgressLine,
  ProxyMetricsResponse,
  PushTokenResponse,
  AlertsResponse,
  OkResponse,
  AddSilenceRequest,
  SilenceViewResponse,
  RefreshRequest,
  RefreshResponse,
  ReleasesQuery,
  ReleasesResponse,
  RestartRequest,
  RollbackRequest,
  ScaleRequest,
  StatusResponse,
  IncidentsQuery,
  IncidentsResponse,
  IncidentDetailResponse,
  IncidentResponse,
  PostmortemResponse,
  OncallResponse,
  OverrideResponse,
  IncidentLinkResponse,
  IncidentStatsResponse,
  ActionItemResponse,
  ApplyChangeRequest,
  ApproveChangeRequest,
  RejectChangeRequest,
  ChangeRequestResponse,
  ChangeRequestsQuery,
  ChangeRequestsResponse,
  DecisionsResponse,
  DecisionResponse,
  ServiceChangeRequest,
} from './schemas.js';

// The shapes a caller of the client handles (answers, stream lines, error codes), so that it needs
// this module only.
export type { ApplyLine, DeployLine, ErrorCode, ProgressLine, StreamErrorLine } from './schemas.js';

/** The daemon answered with an error status (its `{ error }` body, when it sent one). */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | undefined,
    message: string,
    readonly fix?: string,
    readonly problems?: Problem[],
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** No answer at all: the daemon is not running, or not at that address. */
export class ApiConnectionError extends Error {
  constructor(
    readonly url: string,
    override readonly cause: Error,
  ) {
    super(`cannot reach the daemon at ${url}: ${cause.message}`);
    this.name = 'ApiConnectionError';
  }
}

export type Method = 'GET' | 'POST';

export interface Endpoint {
  /** Base URL of the daemon, e.g. `http://127.0.0.1:4000`. */
  url: string;
  token: string;
}

export interface CallOptions {
  /** Aborting ends the request (and a follow stream, on the daemon's side too). */
  signal?: AbortSignal;
}

/** One request; `onData` gets the decoded body chunks with the status. Resolves with the status at the end. */
function send(
  to: Endpoint,
  method: Method,
  path: string,
  body: unknown,
  onData: (chunk: string, status: number) => void,
  opts: CallOptions = {},
): Promise<number> {
  const url = new URL(path, to.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        // One connection per request: a follow stream ends with its connection.
        agent: false,
        ...(opts.signal ? { signal: opts.signal } : {}),
        headers: {
          authorization: `Bearer ${to.token}`,
          // Routes that can also answer a browser (the signed incident links) answer JSON to this.
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => onData(c, res.statusCode ?? 0));
        res.on('end', () => resolve(res.statusCode ?? 0));
        // An abort after the answer started: the stream just ends, as the caller asked.
        res.on('error', (e) => (opts.signal?.aborted ? resolve(res.statusCode ?? 0) : reject(e)));
      },
    );
    req.on('error', (e) => {
      if (opts.signal?.aborted) resolve(0);
      else reject(new ApiConnectionError(to.url, e));
    });
    if (payload) req.write(payload);
    req.end();
  });
}

function errorOf(status: number, text: string): ApiRequestError {
  let body: Partial<ErrorBody> = {};
  try {
    body = JSON.parse(text) as Partial<ErrorBody>;
  } catch {
    /* not JSON: an answer from something else than the daemon's API */
  }
  const e = body.error;
  return new ApiRequestError(status, e?.code, e?.message ?? `the daemon answered HTTP ${status}`, e?.fix, e?.problems);
}

/** A JSON request; throws ApiRequestError on a non-200 answer. `T` is the route's response type. */
async function requestJson<T>(to: Endpoint, method: Method, path: string, body?: unknown): Promise<T> {
  let text = '';
  const status = await send(to, method, path, body, (c) => {
    text += c;
  });
  if (status !== 200) throw errorOf(status, text);
  return JSON.parse(text) as T;
}

/** A streaming request: `onLine` gets each line without its newline; throws on a non-200 answer. */
async function requestLines(
  to: Endpoint,
  method: Method,
  path: string,
  body: unknown,
  onLine: (line: string) => void,
  opts: CallOptions = {},
): Promise<void> {
  let buf = '';
  let errText = '';
  const status = await send(
    to,
    method,
    path,
    body,
    (c, st) => {
      if (st !== 200) {
        errText += c;
        return;
      }
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onLine(line);
      }
    },
    opts,
  );
  if (status !== 200 && status !== 0) throw errorOf(status, errText);
  if (buf) onLine(buf);
}

/** NDJSON: each line parsed as `T` (the route's line type, which includes the `error` line). */
function requestNdjson<T>(to: Endpoint, path: string, body: unknown, onLine: (line: T) => void): Promise<void> {
  return requestLines(to, 'POST', path, body, (l) => {
    if (l.trim() !== '') onLine(JSON.parse(l) as T);
  });
}

// The same codecs the daemon parses with: one definition of each route's parameters.
const HISTORY_QUERY = queryCodec(API.history.query);
const EVENTS_QUERY = queryCodec(API.events.query);
const RELEASES_QUERY = queryCodec(API.releases.query);
const PROM_QUERY = queryCodec(API.promQuery.query);
const PROM_RANGE_QUERY = queryCodec(API.promQueryRange.query);
const LOGS_QUERY = queryCodec(API.logs.query);
const INCIDENTS_QUERY = queryCodec(API.incidents.query);
const ONCALL_QUERY = queryCodec(API.oncall.query);
const LINK_QUERY = queryCodec(API.incidentAckLink.query);
const CHANGE_REQUESTS_QUERY = queryCodec(API.changeRequests.query);

/** The path of a contract entry with its `:params` filled in (encoded). */
function pathOf(spec: RouteSpec, params: Record<string, string | number> = {}): string {
  return spec.path.replace(/:([a-z]+)/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`${spec.method} ${spec.path}: no value for :${k}`);
    return encodeURIComponent(String(v));
  });
}

/** The logs route's parameters (all optional: the daemon fills in the defaults) and the call's signal. */
export type LogsOptions = Partial<LogsQuery> & CallOptions;

export class ApiClient {
  private readonly to: Endpoint;

  constructor(url: string, token: string) {
    this.to = { url, token };
  }

  get url(): string {
    return this.to.url;
  }

  status(): Promise<StatusResponse> {
    return requestJson(this.to, 'GET', pathOf(API.status));
  }

  plan(body: PlanRequest = {}): Promise<PlanResponse> {
    return requestJson(this.to, 'POST', pathOf(API.plan), body);
  }

  /** The plan, the apply events, then a `result` line (or an `error` line). */
  apply(body: ApplyRequest, onLine: (line: ApplyLine) => void): Promise<void> {
    return requestNdjson(this.to, pathOf(API.apply), body, onLine);
  }

  refresh(body: RefreshRequest = {}): Promise<RefreshResponse> {
    return requestJson(this.to, 'POST', pathOf(API.refresh), body);
  }

  history(opts: Partial<HistoryQuery> = {}): Promise<HistoryResponse> {
    return requestJson(this.to, 'GET', `${pathOf(API.history)}${HISTORY_QUERY.serialize(opts)}`);
  }

  change(id: number): Promise<ChangeResponse> {
    return requestJson(this.to, 'GET', pathOf(API.change, { id }));
  }

  events(opts: Partial<EventsQuery> = {}): Promise<EventsResponse> {
    return requestJson(this.to, 'GET', `${pathOf(API.events)}${EVENTS_QUERY.serialize(opts)}`);
  }

  /** Log lines (without their newline) as they come; with `follow`, until `signal` aborts. */
  logs(name: string, opts: LogsOptions, onLine: (line: string) => void): Promise<void> {
    const { signal, ...q } = opts;
    return requestLines(
      this.to,
      'GET',
      `${pathOf(API.logs, { name })}${LOGS_QUERY.serialize(q)}`,
      undefined,
      onLine,
      signal ? { signal } : {},
    );
  }

  restart(name: string, body: RestartRequest, onLine: (line: ProgressLine) => void): Promise<void> {
    return requestNdjson(this.to, pathOf(API.restart, { name }), body, onLine);
  }

  /** Like apply: the plan, the apply events, then a `result` line (or an `error` line). */
  scale(name: string, body: ScaleRequest, onLine: (line: ApplyLine) => void): Promise<void> {
    return requestNdjson(this.to, pathOf(API.scale, { name }), body, onLine);
  }

  /** Stops every service, and the daemon too unless `exit` is false. */
  down(body: DownRequest, onLine: (line: ProgressLine) => void): Promise<void> {
    return requestNdjson(this.to, pathOf(API.down), body, onLine);
  }

  deploy(name: string, body: DeployRequest, onLine: (line: DeployLine) => void): Promise<void> {
    return requestNdjson(this.to, pathOf(API.deploy, { name }), body, onLine);
  }

  rollback(name: string, body: RollbackRequest, onLine: (line: DeployLine) => void): Promise<void> {
    return requestNdjson(this.to, pathOf(API.rollback, { name }), body, onLine);
  }

  releases(name: string, opts: Partial<ReleasesQuery> = {}): Promise<ReleasesResponse> {
    return requestJson(this.to, 'GET', `${pathOf(API.releases, { name })}${RELEASES_QUERY.serialize(opts)}`);
  }

  /** Prometheus's answer as it is, error statuses (400, 422) included: its body says why. */
  async promQuery(
    kind: 'query' | 'query_range',
    params: Record<string, string | undefined>,
  ): Promise<{ status: number; body: PromApiBody }> {
    const path =
      kind === 'query'
        ? `${pathOf(API.promQuery)}${PROM_QUERY.serialize(params)}`
        : `${pathOf(API.promQueryRange)}${PROM_RANGE_QUERY.serialize(params)}`;
    let text = '';
    const status = await send(this.to, 'GET', path, undefined, (c) => {
      text += c;
    });
    if (status !== 200 && status !== 400 && status !== 422) throw errorOf(status, text);
    return { status, body: JSON.parse(text) as PromApiBody };
  }

  alerts(): Promise<AlertsResponse> {
    return requestJson(this.to, 'GET', pathOf(API.alerts));
  }

  ackAlert(fingerprint: string, author?: string): Promise<OkResponse> {
    return requestJson(this.to, 'POST', pathOf(API.ackAlert, { fingerprint }), author === undefined ? {} : { author });
  }

  addSilence(body: AddSilenceRequest): Promise<SilenceViewResponse> {
    return requestJson(this.to, 'POST', pathOf(API.addSilence), body);
  }

  expireSilence(id: number): Promise<OkResponse> {
    return requestJson(this.to, 'POST', pathOf(API.expireSilence, { id }), {});
  }

  incidents(q: Partial<Static<typeof IncidentsQuery>> = {}): Promise<IncidentsResponse> {
    return requestJson(this.to, 'GET', `${pathOf(API.incidents)}${INCIDENTS_QUERY.serialize(q)}`);
  }

  incident(id: number): Promise<IncidentDetailResponse> {
    return requestJson(this.to, 'GET', pathOf(API.incident, { id }));
  }

  incidentAction(
    id: number,
    body: { action: 'ack' | 'resolve' | 'note' | 'assign'; text?: string; author?: string },
  ): Promise<IncidentResponse> {
    return requestJson(this.to, 'POST', pathOf(API.incidentAction, { id }), body);
  }

  incidentLink(id: number, action: 'ack' | 'resolve', sig: string, confirmed: boolean): Promise<IncidentLinkResponse> {
    // Only the POST acts; the GET says what it would do.
    const q = LINK_QUERY.serialize({ sig });
    if (confirmed) {
      const spec = action === 'ack' ? API.incidentAckConfirm : API.incidentResolveConfirm;
      return requestJson(this.to, 'POST', `${pathOf(spec, { id })}${q}`, {});
    }
    const spec = action === 'ack' ? API.incidentAckLink : API.incidentResolveLink;
    return requestJson(this.to, 'GET', `${pathOf(spec, { id })}${q}`);
  }

  incidentStats(): Promise<IncidentStatsResponse> {
    return requestJson(this.to, 'GET', pathOf(API.incidentStats));
  }

  addActionItem(
    id: number,
    body: { text: string; owner: string; due?: string; author?: string },
  ): Promise<ActionItemResponse> {
    return requestJson(this.to, 'POST', pathOf(API.addActionItem, { id }), body);
  }

  setActionItem(id: number, body: { done: boolean; author?: string }): Promise<ActionItemResponse> {
    return requestJson(this.to, 'POST', pathOf(API.setActionItem, { id }), body);
  }

  postmortem(id: number): Promise<PostmortemResponse> {
    return requestJson(this.to, 'GET', pathOf(API.postmortem, { id }));
  }

  oncall(q: { at?: string; schedule?: string; days?: number } = {}): Promise<OncallResponse> {
    return requestJson(this.to, 'GET', `${pathOf(API.oncall)}${ONCALL_QUERY.serialize(q)}`);
  }

  addOverride(body: {
    schedule: string;
    who: string;
    from: string;
    to: string;
    reason?: string;
    author?: string;
  }): Promise<OverrideResponse> {
    return requestJson(this.to, 'POST', pathOf(API.addOverride), body);
  }

  removeOverride(id: number): Promise<OkResponse> {
    return requestJson(this.to, 'POST', pathOf(API.removeOverride, { id }), {});
  }

  pushToken(name: string): Promise<PushTokenResponse> {
    return requestJson(this.to, 'POST', pathOf(API.pushToken, { name }), {});
  }

  proxyMetrics(): Promise<ProxyMetricsResponse> {
    return requestJson(this.to, 'GET', pathOf(API.proxyMetrics));
  }

  requestApply(body: ApplyChangeRequest): Promise<ChangeRequestResponse> {
    return requestJson(this.to, 'POST', pathOf(API.requestApply), body);
  }

  requestServiceChange(name: string, body: ServiceChangeRequest): Promise<ChangeRequestResponse> {
    return requestJson(this.to, 'POST', pathOf(API.requestServiceChange, { name }), body);
  }

  approveChange(id: number, body: ApproveChangeRequest = {}): Promise<ChangeRequestResponse> {
    return requestJson(this.to, 'POST', pathOf(API.approveChange, { id }), body);
  }

  rejectChange(id: number, body: RejectChangeRequest): Promise<ChangeRequestResponse> {
    return requestJson(this.to, 'POST', pathOf(API.rejectChange, { id }), body);
  }

  withdrawChange(id: number, body: RejectChangeRequest): Promise<ChangeRequestResponse> {
    return requestJson(this.to, 'POST', pathOf(API.withdrawChange, { id }), body);
  }

  changeRequests(opts: Partial<ChangeRequestsQuery> = {}): Promise<ChangeRequestsResponse> {
    return requestJson(this.to, 'GET', `${pathOf(API.changeRequests)}${CHANGE_REQUESTS_QUERY.serialize(opts)}`);
  }

  changeRequest(id: number): Promise<ChangeRequestResponse> {
    return requestJson(this.to, 'GET', pathOf(API.changeRequest, { id }));
  }

  /** Decision records of the stack (docs/decisions/), oldest first. */
  decisions(): Promise<DecisionsResponse> {
    return requestJson(this.to, 'GET', pathOf(API.decisions));
  }

  /** One decision record with its Markdown. */
  decision(n: number): Promise<DecisionResponse> {
    return requestJson(this.to, 'GET', pathOf(API.decision, { id: n }));
  }

  whoami(): Promise<WhoamiResponse> {
    return requestJson(this.to, 'GET', pathOf(API.whoami));
  }

  openapi(): Promise<OpenApiResponse> {
    return requestJson(this.to, 'GET', pathOf(API.openapi));
  }
}
