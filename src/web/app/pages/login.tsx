/** The login page: a token in, the session cookie out (POST /ui/login; src/web/server/dashboard.ts). */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';

/** Where to go after login: only a dashboard path (never another site, from a crafted link). */
function nextPath(): string {
  const next = new URLSearchParams(location.search).get('next') ?? '';
  return next.startsWith('/ui/') && !next.startsWith('/ui/login') ? next : '/ui/';
}

export function LoginPage(): JSX.Element {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const res = await fetch('/ui/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
        credentials: 'same-origin',
      });
      if (res.ok) {
        location.assign(nextPath());
        return;
      }
      const body = (await res.json().catch(() => ({}))) as { error?: { message: string; fix?: string } };
      setError(
        body.error
          ? `${body.error.message}.${body.error.fix ? ` Fix: ${body.error.fix}.` : ''}`
          : `${res.status} ${res.statusText}`,
      );
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
    setBusy(false);
  };
  return (
    <main id="main" class="login">
      <h1>Groundwork</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <p class="muted">
          A token from <code>groundwork token create</code>, or the daemon's own in{' '}
          <code>.groundwork/daemon.token</code>. It is kept in an HttpOnly cookie, out of reach of scripts.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}
