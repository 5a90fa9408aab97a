/** Alerts (with acknowledge) and silences (list, add, expire). */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { postJson } from '../api.js';
import type { Alerts, AlertView, SilenceView } from '../api-types.js';
import { ago, errorText } from '../format.js';
import { useSession } from '../session.js';
import { Table, type Column } from '../table.js';
import { useApi } from '../use-api.js';

function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
}

function AddSilence(p: { onAdded: () => void }): JSX.Element {
  const [matchers, setMatchers] = useState('');
  const [duration, setDuration] = useState('1h');
  const [comment, setComment] = useState('');
  const [message, setMessage] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    const list = matchers
      .split(/[\n,]/)
      .map((m) => m.trim())
      .filter((m) => m !== '');
    try {
      await postJson('/v1/silences', { matchers: list, duration, ...(comment ? { comment } : {}) });
      setMatchers('');
      setComment('');
      setMessage('Silence added.');
      p.onAdded();
    } catch (err) {
      setMessage(errorText(err));
    }
  };
  return (
    <form class="stack-form" onSubmit={(e) => void submit(e)} aria-labelledby="add-silence-h">
      <h3 id="add-silence-h">Add a silence</h3>
      <label for="matchers">Matchers (one per line or comma-separated)</label>
      <input
        id="matchers"
        required
        placeholder='alertname="web-down"'
        value={matchers}
        onInput={(e) => setMatchers(e.currentTarget.value)}
      />
      <label for="duration">For</label>
      <input id="duration" required value={duration} onInput={(e) => setDuration(e.currentTarget.value)} />
      <label for="comment">Comment</label>
      <input id="comment" value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      <button type="submit">Add silence</button>
      {message ? <p role="status">{message}</p> : null}
    </form>
  );
}

/** `act` posts to a path and reloads; absent for roles that may not act (no buttons then). */
type Act = (path: string) => Promise<void>;

function alertColumns(act: Act | undefined): Column<AlertView>[] {
  return [
    { head: 'Rule', cell: (a) => a.rule },
    {
      head: 'State',
      cell: (a) => (
        <>
          <span class={`badge ${a.state === 'firing' ? 'down' : 'degraded'}`}>{a.state}</span>
          {a.suppressedBy ? <span class="muted small"> silenced ({a.suppressedBy})</span> : null}
        </>
      ),
    },
    { head: 'Labels', cell: (a) => labelsText(a.labels), wide: true },
    { head: 'Since', cell: (a) => ago(a.activeAt) },
    {
      head: 'Ack',
      cell: (a) =>
        a.ackedBy ? (
          `by ${a.ackedBy}`
        ) : act ? (
          <button type="button" onClick={() => void act(`/v1/alerts/${encodeURIComponent(a.fingerprint)}/ack`)}>
            Acknowledge
          </button>
        ) : (
          '—'
        ),
    },
  ];
}

function silenceColumns(act: Act | undefined): Column<SilenceView>[] {
  return [
    { head: '#', cell: (x) => x.id },
    { head: 'Matchers', cell: (x) => x.matchers.join(', ') },
    {
      head: 'Comment',
      cell: (x) => (
        <>
          {x.comment} <span class="muted small">({x.author})</span>
        </>
      ),
      wide: true,
    },
    { head: 'Ends', cell: (x) => (x.active ? new Date(x.endsAt).toLocaleString() : 'expired') },
    {
      head: '',
      cell: (x) =>
        x.active && act ? (
          <button type="button" onClick={() => void act(`/v1/silences/${x.id}/expire`)}>
            Expire
          </button>
        ) : null,
    },
  ];
}

export function AlertsPage(): JSX.Element {
  const { can } = useSession();
  const alerts = useApi<Alerts>('/v1/alerts', { every: 5000 });
  const [actionError, setActionError] = useState<string | undefined>(undefined);
  const act = async (path: string) => {
    setActionError(undefined);
    try {
      await postJson(path, {});
      alerts.refresh();
    } catch (e) {
      setActionError(errorText(e));
    }
  };
  const mayAct = can('service.operate');
  return (
    <main id="main">
      <h1>Alerts</h1>
      {alerts.error ? <p class="error">{alerts.error}</p> : null}
      {actionError ? (
        <p class="error" role="alert">
          {actionError}
        </p>
      ) : null}
      <section aria-labelledby="alerts-h">
        <h2 id="alerts-h">Alerts</h2>
        <Table
          rows={alerts.data?.alerts}
          columns={alertColumns(mayAct ? act : undefined)}
          rowKey={(a) => a.fingerprint}
          rowAttrs={(a) => ({ 'data-rule': a.rule })}
          empty="No alert is pending or firing."
          labelledBy="alerts-h"
        />
      </section>
      <section aria-labelledby="silences-h">
        <h2 id="silences-h">Silences</h2>
        <Table
          rows={alerts.data?.silences}
          columns={silenceColumns(mayAct ? act : undefined)}
          rowKey={(x) => x.id}
          rowAttrs={(x) => ({ class: x.active ? undefined : 'muted' })}
          empty="No silences."
          labelledBy="silences-h"
        />
        {mayAct ? <AddSilence onAdded={alerts.refresh} /> : null}
      </section>
    </main>
  );
}
