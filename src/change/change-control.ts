/**
 * Change management around the operations: before a change runs, `admit` asks the stack file's
 * policy (approvals, freeze windows) and the change request it names; after it ran, `record`
 * writes what it carried out onto its change record. Break-glass (a change in a freeze window
 * with a reason) is written to the audit log and queued to the policy's channels before the
 * change starts, so it is on record even when the change then fails.
 */
import path from 'node:path';
import { loadStack } from '../config/load.js';
import { accessPeople } from '../config/schema.js';
import type { JsonObject } from '../model/resource.js';
import type { Notification } from '../notify/notification.js';
import { enqueueNotification } from '../notify/outbox.js';
import { AuditLog } from '../security/audit.js';
import type { Users } from '../security/roles-stack-users.js';
import type { ChangeRequestKind, ChangeRequestRow, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import {
  changePolicyOf,
  gateFor,
  NO_POLICY,
  scopeOfAddresses,
  type ChangePolicy,
  type ChangeScope,
} from './change-policy.js';
import { ChangeRefused } from './change-refused.js';
import {
  approverProblem,
  countingApprovals,
  refusedText,
  refuserProblem,
  requestView,
  subjectHash,
  type ChangeRequestView,
} from './change-requests.js';
import {
  listDecisions,
  missingDecisions,
  tryReadDecision,
  type DecisionDocument,
  type DecisionRecord,
} from './decisions.js';

export interface ChangeControlDeps {
  store: Store;
  clock: Clock;
  stackFile: string;
}

/** A change about to be made. */
export interface ChangeAttempt {
  kind: ChangeRequestKind;
  /** The service of a deploy or rollback. */
  service: string | null;
  scope: ChangeScope;
  author: string;
  /** Exactly what will be done; an approved request must have the same hash. */
  subject: JsonObject;
  request?: number | undefined;
  breakGlass?: string | undefined;
  decisions?: readonly number[] | undefined;
}

/** What admission found: written onto the change record by `record`. */
export interface Admission {
  request: number | null;
  breakGlass: string | null;
  freeze: string | null;
  decisions: number[];
}

export interface NewChangeRequest {
  kind: ChangeRequestKind;
  service: string | null;
  subject: JsonObject;
  author: string;
  message: string;
  decisions: readonly number[];
}

/** What a change or request is of, for messages: its service, or a rotation's secret. */
interface Target {
  kind: ChangeRequestKind;
  service: string | null;
  subject: JsonObject;
}

function secretOf(t: Target): string {
  return typeof t.subject.secret === 'string' ? t.subject.secret : 'SECRET';
}

const REQUEST_HINT: Record<ChangeRequestKind, (t: Target) => string> = {
  apply: () => '`groundwork change request apply -m "why"` (or `--plan FILE` for a saved plan)',
  deploy: (t) => `\`groundwork change request deploy ${t.service ?? 'SERVICE'} --ref REF -m "why"\``,
  rollback: (t) => `\`groundwork change request rollback ${t.service ?? 'SERVICE'} -m "why"\``,
  rotate: (t) => `\`groundwork change request rotate ${secretOf(t)} -m "why"\``,
};

const CARRY_OUT: Record<ChangeRequestKind, (r: ChangeRequestRow) => string> = {
  apply: (r) => `groundwork apply ${r.id}`,
  deploy: (r) => `groundwork deploy ${r.service ?? 'SERVICE'} --change ${r.id}`,
  rollback: (r) => `groundwork rollback ${r.service ?? 'SERVICE'} --change ${r.id}`,
  rotate: (r) => `groundwork secret rotate ${secretOf(r)} --change ${r.id}`,
};

/** How to carry out an approved request. */
export function carryOutCommand(r: ChangeRequestRow): string {
  return CARRY_OUT[r.kind](r);
}

export class ChangeControl {
  constructor(private readonly deps: ChangeControlDeps) {}

  private get stackDir(): string {
    return path.dirname(path.resolve(this.deps.stackFile));
  }

  /** The policy and people of the stack file as it is now (an invalid file: no policy, no people). */
  async context(): Promise<{ policy: ChangePolicy; users: Users | undefined }> {
    const loaded = await loadStack(this.deps.stackFile);
    if (!loaded.config) return { policy: NO_POLICY, users: undefined };
    return { policy: changePolicyOf(loaded.config.changes), users: accessPeople(loaded.config) };
  }

  /**
   * Refuses the change (ChangeRefused) unless the policy and its change request allow it now.
   * `dryRun`: only asks (a break-glass is audited and notified when the change is admitted for real).
   */
  async admit(a: ChangeAttempt, opts: { dryRun?: boolean } = {}): Promise<Admission> {
    const { policy, users } = await this.context();
    if (a.breakGlass !== undefined && a.breakGlass.trim() === '')
      throw new ChangeRefused(
        'bad-request',
        '--break-glass needs a reason',
        'say why the change cannot wait, e.g. --break-glass "payment outage, hotfix for INC-42"',
      );
    const decisions = new Set(a.decisions ?? []);
    let request: ChangeRequestRow | undefined;
    if (a.request !== undefined) {
      request = await this.requestOf(a.request);
      this.matches(request, a);
      for (const d of request.decisions) decisions.add(d);
    }
    this.checkDecisions([...decisions]);
    const gate = gateFor(policy, a.scope, this.deps.clock.now());
    const what = describe(a);
    const base = { request: request?.id ?? null, decisions: [...decisions].sort((x, y) => x - y) };
    if (gate.freeze !== undefined) {
      if (a.breakGlass === undefined)
        throw new ChangeRefused(
          'refused',
          `${what} is refused: changes are frozen by freeze window \`${gate.freeze}\` (changes.freezes in the stack file)`,
          'wait until the window ends, or, if it cannot wait, give --break-glass "reason": it is audited and the approvers are notified',
        );
      if (!opts.dryRun) await this.breakGlass(a, gate.freeze, policy.notify);
      return { ...base, breakGlass: a.breakGlass.trim(), freeze: gate.freeze };
    }
    if (gate.approvals > 0) {
      if (!request)
        throw new ChangeRefused(
          'refused',
          `${what} needs ${gate.approvals} approval${gate.approvals === 1 ? '' : 's'} from people other than its author (changes.approvals: ${gate.rules.join(', ')})`,
          `request it with ${REQUEST_HINT[a.kind](a)}, have an approver run \`groundwork change approve ID\`, then carry out that request`,
        );
      const by = countingApprovals(request, users);
      if (by.length < gate.approvals) {
        const own = request.approvals.filter((x) => x.by === request?.author).length;
        throw new ChangeRefused(
          'refused',
          `change request #${request.id} has ${by.length} of the ${gate.approvals} approval${gate.approvals === 1 ? '' : 's'} it needs${by.length ? ` (${by.join(', ')})` : ''}${own ? `; its author's own approval does not count` : ''}`,
          `an approver other than ${request.author} runs \`groundwork change approve ${request.id}\``,
        );
      }
    }
    return { ...base, breakGlass: null, freeze: null };
  }

  /** Writes what admission found onto the change, and marks its request carried out. */
  async record(changeId: number | null, admission: Admission): Promise<void> {
    if (changeId === null) return;
    const store = this.deps.store;
    await store.journal.noteChange(changeId, {
      request: admission.request,
      decisions: admission.decisions,
      breakGlass: admission.breakGlass,
    });
    if (admission.request !== null) await store.changeRequests.claimRequest(admission.request, changeId);
  }

  /**
   * A secret rotation carried out, on the audit log beside the API calls: who, which secret, the
   * version, the change and its request, the services restarted. Never the value.
   */
  async auditRotation(
    r: { secret: string; version: number; author: string; services: readonly string[]; changeId: number },
    admission: Admission,
  ): Promise<void> {
    const via = [
      admission.request !== null ? `change request #${admission.request}` : null,
      admission.breakGlass !== null ? `break-glass: ${admission.breakGlass}` : null,
    ].filter((x): x is string => x !== null);
    await new AuditLog(this.deps.store.audit, this.deps.clock).append({
      token: null,
      user: r.author,
      remote: 'operations',
      method: 'rotate',
      path: `secret.${r.secret}`,
      route: null,
      operation: 'secret.rotate',
      service: null,
      decision: 'allowed',
      status: 0,
      reason: `version ${r.version} by change #${r.changeId}${via.length ? ` (${via.join('; ')})` : ''}; restarted ${r.services.length ? r.services.map((s) => `service.${s}`).join(', ') : 'no service'}`,
    });
  }

  async request(input: NewChangeRequest): Promise<ChangeRequestView> {
    this.checkDecisions(input.decisions);
    const store = this.deps.store.changeRequests;
    const id = await store.saveRequest({
      kind: input.kind,
      service: input.service,
      subject: input.subject,
      hash: subjectHash(input.subject),
      author: input.author,
      message: input.message,
      decisions: [...input.decisions].sort((a, b) => a - b),
    });
    return this.show(id);
  }

  async approve(id: number, by: string, comment: string): Promise<ChangeRequestView> {
    const r = await this.requestOf(id);
    this.notRefused(r, 'approve');
    if (r.appliedChange !== null)
      throw new ChangeRefused(
        'refused',
        `cannot approve change request #${id}: it was already carried out by change #${r.appliedChange}`,
        `request a new change with ${REQUEST_HINT[r.kind](r)}`,
      );
    const { users } = await this.context();
    const problem = approverProblem(by, r.author, users);
    if (problem)
      throw new ChangeRefused(
        'refused',
        `cannot approve change request #${id}: ${problem}`,
        `an approver other than ${r.author} approves it (role approver or admin under people:)`,
      );
    await this.deps.store.changeRequests.addApproval(id, { by, at: this.deps.clock.now().toISOString(), comment });
    return this.show(id);
  }

  /**
   * Refuses a request with a reason: rejected by someone who may approve it, or withdrawn by its
   * author. Refused, it can no longer be approved or carried out.
   */
  async reject(id: number, by: string, reason: string): Promise<ChangeRequestView> {
    const why = reason.trim();
    if (!why)
      throw new ChangeRefused(
        'bad-request',
        `rejecting change request #${id} needs a reason`,
        'say why, e.g. `groundwork change reject 3 --reason "the plan deletes the database volume"`',
      );
    const r = await this.requestOf(id);
    this.notRefused(r, 'reject');
    if (r.appliedChange !== null)
      throw new ChangeRefused(
        'refused',
        `cannot reject change request #${id}: it was already carried out by change #${r.appliedChange}`,
        'a change made cannot be refused; undo it with a new change (`groundwork rollback SERVICE`, or a new apply)',
      );
    const { users } = await this.context();
    const problem = refuserProblem(by, r.author, users);
    if (problem)
      throw new ChangeRefused(
        'refused',
        `cannot reject change request #${id}: ${problem}`,
        `an approver (role approver or admin under people:) rejects it, or its author ${r.author} withdraws it`,
      );
    const at = this.deps.clock.now().toISOString();
    if (!(await this.deps.store.changeRequests.refuseRequest(id, { by, at, reason: why }))) {
      // Lost a race with a claim or another refusal: say what won.
      const now = await this.requestOf(id);
      this.notRefused(now, 'reject');
      throw new ChangeRefused(
        'refused',
        `cannot reject change request #${id}: it was carried out by change #${now.appliedChange ?? '?'} meanwhile`,
        'a change made cannot be refused; undo it with a new change',
      );
    }
    return this.show(id);
  }

  /** The author takes their own request back, with a reason; anyone else is pointed at reject. */
  async withdraw(id: number, by: string, reason: string): Promise<ChangeRequestView> {
    const r = await this.requestOf(id);
    if (by !== r.author)
      throw new ChangeRefused(
        'refused',
        `cannot withdraw change request #${id}: only its author ${r.author} may, not \`${by}\``,
        `an approver rejects it instead: \`groundwork change reject ${id} --reason "why"\``,
      );
    return this.reject(id, by, reason);
  }

  async list(limit: number): Promise<ChangeRequestView[]> {
    const { policy, users } = await this.context();
    const now = this.deps.clock.now();
    return (await this.deps.store.changeRequests.listRequests(limit)).map((r) =>
      requestView(r, gateFor(policy, scopeOf(r), now).approvals, users),
    );
  }

  async show(id: number): Promise<ChangeRequestView> {
    const r = await this.requestOf(id);
    const { policy, users } = await this.context();
    return requestView(r, gateFor(policy, scopeOf(r), this.deps.clock.now()).approvals, users);
  }

  /** The decision records of the stack's directory (docs/decisions/), oldest first. */
  decisions(): DecisionRecord[] {
    return listDecisions(this.stackDir);
  }

  /** Decision `n` with its Markdown; not-found naming the numbers there are. */
  decision(n: number): DecisionDocument {
    const d = Number.isInteger(n) && n > 0 ? tryReadDecision(this.stackDir, n) : undefined;
    if (d) return d;
    const there = listDecisions(this.stackDir).map((x) => `#${x.number}`);
    throw new ChangeRefused(
      'not-found',
      `there is no decision record #${n} under docs/decisions/${there.length ? ` (there are ${there.join(', ')})` : ' (there are none yet)'}`,
      '`groundwork decision list` lists them; `groundwork decision new "Title"` writes one',
    );
  }

  /** The request, or not-found naming how to list them. */
  async requestOf(id: number): Promise<ChangeRequestRow> {
    const r = Number.isInteger(id) ? await this.deps.store.changeRequests.tryGetRequest(id) : undefined;
    if (!r)
      throw new ChangeRefused('not-found', `there is no change request #${id}`, '`groundwork change list` lists them');
    return r;
  }

  /** A refused request is final: approving, rejecting again or carrying it out names who refused it and why. */
  private notRefused(r: ChangeRequestRow, verb: string): void {
    const text = refusedText(r);
    if (text === undefined) return;
    throw new ChangeRefused(
      'refused',
      `cannot ${verb} change request #${r.id}: ${text}`,
      `a refused request stays refused; address the reason and request the change again with ${REQUEST_HINT[r.kind](r)}`,
    );
  }

  private matches(r: ChangeRequestRow, a: ChangeAttempt): void {
    if (r.kind !== a.kind || r.service !== a.service)
      throw new ChangeRefused(
        'bad-request',
        `change request #${r.id} is a ${describeRequest(r)}, not a ${describe(a)}`,
        `carry it out with \`${carryOutCommand(r)}\``,
      );
    this.notRefused(r, 'carry out');
    if (r.appliedChange !== null)
      throw new ChangeRefused(
        'refused',
        `change request #${r.id} was already carried out by change #${r.appliedChange}`,
        `an approval is for one change; request a new one with ${REQUEST_HINT[r.kind](r)}`,
      );
    const hash = subjectHash(a.subject);
    if (hash !== r.hash)
      throw new ChangeRefused(
        'refused',
        `change request #${r.id} approved ${r.hash.slice(0, 12)}, but what would run now is ${hash.slice(0, 12)}: ${r.kind === 'rotate' ? "the secret's version or the services using it" : 'the stack file or the recorded state'} changed since it was requested`,
        `request the change again with ${REQUEST_HINT[r.kind](r)} and have it approved`,
      );
  }

  private checkDecisions(numbers: readonly number[]): void {
    const missing = missingDecisions(this.stackDir, numbers);
    if (missing.length)
      throw new ChangeRefused(
        'bad-request',
        `no decision record ${missing.map((n) => `#${n}`).join(', ')} under docs/decisions/`,
        '`groundwork decision list` lists them; `groundwork decision new "Title"` writes one',
      );
  }

  private async breakGlass(a: ChangeAttempt, freeze: string, channels: readonly string[]): Promise<void> {
    const reason = (a.breakGlass ?? '').trim();
    const now = this.deps.clock.now();
    const target = a.kind === 'rotate' ? `secret.${secretOf(a)}` : a.service ? `service.${a.service}` : 'stack';
    await new AuditLog(this.deps.store.audit, this.deps.clock).append({
      token: null,
      user: a.author,
      remote: 'operations',
      method: a.kind,
      path: target,
      route: null,
      operation: 'change.break-glass',
      service: a.service,
      decision: 'allowed',
      status: 0,
      reason: `break-glass during freeze window ${freeze}: ${reason}`,
    });
    if (!channels.length) return;
    const n: Notification = {
      alert: 'break-glass',
      fingerprint: `break-glass-${now.getTime()}`,
      status: 'firing',
      severity: 'warning',
      summary: `Break-glass ${describe(a)} by ${a.author} during freeze window ${freeze}`,
      description: reason,
      labels: { kind: a.kind, target, author: a.author, freeze },
      annotations: { reason },
      startsAt: now.toISOString(),
      endsAt: null,
      links: {},
    };
    await enqueueNotification(this.deps.store.outbox, channels, n, now.toISOString());
  }
}

function describe(a: Target): string {
  if (a.kind === 'rotate') return `rotation of secret \`${secretOf(a)}\``;
  return a.service ? `${a.kind} of service \`${a.service}\`` : `${a.kind} of the stack`;
}

function describeRequest(r: ChangeRequestRow): string {
  return describe(r);
}

/** What a request touches, for the policy: the service of a deploy or rollback, the steps of a plan. */
function scopeOf(r: ChangeRequestRow): ChangeScope {
  if (r.service !== null) return { services: [r.service], other: false };
  // A rotation touches the services that use the secret (as they were when it was requested).
  if (r.kind === 'rotate') {
    const services = r.subject.services;
    return {
      services: Array.isArray(services) ? services.filter((s): s is string => typeof s === 'string') : [],
      other: false,
    };
  }
  const plan = r.subject.plan;
  const steps = plan && typeof plan === 'object' && !Array.isArray(plan) ? plan.steps : undefined;
  const addresses = Array.isArray(steps)
    ? steps.flatMap((s) =>
        s && typeof s === 'object' && !Array.isArray(s) && typeof s.address === 'string' ? [s.address] : [],
      )
    : [];
  return scopeOfAddresses(addresses);
}
