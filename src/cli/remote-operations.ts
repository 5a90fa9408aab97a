/**
 * The operations, sent to a running daemon through the typed ApiClient (daemon/api/client.ts):
 * bodies, query parameters, answers and stream lines are the contract's types. The daemon's
 * routes call the same LocalOperations that the CLI runs in-process when no daemon runs, so both
 * paths share one implementation, and errors come back as the same OperationError codes.
 */
import { OperationError, type OperationErrorCode } from '../core/errors.js';
import type {
  AlertsView,
  ActionItemInput,
  IncidentActionInput,
  IncidentDetail,
  OncallQuery,
  OncallView,
  OverrideInput,
  PromAnswer,
  PromQueryKind,
  PromQueryParams,
  SilenceInput,
  SilenceView,
  ApplyInput,
  ApplyListener,
  Attribution,
  Refusal,
  ChangeView,
  DeployInput,
  DeployResult,
  LogsQuery,
  Operations,
  Progress,
  ReleasesView,
  RollbackInput,
  ScaleInput,
  StackInputs,
  ChangeRequestInput,
  ChangeRequestView,
} from '../core/operations.js';
import type { StatusView } from '../core/status.js';
import type { ApplyResult } from '../engine/apply.js';
import type { Plan } from '../engine/plan.js';
import type { RefreshResult } from '../engine/refresh.js';
import type { IncidentStatsRow } from '../incidents/postmortem.js';
import type {
  ActionItem,
  ChangeRecord,
  IncidentRow,
  IncidentStatus,
  InstanceEvent,
  OverrideRow,
} from '../store/store.js';
import {
  ApiRequestError,
  type ApiClient,
  type ApplyLine,
  type DeployLine,
  type ErrorCode,
  type ProgressLine,
  type StreamErrorLine,
} from '../daemon/api/client.js';
import { apiClient, asUserError, type DaemonConnection } from './daemon-client.js';

/** API error codes back to the operation's (the inverse of the daemon's mapping in routes.ts). */
const OPERATION_CODE_OF: Partial<Record<ErrorCode, OperationErrorCode>> = {
  'invalid-stack': 'invalid-stack',
  'not-found': 'not-found',
  conflict: 'refused',
  'bad-request': 'bad-request',
  unavailable: 'unavailable',
  forbidden: 'forbidden',
};

/** An error line at the end of a stream: the operation failed after it started answering. */
function streamFailure(e: StreamErrorLine['error']): Error {
  const code = OPERATION_CODE_OF[e.code];
  return code ? new OperationError(code, e.message) : new Error(e.message);
}

export class RemoteOperations implements Operations {
  private readonly client: ApiClient;

  constructor(readonly conn: DaemonConnection) {
    this.client = apiClient(conn);
  }

  plan(input: StackInputs): Promise<Plan> {
    return this.call((c) => c.plan(input));
  }

  apply(input: ApplyInput, listener: ApplyListener = {}): Promise<ApplyResult> {
    const { plan, ...rest } = input;
    // A saved plan is checked by the daemon against its schema (a 400 naming each problem).
    const body = plan === undefined ? rest : { ...rest, plan: plan as Plan };
    return this.applyResult((c, onLine) => c.apply(body, onLine), listener);
  }

  scale(service: string, input: ScaleInput, listener: ApplyListener = {}): Promise<ApplyResult> {
    return this.applyResult((c, onLine) => c.scale(service, input, onLine), listener);
  }

  refresh(input: Attribution): Promise<RefreshResult> {
    return this.call((c) => c.refresh(input));
  }

  deploy(service: string, input: DeployInput, progress: Progress): Promise<DeployResult> {
    return this.deployResult((c, onLine) => c.deploy(service, input, onLine), progress);
  }

  rollback(service: string, input: RollbackInput, progress: Progress): Promise<DeployResult> {
    return this.deployResult((c, onLine) => c.rollback(service, input, onLine), progress);
  }

  restart(service: string, input: Attribution, progress: Progress): Promise<void> {
    return this.progressOnly((c, onLine) => c.restart(service, input, onLine), progress);
  }

  down(input: Attribution, progress: Progress): Promise<void> {
    return this.progressOnly((c, onLine) => c.down(input, onLine), progress);
  }

  releases(service: string, limit: number): Promise<ReleasesView> {
    return this.call((c) => c.releases(service, { limit }));
  }

  promQuery(kind: PromQueryKind, params: PromQueryParams): Promise<PromAnswer> {
    return this.call((c) => c.promQuery(kind, { ...params }));
  }

  alerts(): Promise<AlertsView> {
    return this.call((c) => c.alerts());
  }

  async acknowledgeAlert(fingerprint: string, by: string): Promise<void> {
    await this.call((c) => c.ackAlert(fingerprint, by));
  }

  addSilence(input: SilenceInput): Promise<SilenceView> {
    return this.call((c) => c.addSilence(input));
  }

  async expireSilence(id: number): Promise<void> {
    await this.call((c) => c.expireSilence(id));
  }

  async incidents(filter: { status?: IncidentStatus; limit?: number }): Promise<IncidentRow[]> {
    return (await this.call((c) => c.incidents(filter))).incidents as IncidentRow[];
  }

  async incident(id: number): Promise<IncidentDetail> {
    const d = await this.call((c) => c.incident(id));
    return { ...d, incident: d.incident as IncidentRow };
  }

  async incidentAction(id: number, input: IncidentActionInput): Promise<IncidentRow> {
    const body = { action: input.action, author: input.by, ...(input.text !== undefined ? { text: input.text } : {}) };
    return (await this.call((c) => c.incidentAction(id, body))).incident as IncidentRow;
  }

