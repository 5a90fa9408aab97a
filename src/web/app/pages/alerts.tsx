/** Alerts (with acknowledge) and silences (list, add, expire). */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { getJson, postJson } from '../api.js';
import type { Alerts } from '../api-types.js';
import { ago, errorText } from '../format.js';
import { useSession } from '../session.js';
import { usePoll } from '../use-poll.js';

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

export function AlertsPage(): JSX.Element {
  const { can } = useSession();
  const alerts = usePoll((signal) => getJson<Alerts>('/v1/alerts', signal), 5000);
  const [actionError, setActionError] = useState<string | undefined>(undefined);
  const act = async (path: string) => {
    setActionError(undefined);
    try {
      await postJson(path, {});
      alerts.reload();
    } catch (e) {
      setActionError(errorText(e));
    }
  };
  const mayAct = can('service.operate');
  const list = alerts.data?.alerts ?? [];
  const silences = alerts.data?.silences ?? [];
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
        {alerts.data && list.length === 0 ? <p class="muted">No alert is pending or firing.</p> : null}
        <table hidden={list.length === 0}>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">State</th>
              <th scope="col" class="wide">
                Labels
              </th>
              <th scope="col">Since</th>
              <th scope="col">Ack</th>
            </tr>
          </thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.fingerprint}>
                <td>{a.rule}</td>
                <td>
                  <span class={`badge ${a.state === 'firing' ? 'down' : 'degraded'}`}>{a.state}</span>
                  {a.suppressedBy ? <span class="muted small"> silenced ({a.suppressedBy})</span> : null}
                </td>
                <td class="wide">{labelsText(a.labels)}</td>
                <td>{ago(a.activeAt)}</td>
                <td>
                  {a.ackedBy ? (
                    `by ${a.ackedBy}`
                  ) : mayAct ? (
                    <button
                      type="button"
                      onClick={() => void act(`/v1/alerts/${encodeURIComponent(a.fingerprint)}/ack`)}
                    >
                      Acknowledge
                    </button>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="silences-h">
        <h2 id="silences-h">Silences</h2>
        {alerts.data && silences.length === 0 ? <p class="muted">No silences.</p> : null}
        <table hidden={silences.length === 0}>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Matchers</th>
              <th scope="col" class="wide">
                Comment
              </th>
              <th scope="col">Ends</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {silences.map((s) => (
              <tr key={s.id} class={s.active ? undefined : 'muted'}>
                <td>{s.id}</td>
                <td>{s.matchers.join(', ')}</td>
                <td class="wide">
                  {s.comment} <span class="muted small">({s.author})</span>
                </td>
                <td>{s.active ? new Date(s.endsAt).toLocaleString() : 'expired'}</td>
                <td>
                  {s.active && mayAct ? (
                    <button type="button" onClick={() => void act(`/v1/silences/${s.id}/expire`)}>
                      Expire
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {mayAct ? <AddSilence onAdded={alerts.reload} /> : null}
      </section>
    </main>
  );
}
