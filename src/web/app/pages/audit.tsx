/**
 * The audit log: newest first, filtered by who, action and outcome, a page at a time. GET /v1/audit
 * lists oldest first from `after`, so the page reads the whole log once in chunks, then only the new
 * entries, and filters here (a home lab's log is thousands of entries, not millions). Whether the
 * hash chain is intact is asked of the server (GET /v1/audit/verify, the same check as `groundwork
 * audit verify`): it recomputes every hash, so an edited entry is found too, not only a deleted or
 * reordered one, and the page need not hold the whole log to answer.
 */
import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { getJson } from '../api.js';
import type { AuditRecord, AuditVerification } from '../api-types.js';
import { useSession } from '../session.js';
import { Table, type Column } from '../table.js';
import { useApi, type ApiState } from '../use-api.js';

const CHUNK = 1000;
/** Beyond this the page stops reading and says so (the CLI exports everything). */
const MAX_ENTRIES = 50_000;
const PAGE = 50;
const OUTCOMES = ['any', 'allowed', 'denied'] as const;
type Outcome = (typeof OUTCOMES)[number];

interface Log {
  entries: AuditRecord[];
  truncated: boolean;
}

/**
 * Reads the entries after those already read (`known`, oldest first): the first load reads the
 * whole log in chunks, each refresh only what was written since.
 */
async function loadLog(known: readonly AuditRecord[], signal: AbortSignal): Promise<Log> {
  const entries = [...known];
  let after = entries[entries.length - 1]?.seq ?? 0;
  while (entries.length < MAX_ENTRIES) {
    const chunk = await getJson<AuditRecord[]>(`/v1/audit?after=${after}&limit=${CHUNK}`, signal);
    entries.push(...chunk);
    const last = chunk[chunk.length - 1];
    if (chunk.length < CHUNK || !last) break;
    after = last.seq;
  }
  return { entries, truncated: entries.length >= MAX_ENTRIES };
}

/** The action of an entry as people say it: the declared route, else the method and path. */
function actionOf(e: AuditRecord): string {
  return e.route ?? `${e.method} ${e.path}`;
}

const COLUMNS: Column<AuditRecord>[] = [
  { head: '#', cell: (e) => e.seq },
  {
    head: 'When',
    cell: (e) => <time dateTime={e.at}>{new Date(e.at).toLocaleString()}</time>,
  },
  {
    head: 'Who',
    cell: (e) => (
      <>
        {e.user ?? e.token ?? 'unknown token'}
        {e.user && e.token ? <span class="muted small"> ({e.token})</span> : null}
      </>
    ),
  },
  {
    head: 'Action',
    cell: (e) => (
      <>
        <code>{actionOf(e)}</code>
        {e.route && e.path !== e.route.replace(/^\S+ /, '') ? <span class="muted small"> {e.path}</span> : null}
      </>
    ),
  },
  {
    head: 'Outcome',
    cell: (e) => (
      <>
        <span class={`badge ${e.decision === 'allowed' ? 'healthy' : 'down'}`}>{e.decision}</span>{' '}
        {/* A change is written down twice: before it runs (status 0, "started") and with its status. */}
        <span class="muted small">{e.status === 0 ? 'started' : e.status}</span>
        {e.reason && e.reason !== 'started' ? <div class="small">{e.reason}</div> : null}
      </>
    ),
  },
  { head: 'From', cell: (e) => e.remote, wide: true },
];

function matches(e: AuditRecord, who: string, action: string, outcome: Outcome): boolean {
  if (outcome !== 'any' && e.decision !== outcome) return false;
  if (who && ![e.user, e.token].some((x) => x?.toLowerCase().includes(who))) return false;
  if (action && ![actionOf(e), e.path, e.operation].some((x) => x?.toLowerCase().includes(action))) return false;
  return true;
}