  async incidentByLink(
    id: number,
    action: 'ack' | 'resolve',
    sig: string,
    confirmed: boolean,
  ): Promise<{ incident: IncidentRow; done: boolean }> {
    const r = await this.call((c) => c.incidentLink(id, action, sig, confirmed));
    const incident = await this.call((c) => c.incident(id));
    return { incident: incident.incident as IncidentRow, done: r.done };
  }

  incidentStats(): Promise<IncidentStatsRow[]> {
    return this.call(async (c) => (await c.incidentStats()).stats);
  }

  addActionItem(incidentId: number, input: ActionItemInput): Promise<ActionItem> {
    const { by, ...rest } = input;
    return this.call((c) => c.addActionItem(incidentId, { ...rest, author: by }));
  }

  setActionItemDone(itemId: number, done: boolean, by: string): Promise<ActionItem> {
    return this.call((c) => c.setActionItem(itemId, { done, author: by }));
  }

  async postmortem(id: number): Promise<string> {
    return (await this.call((c) => c.postmortem(id))).markdown;
  }

  oncall(query: OncallQuery): Promise<OncallView> {
    return this.call((c) => c.oncall(query));
  }

  addOverride(input: OverrideInput): Promise<OverrideRow> {
    return this.call((c) => c.addOverride(input));
  }

  async removeOverride(id: number): Promise<void> {
    await this.call((c) => c.removeOverride(id));
  }

  newPushToken(check: string): Promise<{ check: string; path: string }> {
    return this.call((c) => c.pushToken(check));
  }

  status(): Promise<StatusView> {
    return this.call((c) => c.status());
  }

  history(limit: number): Promise<ChangeRecord[]> {
    return this.call((c) => c.history({ limit }));
  }

  requestChange(input: ChangeRequestInput): Promise<ChangeRequestView> {
    if (input.kind === 'apply') {
      const { kind: _kind, plan, ...rest } = input;
      // A saved plan is checked by the daemon against its schema (a 400 naming each problem).
      return this.call((c) => c.requestApply(plan === undefined ? rest : { ...rest, plan: plan as Plan }));
    }
    const { service, ...body } = input;
    return this.call((c) => c.requestServiceChange(service, body));
  }

  approveChange(id: number, input: Attribution): Promise<ChangeRequestView> {
    return this.call((c) => c.approveChange(id, input));
  }

  rejectChange(id: number, input: Refusal): Promise<ChangeRequestView> {
    return this.call((c) => c.rejectChange(id, input));
  }

  withdrawChange(id: number, input: Refusal): Promise<ChangeRequestView> {
    return this.call((c) => c.withdrawChange(id, input));
  }

  changeRequests(limit: number): Promise<ChangeRequestView[]> {
    return this.call((c) => c.changeRequests({ limit }));
  }

  changeRequest(id: number): Promise<ChangeRequestView> {
    return this.call((c) => c.changeRequest(id));
  }

  change(id: number): Promise<ChangeView> {
    return this.call((c) => c.change(id));
  }

  events(service: string | undefined, limit: number): Promise<InstanceEvent[]> {
    return this.call((c) => c.events({ ...(service !== undefined ? { service } : {}), limit }));
  }

  /** With `follow`, until `signal` aborts (the daemon ends the stream when the client goes away). */
  logs(service: string, query: LogsQuery, write: (text: string) => void, signal?: AbortSignal): Promise<void> {
    return this.call((c) => c.logs(service, { ...query, ...(signal ? { signal } : {}) }, (line) => write(`${line}\n`)));
  }

  /** A client call whose HTTP errors become the operation's errors (or the CLI's, for the rest). */
  private async call<T>(fn: (client: ApiClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.client);
    } catch (e) {
      const code = e instanceof ApiRequestError && e.code ? OPERATION_CODE_OF[e.code] : undefined;
      if (e instanceof ApiRequestError && code) throw new OperationError(code, e.message, e.fix);
      throw asUserError(e, this.conn);
    }
  }

  private async applyResult(
    send: (client: ApiClient, onLine: (line: ApplyLine) => void) => Promise<void>,
    listener: ApplyListener,
  ): Promise<ApplyResult> {
    let result: ApplyResult | undefined;
    let failure: Error | undefined;
    await this.call((c) =>
      send(c, (line) => {
        if (line.type === 'plan') listener.onPlan?.(line.plan);
        else if (line.type === 'result') result = line.result;
        else if (line.type === 'error') failure = streamFailure(line.error);
        else listener.onEvent?.(line);
      }),
    );
    if (failure) throw failure;
    if (!result) throw new Error('the daemon ended without a result; see its log');
    return result;
  }

  private async deployResult(
    send: (client: ApiClient, onLine: (line: DeployLine) => void) => Promise<void>,
    progress: Progress,
  ): Promise<DeployResult> {
    let result: DeployResult | undefined;
    let failure: Error | undefined;
    await this.call((c) =>
      send(c, (line) => {
        if (line.type === 'progress') progress(line.message);
        else if (line.type === 'result') result = line.result;
        else failure = streamFailure(line.error);
      }),
    );
    if (failure) throw failure;
    if (!result) throw new Error('the daemon ended without a result; see its log');
    return result;
  }

  private async progressOnly(
    send: (client: ApiClient, onLine: (line: ProgressLine) => void) => Promise<void>,
    progress: Progress,
  ): Promise<void> {
    let done = false;
    let failure: Error | undefined;
    await this.call((c) =>
      send(c, (line) => {
        if (line.type === 'progress') progress(line.message);
        else if (line.type === 'result') done = true;
        else failure = streamFailure(line.error);
      }),
    );
    if (failure) throw failure;
    if (!done) throw new Error('the daemon ended without a result; see its log');
  }
}
