/**
 * Change requests: a change written down before it is made, so that others can approve exactly
 * it. What is approved is the hash of the request's subject (a saved plan, or a deploy's or
 * rollback's inputs with the state and stack they were made against); carrying it out recomputes
 * that and refuses when anything moved.
 */
import { createHash } from 'node:crypto';
import type { JsonObject } from '../model/resource.js';
import { ROLE_PERMISSIONS, isRole } from '../security/roles.js';
import type { Users } from '../security/roles-stack-users.js';
import type { ChangeRequestRow } from '../store/store.js';

/** How a refusal reads in errors and lists: `change request #3 was rejected by ben at …: "reason"`. */
export function refusedText(r: ChangeRequestRow): string | undefined {
  const f = r.refusal;
  if (!f) return undefined;
  const who = f.by === r.author ? `withdrawn by its author ${f.by}` : `rejected by ${f.by}`;
  return `change request #${r.id} was ${who} at ${f.at}: "${f.reason}"`;
}

/** SHA-256 of a subject's canonical JSON (keys sorted), so equal subjects hash equal. */
export function subjectHash(subject: JsonObject): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(subject)), 'utf8')
    .digest('hex');
}

/**
 * Whether `person` may count as an approver: not the author, and when the stack file declares
 * people, one of them with a role that approves (approver, admin).
 */
export function approverProblem(person: string, author: string, users: Users | undefined): string | undefined {
  if (person === author) return `\`${person}\` is the author of this change and may not approve it`;
  return approvingRoleProblem(person, users);
}

/**
 * Whether `person` may refuse a request: its author may always withdraw their own; anyone else
 * needs what approving needs (a person whose role approves), since a refusal decides as much.
 */
export function refuserProblem(person: string, author: string, users: Users | undefined): string | undefined {
  if (person === author) return undefined;
  return approvingRoleProblem(person, users);
}

function approvingRoleProblem(person: string, users: Users | undefined): string | undefined {
  if (!users || Object.keys(users).length === 0) return undefined;
  const u = users[person];
  if (!u) return `\`${person}\` is not a person of the stack file (people:)`;
  if (!isRole(u.role) || !ROLE_PERMISSIONS[u.role].has('change.approve'))
    return `\`${person}\` has role ${u.role}, which does not approve changes (approver and admin do)`;
  return undefined;
}

/** The approvals that count: by someone other than the author who may approve (as the stack file says now). */
export function countingApprovals(r: ChangeRequestRow, users: Users | undefined): string[] {
  return r.approvals.filter((a) => approverProblem(a.by, r.author, users) === undefined).map((a) => a.by);
}

/** How a change request is shown (API and CLI): the row, what approves it and what it still needs. */
export interface ChangeRequestView extends ChangeRequestRow {
  /** Approvals the policy asks now (0: none needed). */
  required: number;
  /** Approvers whose approval counts. */
  approvedBy: string[];
  /** refused: turned down (`refusal` says by whom and why); it can no longer be approved or carried out. */
  status: 'pending' | 'approved' | 'applied' | 'refused';
}

export function requestView(r: ChangeRequestRow, required: number, users: Users | undefined): ChangeRequestView {
  const approvedBy = countingApprovals(r, users);
  const status =
    r.appliedChange !== null
      ? 'applied'
      : r.refusal !== null
        ? 'refused'
        : approvedBy.length >= required
          ? 'approved'
          : 'pending';
  return { ...r, required, approvedBy, status };
}
