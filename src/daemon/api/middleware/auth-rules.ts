/**
 * The access rules of the API, one per route: the permission it needs, what it concerns (which
 * service, found where; or the whole stack) and what the audit log keeps of it. The only place
 * where routes meet permissions: handlers check nothing. Typed `Record<ApiName, …>`, so a route
 * added to the contract without a rule does not compile; a route that reaches the app without one
 * anyway (not from the contract) is refused at every request (`ruleFor` → undefined).
 */
import type { Permission } from '../../../security/permissions.js';
import { API, type ApiName } from '../contract.js';
import type { RouteMethod } from '../route.js';

/**
 * What a request concerns: the service named by a path parameter or a query parameter (a query
 * without it concerns the whole stack), the whole stack, or nothing in particular.
 */
export type TargetRule = { param: string } | { query: string } | 'stack' | 'none';

export interface AccessRule {
  permission: Permission;
  target: TargetRule;
  /**
   * `change`: every call is audited (with its status); `secret`: a secret's value is read, audited
   * likewise; `read`: audited only when denied.
   */
  audit: 'change' | 'secret' | 'read';
  /**
   * The route carries its own credential (a push check's token in its path) and is public in the
   * contract: no bearer token is asked for and this rule is not consulted. A test holds the two
   * lists equal.
   */
  open?: true;
}

const service = { param: 'name' } as const;

export const ACCESS_RULES: Record<ApiName, AccessRule> = {
  status: { permission: 'status.read', target: 'stack', audit: 'read' },
  // A POST, but it only reads: the plan of the stack file against recorded state.
  plan: { permission: 'config.read', target: 'stack', audit: 'read' },
  apply: { permission: 'stack.apply', target: 'stack', audit: 'change' },
  refresh: { permission: 'stack.apply', target: 'stack', audit: 'change' },
  history: { permission: 'config.read', target: 'stack', audit: 'read' },
  change: { permission: 'config.read', target: 'stack', audit: 'read' },
  events: { permission: 'status.read', target: { query: 'service' }, audit: 'read' },
  eventStream: { permission: 'status.read', target: { query: 'service' }, audit: 'read' },
  network: { permission: 'status.read', target: 'stack', audit: 'read' },
  logs: { permission: 'logs.read', target: service, audit: 'read' },
  restart: { permission: 'service.operate', target: service, audit: 'change' },
  scale: { permission: 'service.operate', target: service, audit: 'change' },
  down: { permission: 'stack.down', target: 'stack', audit: 'change' },
  deploy: { permission: 'service.deploy', target: service, audit: 'change' },
  rollback: { permission: 'service.deploy', target: service, audit: 'change' },
  releases: { permission: 'config.read', target: service, audit: 'read' },
  proxyMetrics: { permission: 'status.read', target: 'stack', audit: 'read' },
  push: { permission: 'status.read', target: 'none', audit: 'read', open: true },
  pushPost: { permission: 'status.read', target: 'none', audit: 'read', open: true },
  // Issues a credential (a push check's new URL): as much as applying the stack.
  pushToken: { permission: 'stack.apply', target: 'stack', audit: 'change' },
  promQuery: { permission: 'status.read', target: 'stack', audit: 'read' },
  promQueryRange: { permission: 'status.read', target: 'stack', audit: 'read' },
  metrics: { permission: 'status.read', target: 'stack', audit: 'read' },
  alerts: { permission: 'status.read', target: 'stack', audit: 'read' },
  // On-call actions: who may restart services may acknowledge and silence.
  ackAlert: { permission: 'service.operate', target: 'stack', audit: 'change' },
  addSilence: { permission: 'service.operate', target: 'stack', audit: 'change' },
  expireSilence: { permission: 'service.operate', target: 'stack', audit: 'change' },
  incidents: { permission: 'status.read', target: 'stack', audit: 'read' },
  incident: { permission: 'status.read', target: 'stack', audit: 'read' },
  // Whoever may acknowledge alerts may acknowledge, resolve and annotate incidents.
  incidentAction: { permission: 'service.operate', target: 'stack', audit: 'change' },
  // The page's link carries the daemon's HMAC of the incident and action, checked by the operation.
  incidentAckLink: { permission: 'service.operate', target: 'none', audit: 'change', open: true },
  postmortem: { permission: 'status.read', target: 'stack', audit: 'read' },
  incidentResolveLink: { permission: 'service.operate', target: 'none', audit: 'change', open: true },
  incidentAckConfirm: { permission: 'service.operate', target: 'none', audit: 'change', open: true },
  incidentResolveConfirm: { permission: 'service.operate', target: 'none', audit: 'change', open: true },
  incidentStats: { permission: 'status.read', target: 'stack', audit: 'read' },
  addActionItem: { permission: 'service.operate', target: 'stack', audit: 'change' },
  setActionItem: { permission: 'service.operate', target: 'stack', audit: 'change' },
  oncall: { permission: 'status.read', target: 'stack', audit: 'read' },
  oncallIcs: { permission: 'status.read', target: 'stack', audit: 'read' },
  addOverride: { permission: 'service.operate', target: 'stack', audit: 'change' },
  removeOverride: { permission: 'service.operate', target: 'stack', audit: 'change' },
  // Writing a change down for approval asks as much as making it; approving is its own permission.
  requestApply: { permission: 'stack.apply', target: 'stack', audit: 'change' },
  requestServiceChange: { permission: 'service.deploy', target: service, audit: 'change' },
  approveChange: { permission: 'change.approve', target: 'stack', audit: 'change' },
  // Rejecting decides as much as approving; withdrawing is the author's own (the operation checks
  // the person is the author), who needed service.deploy or more to write the request.
  rejectChange: { permission: 'change.approve', target: 'stack', audit: 'change' },
  withdrawChange: { permission: 'service.deploy', target: 'stack', audit: 'change' },
  changeRequests: { permission: 'config.read', target: 'stack', audit: 'read' },
  changeRequest: { permission: 'config.read', target: 'stack', audit: 'read' },
  // Decisions are documents of the stack's repository: whoever may read its config may read them.
  decisions: { permission: 'config.read', target: 'stack', audit: 'read' },
  decision: { permission: 'config.read', target: 'stack', audit: 'read' },
  // Tokens and the audit log: admins only (as `groundwork token` and `groundwork audit` locally).
  tokens: { permission: 'access.admin', target: 'stack', audit: 'read' },
  revokeToken: { permission: 'access.admin', target: 'stack', audit: 'change' },
  audit: { permission: 'access.admin', target: 'stack', audit: 'read' },
  auditVerify: { permission: 'access.admin', target: 'stack', audit: 'read' },
  // Describes the caller, not the stack: any valid token.
  whoami: { permission: 'status.read', target: 'none', audit: 'read' },
  // Describes the API, not the stack: any valid token.
  openapi: { permission: 'status.read', target: 'none', audit: 'read' },
};

const BY_ROUTE = new Map<string, AccessRule>(
  (Object.keys(API) as ApiName[]).map((n) => [`${API[n].method} ${API[n].path}`, ACCESS_RULES[n]]),
);

/** The rule of a route, by its method and declared path; undefined: it has none (and is refused). */
export function ruleFor(method: RouteMethod, path: string): AccessRule | undefined {
  return BY_ROUTE.get(`${method} ${path}`);
}
