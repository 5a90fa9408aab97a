/**
 * The audit log: newest first, filtered by who, action and outcome, a page at a time. GET /v1/audit
 * lists oldest first from `after`, so the page reads the whole log once in chunks, then only the new
 * entries, and filters here (a home lab's log is thousands of entries, not millions); it checks that each entry chains on the one
 * before (prevHash), which catches a deleted or reordered entry. Recomputing the hashes (an edited
 * entry) is `groundwork audit verify`'s job: the API does not answer it.
 */
import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { getJson } from '../api.js';
import type { AuditRecord } from '../api-types.js';
import { useSession } from '../session.js';
import { Table, type Column } from '../table.js';
import { useApi } from '../use-api.js';

const CHUNK = 1000;
/** Beyond this the page stops reading and says so (the CLI exports everything). */
const MAX_ENTRIES = 50_000;
const PAGE = 50;
const OUTCOMES = ['any', 'allowed', 'denied'] as const;
type Outcome = (typeof OUTCOMES)[number];

interface Log {
  entries: AuditRecord[];
  truncated: boolean;
  /** The first entry that does not chain on the one before it, if any. */
  broken: AuditRecord | undefined;
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
  const broken = entries.find((e, i) => {
    const prev = entries[i - 1];
    return prev !== undefined && (e.seq !== prev.seq + 1 || e.prevHash !== prev.hash);
  });
  return { entries, truncated: entries.length >= MAX_ENTRIES, broken };
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
      {log.data ? (
        log.data.broken ? (
          <p class="error" role="alert" data-testid="chain">
            The chain is broken at entry #{log.data.broken.seq}: it does not follow the entry before it (an entry was
            deleted or reordered). Run `groundwork audit verify` for the full check.
          </p>
        ) : (
          <p class="muted small" data-testid="chain">
            {entries.length} entries, each chained on the one before
            {log.data.truncated ? ` (the first ${entries.length} only: export the rest with the CLI)` : ''}. `groundwork
            audit verify` also recomputes their hashes.
          </p>
        )
      ) : log.loading ? (
        <p class="muted">Loading…</p>
      ) : null}
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
        <button type="button" onClick={log.refresh} data-action="refresh">
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
