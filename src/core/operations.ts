/**
 * The operations API: everything a person (or the dashboard, later) can ask of an installation.
 * Two implementations: LocalOperations runs them on an opened installation (in the daemon, or in
 * the CLI when no daemon runs); the CLI's RemoteOperations sends them to the daemon's HTTP API,
 * whose routes call LocalOperations. So each operation has one code path.
 */
import type { ApplyEvent, ApplyResult } from '../engine/apply.js';
import type { Plan } from '../engine/plan.js';
import type { RefreshResult } from '../engine/refresh.js';
import type { ChangeRecord, InstanceEvent, JournalEntry, ReleaseRecord } from '../store/store.js';
import type { StackInputs } from './installation.js';
import type { ChangeRequestView } from '../change/change-requests.js';
import type { StatusView } from './status.js';
import type { DeployResult } from './deployer.js';
import type { LogsQuery } from './service-logs.js';
import type { AlertsView, SilenceInput, SilenceView } from './alerts-view.js';
import type {
  ActionItemInput,
  IncidentActionInput,
  IncidentDetail,
  OncallQuery,
  OncallView,
  OverrideInput,
} from './incidents-view.js';
import type { ActionItem, IncidentRow, IncidentStatus, OverrideRow } from '../store/store.js';
import type { IncidentStatsRow } from '../incidents/postmortem.js';
import type { PromAnswer, PromQueryKind, PromQueryParams } from './metrics-query.js';

export type { PromAnswer, PromQueryKind, PromQueryParams } from './metrics-query.js';

export type { AlertsView, SilenceInput, SilenceView } from './alerts-view.js';
export type {
  ActionItemInput,
  IncidentActionInput,
  IncidentDetail,
  OncallQuery,
  OncallView,
  OverrideInput,
} from './incidents-view.js';

export type { LogsQuery } from './service-logs.js';

export type { StackInputs } from './installation.js';
export type { DeployResult } from './deployer.js';

/** Who asked and why: recorded with the change. */
export interface Attribution {
  author?: string;
  message?: string;
}

/** Who refuses a change request and why (the reason is required). */
export interface Refusal {
  author?: string;
  reason: string;
}

/** Change management (change/): the approved request a change carries out, break-glass, decisions. */
export interface ChangeGovernance {
  /** An approved change request (`groundwork change list`) to carry out exactly. */
  request?: number;
  /** Make the change during a freeze window: the reason is audited and the approvers notified. */
  breakGlass?: string;
  /** Decision records (docs/decisions/NNNN-*.md) the change implements. */
  decisions?: number[];
}

/** A change to be approved before it is made. */
export type ChangeRequestInput = Attribution &
  StackInputs & { decisions?: number[] } & (
    | { kind: 'apply'; /** A saved plan; default: the plan of the stack file now. */ plan?: unknown }
    | { kind: 'deploy'; service: string; ref?: string }
    | { kind: 'rollback'; service: string; to?: number }
  );

export type { ChangeRequestView } from '../change/change-requests.js';

export interface ApplyInput extends StackInputs, Attribution, ChangeGovernance {
  /** A saved plan (`plan --out`): applied exactly, or refused when state or stack moved. */
  plan?: unknown;
  /** Steps at once (default 8). */
  parallelism?: number;
}

export interface ApplyListener {
  onPlan?(plan: Plan): void;
  onEvent?(event: ApplyEvent): void;
}

export interface ScaleInput extends StackInputs, Attribution {
  /** Instances to run (0 to 64, as `replicas` in the stack file). */
  replicas: number;
}

export interface DeployInput extends StackInputs, Attribution, ChangeGovernance {
  /** git branch, tag or commit (default: the working tree). */
  ref?: string;
}

export interface RollbackInput extends Attribution, ChangeGovernance {
  /** Release number to restore (default: the previous one). */
  to?: number;
}

export type Progress = (message: string) => void;

export interface ReleasesView {
  service: string;
  current: number | null;
  releases: ReleaseRecord[];
}

export type ChangeView = ChangeRecord & { steps: JournalEntry[] };

