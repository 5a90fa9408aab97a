/**
 * The operations, sent to a running daemon. The daemon's routes call the same LocalOperations
 * that the CLI runs in-process when no daemon runs, so both paths share one implementation.
 */
import { OperationError, type OperationErrorCode } from '../core/errors.js';
import type {
  ApplyInput,
  ApplyListener,
  Attribution,
  ChangeView,
  DeployInput,
  DeployResult,
  LogsQuery,
  Operations,
  Progress,
  ReleasesView,
  RollbackInput,
  StackInputs,
} from '../core/operations.js';
import type { StatusView } from '../core/status.js';
import type { ApplyEvent, ApplyResult } from '../engine/apply.js';
import type { Plan } from '../engine/plan.js';
import type { RefreshResult } from '../engine/refresh.js';
import type { ChangeRecord, InstanceEvent } from '../store/store.js';
import { getJson, streamLines, type DaemonConnection } from './daemon-client.js';

/** API error codes back to the operation's (the inverse of the daemon's mapping). */
const CODE_OF: Record<string, OperationErrorCode> = {
  'invalid-stack': 'invalid-stack',
  'not-found': 'not-found',
  conflict: 'refused',
  'bad-request': 'bad-request',
  unavailable: 'unavailable',
};

interface StreamError {
  type: 'error';
  error: { code?: string; message: string; fix?: string };
}
type ApplyLine = { type: 'plan'; plan: Plan } | { type: 'result'; result: ApplyResult } | StreamError | ApplyEvent;
type ProgressLine =
  { type: 'progress'; message: string } | { type: 'result'; result?: DeployResult; ok?: boolean } | StreamError;

function streamFailure(e: StreamError['error']): Error {
  const code = e.code ? CODE_OF[e.code] : undefined;
  return code ? new OperationError(code, e.message, e.fix) : new Error(e.message);
}

const svc = (name: string) => `/v1/services/${encodeURIComponent(name)}`;

export class RemoteOperations implements Operations {
  constructor(readonly conn: DaemonConnection) {}

  plan(input: StackInputs): Promise<Plan> {
    return getJson<Plan>(this.conn, 'POST', '/v1/plan', input);
  }

  async apply(input: ApplyInput, listener: ApplyListener = {}): Promise<ApplyResult> {
    let result: ApplyResult | undefined;
    let failure: Error | undefined;
    await streamLines(this.conn, 'POST', '/v1/apply', input, (raw) => {
      const line = JSON.parse(raw) as ApplyLine;
      if (line.type === 'plan') listener.onPlan?.(line.plan);
      else if (line.type === 'result') result = line.result;
      else if (line.type === 'error') failure = streamFailure(line.error);
      else listener.onEvent?.(line);
    });
    if (failure) throw failure;
    if (!result) throw new Error('the daemon ended the apply without a result; see its log');
    return result;
  }

  refresh(input: Attribution): Promise<RefreshResult> {
    return getJson<RefreshResult>(this.conn, 'POST', '/v1/refresh', input);
  }

  deploy(service: string, input: DeployInput, progress: Progress): Promise<DeployResult> {
    return this.streamResult(`${svc(service)}/deploy`, input, progress);
  }

  rollback(service: string, input: RollbackInput, progress: Progress): Promise<DeployResult> {
    return this.streamResult(`${svc(service)}/rollback`, input, progress);
  }

  async restart(service: string, input: Attribution, progress: Progress): Promise<void> {
    await this.streamProgress(`${svc(service)}/restart`, input, progress);
  }

  async down(input: Attribution, progress: Progress): Promise<void> {
    await this.streamProgress('/v1/down', input, progress);
  }

  releases(service: string, limit: number): Promise<ReleasesView> {
    return getJson<ReleasesView>(this.conn, 'GET', `${svc(service)}/releases?limit=${limit}`);
  }

  status(): Promise<StatusView> {
    return getJson<StatusView>(this.conn, 'GET', '/v1/status');
  }

  history(limit: number): Promise<ChangeRecord[]> {
    return getJson<ChangeRecord[]>(this.conn, 'GET', `/v1/history?limit=${limit}`);
  }

  change(id: number): Promise<ChangeView> {
    return getJson<ChangeView>(this.conn, 'GET', `/v1/changes/${id}`);
  }

  events(service: string | undefined, limit: number): Promise<InstanceEvent[]> {
    const q = new URLSearchParams({ limit: String(limit), ...(service ? { service } : {}) });
    return getJson<InstanceEvent[]>(this.conn, 'GET', `/v1/events?${q}`);
  }

  /** Follows until the process ends (the daemon stops the stream when the client goes away). */
  async logs(service: string, query: LogsQuery, write: (text: string) => void): Promise<void> {
    const q = new URLSearchParams();
    if (query.instance !== undefined) q.set('instance', String(query.instance));
    if (query.lines !== undefined) q.set('lines', String(query.lines));
    if (query.since) q.set('since', query.since);
    if (query.follow) q.set('follow', '1');
    await streamLines(this.conn, 'GET', `${svc(service)}/logs?${q}`, undefined, (line) => write(`${line}\n`));
  }

  private async streamProgress(path: string, body: unknown, progress: Progress): Promise<ProgressLine | undefined> {
    let last: ProgressLine | undefined;
    let failure: Error | undefined;
    await streamLines(this.conn, 'POST', path, body, (raw) => {
      const line = JSON.parse(raw) as ProgressLine;
      if (line.type === 'progress') progress(line.message);
      else if (line.type === 'error') failure = streamFailure(line.error);
      else last = line;
    });
    if (failure) throw failure;
    return last;
  }

  private async streamResult(path: string, body: unknown, progress: Progress): Promise<DeployResult> {
    const last = await this.streamProgress(path, body, progress);
    if (!last || last.type !== 'result' || !last.result)
      throw new Error('the daemon ended without a result; see its log');
    return last.result;
  }
}
