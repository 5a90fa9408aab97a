/**
 * The subset of the API's answers the dashboard reads. Written here, not imported from the
 * daemon's schemas.ts, for two reasons that a type-only import does not remove: the layering
 * (.dependency-cruiser.cjs `nothing-imports-daemon`, which counts type-only imports), and the
 * page's own type check (src/web/app/tsconfig.json: DOM, no Node types), which would then compile
 * schemas.ts's imports (core, engine, store, proxy…) and fail on every `node:` module and Buffer.
 * test/web/api-types.test.ts holds each type assignable from the contract's own (schemas.ts), so a
 * change of the API that breaks a page fails the type check.
 */

export interface Whoami {
  tokenId: string;
  user: string | null;
  role: string;
  permissions: string[];
  services: string[] | null;
}

export interface InstanceView {
  index: number;
  pid: number | null;
  state: string;
  reason: string;
  since: string;
  startedAt: string | null;
  restarts: number;
  ready: boolean;
}

export interface ServiceView {
  name: string;
  replicas: number;
  runtime: string;
  strategy: string;
  release: number | null;
  instances: InstanceView[];
}

export interface Status {
  stack: string;
  services: ServiceView[];
}

export interface Release {
  seq: number;
  status: string;
  kind: string;
  source: string;
  message: string;
  author: string;
  createdAt: string;
  finishedAt: string | null;
  detail: string | null;
}

export interface Releases {
  service: string;
  current: number | null;
  releases: Release[];
}

export interface DeployResult {
  ok: boolean;
  release: number | null;
  rolledBack: boolean;
  reason?: string;
  ms: number;
}

export type DeployLine =
  | { type: 'progress'; message: string }
  | { type: 'result'; result: DeployResult }
  | { type: 'error'; error: { code: string; message: string } };

export interface AlertView {
  rule: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: string;
  activeAt: string;
  value: number | null;
  suppressedBy: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
}

export interface SilenceView {
  id: number;
  matchers: string[];
  startsAt: string;
  endsAt: string;
  author: string;
  comment: string;
  active: boolean;
}

export interface Alerts {
  alerts: AlertView[];
  silences: SilenceView[];
}

export interface Incident {
  id: number;
  title: string;
  severity: string;
  service: string | null;
  status: string;
  createdAt: string;
  ackedBy: string | null;
  resolvedBy: string | null;
  assignee: string | null;
  /** The escalation policy it follows (null: none, nobody is paged). */
  policy: string | null;
  /** The step being paged (0-based) and the round through the policy (0-based). */
  step: number;
  loop: number;
}

export interface Incidents {
  incidents: Incident[];
}

export interface IncidentDetail {
  incident: Incident;
  /** Which escalation policy it follows and why; null for incidents opened before that was recorded. */
  policyReason: string | null;
  timeline: { id: number; at: string; kind: string; actor: string; text: string }[];
}

/** Prometheus's HTTP API answer to query_range (a matrix). */
export interface PromMatrix {
  status: string;
  data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
  error?: string;
}

/** Every non-2xx JSON answer of the API. */
export interface ErrorBody {
  error: { code: string; message: string; fix?: string };
}

/** GET /v1/oncall: who is on call now in each schedule, the shifts from `at` to `until`, overrides. */
export interface OncallShift {
  who: string;
  from: string;
  to: string;
  /** `layer NAME` or `override`. */
  source: string;
}

export interface OncallSchedule {
  name: string;
  timezone: string;
  now: { who: string; source: string } | null;
  shifts: OncallShift[];
}

export interface OncallOverride {
  id: number;
  schedule: string;
  who: string;
  from: string;
  to: string;
  reason: string;
  author: string;
  createdAt: string;
}

export interface Oncall {
  at: string;
  until: string;
  schedules: OncallSchedule[];
  overrides: OncallOverride[];
}

/** GET /v1/change-requests (a list), POST …/approve (one). */
export interface ChangeRequest {
  id: number;
  kind: string;
  service: string | null;
  /** Exactly what is approved: `{ plan }` for an apply, a deploy's or rollback's inputs otherwise. */
  subject: { [key: string]: unknown };
  hash: string;
  author: string;
  message: string;
  decisions: number[];
  createdAt: string;
  appliedChange: number | null;
  approvals: { by: string; at: string; comment: string }[];
  required: number;
  approvedBy: string[];
  /** Who rejected (or, its author, withdrew) it and why. */
  refusal: { by: string; at: string; reason: string } | null;
  status: 'pending' | 'approved' | 'applied' | 'refused';
}

/** GET /v1/decisions (a list), GET /v1/decisions/:id (one, with its Markdown). */
export interface Decision {
  number: number;
  title: string;
  status: string;
  file: string;
}

export interface DecisionDetail extends Decision {
  markdown: string;
}

/** GET /v1/audit: one entry of the hash-chained log. */
export interface AuditRecord {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
  token: string | null;
  user: string | null;
  remote: string;
  method: string;
  path: string;
  route: string | null;
  operation: string | null;
  service: string | null;
  decision: 'allowed' | 'denied';
  status: number;
  reason?: string;
}

/** GET /v1/audit/verify: the chain recomputed on the server; problems in log order, the first where it breaks. */
export interface AuditVerification {
  ok: boolean;
  entries: number;
  problems: { seq: number; kind: string; message: string }[];
}