export interface Operations {
  plan(input: StackInputs): Promise<Plan>;
  apply(input: ApplyInput, listener?: ApplyListener): Promise<ApplyResult>;
  refresh(input: Attribution): Promise<RefreshResult>;
  deploy(service: string, input: DeployInput, progress: Progress): Promise<DeployResult>;
  rollback(service: string, input: RollbackInput, progress: Progress): Promise<DeployResult>;
  restart(service: string, input: Attribution, progress: Progress): Promise<void>;
  /**
   * Runs `replicas` instances of an applied service: a journaled change of its recorded replicas
   * (the stack file is not edited; the next plan shows the difference and apply restores the
   * file's count). Refused while the stack file has other changes pending.
   */
  scale(service: string, input: ScaleInput, listener?: ApplyListener): Promise<ApplyResult>;
  /** Stops every instance of the stack on every runtime (the daemon also exits, when asked through it). */
  down(input: Attribution, progress: Progress): Promise<void>;
  releases(service: string, limit: number): Promise<ReleasesView>;
  /**
   * A new token for a push check: state keeps its hash, the old token stops working, and the
   * path (`/v1/push/TOKEN`) is returned once, to the caller only.
   */
  newPushToken(check: string): Promise<{ check: string; path: string }>;
  status(): Promise<StatusView>;
  /** Firing, pending and recently resolved alerts with who was told; silences in force or to come. */
  alerts(): Promise<AlertsView>;
  /** Stops the repeats of a firing alert. */
  acknowledgeAlert(fingerprint: string, by: string): Promise<void>;
  addSilence(input: SilenceInput): Promise<SilenceView>;
  expireSilence(id: number): Promise<void>;
  incidents(filter: { status?: IncidentStatus; limit?: number }): Promise<IncidentRow[]>;
  incident(id: number): Promise<IncidentDetail>;
  /** Acknowledge (escalation stops), resolve (everyone paged is told), note or assign. */
  incidentAction(id: number, input: IncidentActionInput): Promise<IncidentRow>;
  /** The signed acknowledge link of a page (no token: the signature is the daemon's). */
  incidentByLink(
    id: number,
    action: 'ack' | 'resolve',
    sig: string,
    confirmed: boolean,
  ): Promise<{ incident: IncidentRow; done: boolean }>;
  /** A postmortem draft (Markdown) from the incident's timeline and the changes in its window. */
  postmortem(id: number): Promise<string>;
  /** Who is on call at a time in each schedule, the shifts after it, and overrides. */
  oncall(query: OncallQuery): Promise<OncallView>;
  addOverride(input: OverrideInput): Promise<OverrideRow>;
  /** Mean time to acknowledge and to resolve per service and month. */
  incidentStats(): Promise<IncidentStatsRow[]>;
  addActionItem(incidentId: number, input: ActionItemInput): Promise<ActionItem>;
  setActionItemDone(itemId: number, done: boolean, by: string): Promise<ActionItem>;
  removeOverride(id: number): Promise<void>;
  /** PromQL over the metrics store, answered in the shape of Prometheus's HTTP API. */
  promQuery(kind: PromQueryKind, params: PromQueryParams): Promise<PromAnswer>;
  history(limit: number): Promise<ChangeRecord[]>;
  /** Writes a change down for approval; what is approved is its hash. */
  requestChange(input: ChangeRequestInput): Promise<ChangeRequestView>;
  /** Approves a change request as `input.author` (never its own author). */
  approveChange(id: number, input: Attribution): Promise<ChangeRequestView>;
  /** Rejects a change request as `input.author` (who may approve it), with a reason. */
  rejectChange(id: number, input: Refusal): Promise<ChangeRequestView>;
  /** Withdraws a change request as its own author, with a reason. */
  withdrawChange(id: number, input: Refusal): Promise<ChangeRequestView>;
  changeRequests(limit: number): Promise<ChangeRequestView[]>;
  changeRequest(id: number): Promise<ChangeRequestView>;
  change(id: number): Promise<ChangeView>;
  events(service: string | undefined, limit: number): Promise<InstanceEvent[]>;
  /** Writes the service's log lines (each ending in a newline); with `follow`, until `signal` aborts. */
  logs(service: string, query: LogsQuery, write: (text: string) => void, signal?: AbortSignal): Promise<void>;
}
