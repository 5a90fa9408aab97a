/**
 * Changes and approvals: change requests (pending, approved, applied, refused) with what each
 * approves (a plan's summary, a deploy's or rollback's inputs), the approvals so far and what is
 * still needed, Approve and Reject buttons for roles that approve (a rejection asks for its
 * reason), Withdraw for a request's author; and the stack's decision records with their text.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { getJson, postJson } from '../api.js';
import type { ChangeRequest, Decision, DecisionDetail } from '../api-types.js';
import { ago, errorText } from '../format.js';
import { useSession } from '../session.js';
import { useApi } from '../use-api.js';

const STATUSES = ['all', 'pending', 'approved', 'applied', 'refused'] as const;
type Filter = (typeof STATUSES)[number];

const BADGE: Record<ChangeRequest['status'], string> = {
  pending: 'degraded',
  approved: 'healthy',
  applied: 'stopped',
  refused: 'down',
};

/** As `groundwork plan` writes them. */
const ACTION_SIGN: Record<string, string> = { create: '+', update: '~', replace: '-/+', delete: '-' };

interface PlanLike {
  summary: { create: number; update: number; replace: number; delete: number; unchanged: number };
  steps: { address: string; action: string }[];
}

function isPlan(v: unknown): v is PlanLike {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as { summary?: unknown; steps?: unknown };
  return typeof p.summary === 'object' && p.summary !== null && Array.isArray(p.steps);
}

