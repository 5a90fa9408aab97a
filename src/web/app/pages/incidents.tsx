/**
 * Incidents: the list, and one incident with its timeline and acknowledge / resolve / note, and
 * the escalation policy it follows with the reason it was chosen (its alert rule's, its
 * service's, or the default), so whoever looks knows who is paged and why.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { postJson } from '../api.js';
import type { Incident, IncidentDetail, Incidents } from '../api-types.js';
import { ago, errorText } from '../format.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { Table, type Column } from '../table.js';
import { useApi } from '../use-api.js';

const BADGE: Record<string, string> = { triggered: 'down', acknowledged: 'degraded', resolved: 'healthy' };

const INCIDENT_COLUMNS: Column<Incident>[] = [
  { head: '#', cell: (i) => i.id },
  { head: 'Title', cell: (i) => <Link href={`/ui/incidents/${i.id}`}>{i.title}</Link> },
  { head: 'Status', cell: (i) => <span class={`badge ${BADGE[i.status] ?? ''}`}>{i.status}</span> },
  { head: 'Severity', cell: (i) => i.severity, wide: true },
  { head: 'Policy', cell: (i) => i.policy ?? <span class="muted">none</span>, wide: true },
  { head: 'Opened', cell: (i) => ago(i.createdAt) },
];

export function IncidentsPage(): JSX.Element {
  const incidents = useApi<Incidents>('/v1/incidents?limit=100', { every: 5000 });
  return (
    <main id="main">
      <h1>Incidents</h1>
      {incidents.error ? <p class="error">{incidents.error}</p> : null}
      <Table rows={incidents.data?.incidents} columns={INCIDENT_COLUMNS} rowKey={(i) => i.id} empty="No incidents." />
    </main>
  );
}

/** The policy the incident follows, where it stands in it, and why that policy. */
function Escalation(p: { incident: Incident; reason: string | null }): JSX.Element {
  const i = p.incident;
  const paging = i.status === 'triggered' && i.policy !== null;
  return (
    <section aria-labelledby="escalation-h" data-testid="escalation" data-policy={i.policy ?? ''}>
      <h2 id="escalation-h">Escalation</h2>
      <p>
        {i.policy !== null ? (
          <>
            Policy <code>{i.policy}</code>
            {paging ? `: paging step ${i.step + 1}${i.loop > 0 ? `, round ${i.loop + 1}` : ''}` : ''}
            {i.status !== 'triggered' ? ` (escalation stopped: ${i.status})` : ''}
          </>
        ) : (
          <strong>No escalation policy: nobody is paged.</strong>
        )}
      </p>
      <p class={p.reason === null ? 'muted' : i.policy === null ? 'error' : undefined} data-testid="policy-reason">
        {p.reason !== null
          ? `Why: this incident ${p.reason}.`
          : 'Why this policy was not recorded: the incident was opened before Groundwork wrote that down.'}
      </p>
    </section>
  );
}

export function IncidentPage(p: { id: string }): JSX.Element {
  const { can } = useSession();
  const detail = useApi<IncidentDetail>(`/v1/incidents/${p.id}`, { every: 5000 });
  const [note, setNote] = useState('');
  const [actionError, setActionError] = useState<string | undefined>(undefined);
  const act = async (action: 'ack' | 'resolve' | 'note', text?: string) => {
    setActionError(undefined);
    try {
      await postJson(`/v1/incidents/${p.id}/actions`, { action, ...(text ? { text } : {}) });
      if (action === 'note') setNote('');
      detail.refresh();
    } catch (e) {
      setActionError(errorText(e));
    }
  };
  const i = detail.data?.incident;
  const mayAct = can('service.operate');
  return (
    <main id="main">
      <p class="crumbs">
        <Link href="/ui/incidents">Incidents</Link> / #{p.id}
      </p>
      {detail.error ? <p class="error">{detail.error}</p> : null}
      {i ? (
        <>
          <h1>
            {i.title} <span class={`badge ${BADGE[i.status] ?? ''}`}>{i.status}</span>
          </h1>
          <p class="muted">
            {i.severity}
            {i.service ? ` · service ${i.service}` : ''} · opened {ago(i.createdAt)}
            {i.assignee ? ` · assigned to ${i.assignee}` : ''}
          </p>
          {mayAct && i.status !== 'resolved' ? (
            <div class="actions">
              {i.status === 'triggered' ? (
                <button type="button" onClick={() => void act('ack')}>
                  Acknowledge
                </button>
              ) : null}
              <button type="button" onClick={() => void act('resolve')}>
                Resolve
              </button>
            </div>
          ) : null}
          {actionError ? (
            <p class="error" role="alert">
              {actionError}
            </p>
          ) : null}
          <Escalation incident={i} reason={detail.data?.policyReason ?? null} />
          <section aria-labelledby="timeline-h">
            <h2 id="timeline-h">Timeline</h2>
            <ol class="timeline">
              {(detail.data?.timeline ?? []).map((t) => (
                <li key={t.id}>
                  <time dateTime={t.at}>{new Date(t.at).toLocaleString()}</time> <strong>{t.kind}</strong>{' '}
                  <span class="muted">{t.actor}</span> {t.text}
                </li>
              ))}
            </ol>
            {mayAct ? (
              <form
                class="actions"
                onSubmit={(e) => {
                  e.preventDefault();
                  if (note.trim()) void act('note', note.trim());
                }}
              >
                <label for="note">Note</label>
                <input id="note" value={note} onInput={(e) => setNote(e.currentTarget.value)} />
                <button type="submit">Add note</button>
              </form>
            ) : null}
          </section>
        </>
      ) : null}
    </main>
  );
}