/** The server's verdict on the chain: intact, or where it first breaks and why. */
function ChainStatus(p: { verify: ApiState<AuditVerification>; truncated: number | undefined }): JSX.Element | null {
  const v = p.verify.data;
  if (!v) return p.verify.error ? <p class="error">Could not verify the chain: {p.verify.error}</p> : null;
  const [first, ...more] = v.problems;
  if (!first)
    return (
      <p class="muted small" data-testid="chain" data-ok="true">
        Verified on the server: all {v.entries} entries match their hashes, each chained on the one before
        {p.truncated !== undefined ? ` (this page shows the first ${p.truncated}: export the rest with the CLI)` : ''}.
      </p>
    );
  return (
    <div class="error" role="alert" data-testid="chain" data-ok="false" data-broken-seq={String(first.seq)}>
      <p>
        <strong>The chain is broken at entry #{first.seq}</strong>: {first.message}.
        {more.length > 0 ? ` ${more.length} more problem${more.length > 1 ? 's' : ''} after it:` : ''}
      </p>
      {more.length > 0 ? (
        <ul class="small">
          {more.slice(0, 10).map((x, i) => (
            <li key={i}>{x.message}</li>
          ))}
          {more.length > 10 ? <li>and {more.length - 10} more (`groundwork audit verify` lists all)</li> : null}
        </ul>
      ) : null}
      <p class="small">Compare with an exported copy (`groundwork audit export`) to see what the entry said before.</p>
    </div>
  );
}

function AuditLog(): JSX.Element {
  const read = useRef<readonly AuditRecord[]>([]);
  const log = useApi(
    async (signal) => {
      const l = await loadLog(read.current, signal);
      read.current = l.entries;
      return l;
    },
    { every: 15_000 },
  );
  const verify = useApi<AuditVerification>('/v1/audit/verify', { every: 15_000 });
  const refresh = () => {
    log.refresh();
    verify.refresh();
  };
  const [who, setWho] = useState('');
  const [action, setAction] = useState('');
  const [outcome, setOutcome] = useState<Outcome>('any');
  const [page, setPage] = useState(0);
  const entries = log.data?.entries ?? [];
  const shown = entries
    .filter((e) => matches(e, who.trim().toLowerCase(), action.trim().toLowerCase(), outcome))
    .reverse();
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const at = Math.min(page, pages - 1);
  const filter = (set: (v: string) => void) => (e: Event) => {
    set((e.currentTarget as HTMLInputElement).value);
    setPage(0);
  };
  return (
    <>
      {log.error ? (
        <p class="error" role="alert">
          {log.error}
        </p>
      ) : null}
      <ChainStatus verify={verify} truncated={log.data?.truncated ? entries.length : undefined} />
      {!log.data && log.loading ? <p class="muted">Loading…</p> : null}
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the audit log">
        <label>
          Who <input id="audit-who" value={who} onInput={filter(setWho)} placeholder="person or token" />
        </label>
        <label>
          Action <input id="audit-action" value={action} onInput={filter(setAction)} placeholder="approve, deploy…" />
        </label>
        <label>
          Outcome{' '}
          <select id="audit-outcome" value={outcome} onChange={filter((v) => setOutcome(v as Outcome))}>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={refresh} data-action="refresh">
          Load new entries
        </button>
      </form>
      <Table
        class="audit"
        stacked
        rows={log.data ? shown.slice(at * PAGE, (at + 1) * PAGE) : undefined}
        columns={COLUMNS}
        rowKey={(e) => e.seq}
        rowAttrs={(e) => ({ 'data-seq': String(e.seq), 'data-decision': e.decision })}
        empty="No entries match."
        labelledBy="audit-h"
      />
      {pages > 1 ? (
        <nav class="actions" aria-label="Pages of the audit log">
          <button type="button" disabled={at === 0} onClick={() => setPage(at - 1)}>
            Newer
          </button>
          <span>
            page {at + 1} of {pages}
          </span>
          <button type="button" disabled={at >= pages - 1} onClick={() => setPage(at + 1)}>
            Older
          </button>
        </nav>
      ) : null}
    </>
  );
}

export function AuditPage(): JSX.Element {
  const { can, who } = useSession();
  return (
    <main id="main">
      <h1 id="audit-h">Audit log</h1>
      {!who ? (
        <p class="muted">Loading…</p>
      ) : can('access.admin') ? (
        <AuditLog />
      ) : (
        <p class="error" data-testid="audit-refused">
          Your role ({who.role}) cannot read the audit log: it needs the access.admin permission, which the admin role
          has. `groundwork audit` shows it to whoever can read the state directory.
        </p>
      )}
    </main>
  );
}