/** What the request approves, in a few lines: the plan's counts and steps, or the deploy's inputs. */
function Subject(p: { request: ChangeRequest }): JSX.Element {
  const { subject } = p.request;
  const plan = subject['plan'];
  if (isPlan(plan)) {
    const s = plan.summary;
    const steps = plan.steps.filter((x) => ACTION_SIGN[x.action] !== undefined);
    return (
      <div class="subject">
        <p>
          Plan: {s.create} to create, {s.update} to update, {s.replace} to replace, {s.delete} to delete
          <span class="muted"> ({s.unchanged} unchanged)</span>
        </p>
        {steps.length > 0 ? (
          <ul class="plan-steps">
            {steps.slice(0, 20).map((x) => (
              <li key={x.address}>
                <code>
                  {ACTION_SIGN[x.action]} {x.address}
                </code>
              </li>
            ))}
            {steps.length > 20 ? <li class="muted">and {steps.length - 20} more</li> : null}
          </ul>
        ) : null}
      </div>
    );
  }
  // A deploy or rollback: its inputs (service, ref, commit, the state serial it was made against).
  const fields = Object.entries(subject).filter(([, v]) => v !== null && typeof v !== 'object');
  return (
    <dl class="subject">
      {fields.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            <code>{String(v)}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** The command that carries out an approved request (as change/change-control.ts `carryOutCommand` says). */
function carryOut(r: ChangeRequest): string {
  const secret = typeof r.subject['secret'] === 'string' ? r.subject['secret'] : 'SECRET';
  if (r.kind === 'rotate') return `groundwork secret rotate ${secret} --change ${r.id}`;
  if (r.kind === 'apply') return `groundwork apply ${r.id}`;
  return `groundwork ${r.kind} ${r.service ?? 'SERVICE'} --change ${r.id}`;
}

/** Why the caller may not approve `r`, or undefined when they may. */
function approveRefusal(r: ChangeRequest, me: string | undefined): string | undefined {
  if (me !== undefined && me === r.author) return 'You wrote this request: someone else must approve it.';
  if (me !== undefined && r.approvals.some((a) => a.by === me)) return 'You approved this request already.';
  return undefined;
}

/**
 * Refusing a request: an approver rejects it, its author withdraws it; both ask for the reason
 * first (the API requires one) and say it cannot be undone.
 */
function RefuseForm(p: { request: ChangeRequest; verb: 'reject' | 'withdraw'; onChanged: () => void }): JSX.Element {
  const r = p.request;
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const label = p.verb === 'reject' ? 'Reject' : 'Withdraw';
  if (!open)
    return (
      <button type="button" data-action={p.verb} onClick={() => setOpen(true)}>
        {label} #{r.id}…
      </button>
    );
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!reason.trim()) {
      setMessage(`Say why you ${p.verb} it: the reason is kept with the request.`);
      return;
    }
    setBusy(true);
    setMessage(undefined);
    try {
      await postJson<ChangeRequest>(`/v1/change-requests/${r.id}/${p.verb}`, { reason });
      p.onChanged();
    } catch (err) {
      setMessage(errorText(err));
    }
    setBusy(false);
  };
  return (
    <form class="actions refuse" onSubmit={(e) => void submit(e)}>
      <label for={`reason-${r.id}`}>Why {p.verb === 'reject' ? 'reject' : 'withdraw'} it?</label>
      <input
        id={`reason-${r.id}`}
        value={reason}
        required
        maxLength={2000}
        onInput={(e) => setReason(e.currentTarget.value)}
        disabled={busy}
      />
      <button type="submit" data-action={`${p.verb}-confirm`} disabled={busy}>
        {label} #{r.id} for good
      </button>
      <button type="button" onClick={() => setOpen(false)} disabled={busy}>
        Cancel
      </button>
      {message ? (
        <p class="error" role="alert">
          {message}
        </p>
      ) : null}
    </form>
  );
}

function RequestCard(p: { request: ChangeRequest; onChanged: () => void }): JSX.Element {
  const { can, who } = useSession();
  const r = p.request;
  const [comment, setComment] = useState('');
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const me = who ? (who.user ?? who.tokenId) : undefined;
  const refusal = approveRefusal(r, me);
  const needed = Math.max(0, r.required - r.approvedBy.length);
  // Still open to a decision: not carried out, not refused.
  const open = r.status === 'pending' || r.status === 'approved';
  const approve = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMessage(undefined);
    try {
      await postJson<ChangeRequest>(`/v1/change-requests/${r.id}/approve`, comment.trim() ? { message: comment } : {});
      setComment('');
      p.onChanged();
    } catch (err) {
      setMessage(errorText(err));
    }
    setBusy(false);
  };
  return (
    <article class="request" data-request={r.id} data-status={r.status} aria-labelledby={`cr-${r.id}`}>
      <h3 id={`cr-${r.id}`}>
        #{r.id} {r.kind}
        {r.service ? ` ${r.service}` : ' the stack'} <span class={`badge ${BADGE[r.status]}`}>{r.status}</span>
      </h3>
      <p class="muted small">
        by {r.author}, {ago(r.createdAt)}
        {r.appliedChange !== null ? ` · carried out as change #${r.appliedChange}` : ''}
        {r.decisions.length > 0 ? ` · implements decision ${r.decisions.map((d) => `#${d}`).join(', ')}` : ''}
      </p>
      {r.message ? <p>{r.message}</p> : null}
      <Subject request={r} />
      {r.refusal ? (
        <p class="error" data-testid="refusal">
          {r.refusal.by === r.author ? 'Withdrawn by its author ' : 'Rejected by '}
          <strong>{r.refusal.by}</strong> {ago(r.refusal.at)}: <q>{r.refusal.reason}</q> It will not be carried out.
        </p>
      ) : null}
      <p class="approvals">
        {r.approvals.length === 0
          ? 'No approvals yet.'
          : r.approvals.map((a, i) => (
              <span key={i} class="approval">
                {i > 0 ? '; ' : ''}
                approved by <strong>{a.by}</strong> {ago(a.at)}
                {a.comment ? <q>{a.comment}</q> : null}
                {r.approvedBy.includes(a.by) ? null : <span class="muted small"> (does not count)</span>}
              </span>
            ))}{' '}
        <span data-testid="needed">
          {r.status === 'applied' || r.status === 'refused'
            ? ''
            : needed > 0
              ? `Needs ${needed} more approval${needed > 1 ? 's' : ''} (${r.required} required).`
              : `Approved: ready to carry out (\`${carryOut(r)}\`).`}
        </span>
      </p>
      {r.status === 'pending' && can('change.approve') ? (
        refusal ? (
          <p class="muted" data-testid="cannot-approve">
            {refusal}
          </p>
        ) : (
          <form class="actions" onSubmit={(e) => void approve(e)}>
            <label for={`comment-${r.id}`}>Comment</label>
            <input
              id={`comment-${r.id}`}
              value={comment}
              onInput={(e) => setComment(e.currentTarget.value)}
              disabled={busy}
            />
            <button type="submit" data-action="approve" disabled={busy}>
              Approve #{r.id}
            </button>
          </form>
        )
      ) : null}
      {open && me !== undefined && me === r.author && can('service.deploy') ? (
        <RefuseForm request={r} verb="withdraw" onChanged={p.onChanged} />
      ) : open && can('change.approve') ? (
        <RefuseForm request={r} verb="reject" onChanged={p.onChanged} />
      ) : null}
      {message ? (
        <p class="error" role="alert">
          {message}
        </p>
      ) : null}
    </article>
  );
}

/** A decision record; its Markdown is fetched when opened. */
function DecisionItem(p: { decision: Decision }): JSX.Element {
  const d = p.decision;
  const [text, setText] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const onToggle = (e: Event) => {
    if (!(e.currentTarget as HTMLDetailsElement).open || text !== undefined) return;
    getJson<DecisionDetail>(`/v1/decisions/${d.number}`).then(
      (x) => setText(x.markdown),
      (err: unknown) => setError(errorText(err)),
    );
  };
  return (
    <details data-decision={d.number} onToggle={onToggle}>
      <summary>
        #{d.number} {d.title} <span class="muted small">({d.status})</span>
      </summary>
      {error ? <p class="error">{error}</p> : null}
      {text !== undefined ? <pre class="markdown">{text}</pre> : error ? null : <p class="muted">Loading…</p>}
      <p class="muted small">{d.file}</p>
    </details>
  );
}

export function ChangesPage(): JSX.Element {
  const { can, who } = useSession();
  const [filter, setFilter] = useState<Filter>('all');
  const requests = useApi<ChangeRequest[]>('/v1/change-requests?limit=100', { every: 5000 });
  const decisions = useApi<Decision[]>('/v1/decisions');
  const list = (requests.data ?? []).filter((r) => filter === 'all' || r.status === filter);
  const count = (s: Filter) => (requests.data ?? []).filter((r) => s === 'all' || r.status === s).length;
  return (
    <main id="main">
      <h1>Changes and approvals</h1>
      {who && !can('change.approve') ? (
        <p class="muted" data-testid="no-approve">
          Your role ({who.role}) may not approve changes; approvers and admins can.
        </p>
      ) : null}
      <section aria-labelledby="requests-h">
        <h2 id="requests-h">Change requests</h2>
        <div class="actions" role="group" aria-label="Show">
          {STATUSES.map((s) => (
            <button key={s} type="button" aria-pressed={filter === s} onClick={() => setFilter(s)}>
              {s} ({count(s)})
            </button>
          ))}
        </div>
        {requests.error ? (
          <p class="error" role="alert">
            {requests.error}
          </p>
        ) : null}
        {requests.data && list.length === 0 ? (
          <p class="muted">
            No {filter === 'all' ? '' : `${filter} `}change requests. (`groundwork change request` writes one.)
          </p>
        ) : null}
        {list.map((r) => (
          <RequestCard key={r.id} request={r} onChanged={requests.refresh} />
        ))}
      </section>
      <section aria-labelledby="decisions-h">
        <h2 id="decisions-h">Decisions</h2>
        {decisions.error ? <p class="error">{decisions.error}</p> : null}
        {decisions.data && decisions.data.length === 0 ? (
          <p class="muted">No decision records (docs/decisions/NNNN-*.md next to the stack file).</p>
        ) : null}
        {(decisions.data ?? []).map((d) => (
          <DecisionItem key={d.number} decision={d} />
        ))}
      </section>
    </main>
  );
}
