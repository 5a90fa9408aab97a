/**
 * The dashboard's entry: the login page, or the session (GET /v1/whoami) and the page for the
 * path. Every page talks only to the /v1 API (and the Prometheus-style query routes).
 */
import { render, type JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { csrfToken, getJson, startEarly } from './api.js';
import type { Whoami } from './api-types.js';
import { errorText } from './format.js';
import { AlertsPage } from './pages/alerts.js';
import { ChecksPage } from './pages/checks.js';
import { MetricsPage } from './pages/metrics.js';
import { RoutesPage } from './pages/routes.js';
import { AuditPage } from './pages/audit.js';
import { ChangesPage } from './pages/changes.js';
import { IncidentPage, IncidentsPage } from './pages/incidents.js';
import { LoginPage } from './pages/login.js';
import { OncallPage } from './pages/oncall.js';
import { OverviewPage, startOverview } from './pages/overview.js';
import { ServicePage } from './pages/service.js';
import { Link, usePath } from './router.js';
import { SessionContext } from './session.js';

function Page(p: { path: string }): JSX.Element {
  const rest = p.path.replace(/^\/ui\/?/, '');
  const [first, second] = rest.split('/').map((s) => decodeURIComponent(s));
  if (first === 'services' && second) return <ServicePage name={second} />;
  if (first === 'alerts') return <AlertsPage />;
  if (first === 'routes') return <RoutesPage />;
  if (first === 'checks') return <ChecksPage />;
  if (first === 'metrics') return <MetricsPage />;
  if (first === 'incidents' && second) return <IncidentPage id={second} />;
  if (first === 'incidents') return <IncidentsPage />;
  if (first === 'oncall') return <OncallPage />;
  if (first === 'changes') return <ChangesPage />;
  if (first === 'audit') return <AuditPage />;
  if (!first) return <OverviewPage />;
  return (
    <main id="main">
      <h1>Not found</h1>
      <p>
        No page at {p.path}. <Link href="/ui/">Back to the overview</Link>.
      </p>
    </main>
  );
}

async function logout(): Promise<void> {
  await fetch('/ui/logout', { method: 'POST', headers: { 'x-groundwork-csrf': csrfToken() } });
  location.assign('/ui/login');
}

function App(): JSX.Element {
  const path = usePath();
  const [who, setWho] = useState<Whoami | null>(null);
  const [error, setError] = useState<string | undefined>(undefined);
  const atLogin = path.startsWith('/ui/login');
  useEffect(() => {
    if (atLogin) return;
    getJson<Whoami>('/v1/whoami').then(setWho, (e: unknown) => setError(errorText(e)));
  }, [atLogin]);
  if (atLogin) return <LoginPage />;
  return (
    <SessionContext.Provider value={who}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="Pages">
          <Link href="/ui/" class="brand">
            Groundwork
          </Link>
          <Link href="/ui/">Overview</Link>
          <Link href="/ui/routes">Routes</Link>
          <Link href="/ui/checks">Checks</Link>
          <Link href="/ui/metrics">Metrics</Link>
          <Link href="/ui/alerts">Alerts</Link>
          <Link href="/ui/incidents">Incidents</Link>
          <Link href="/ui/oncall">On call</Link>
          <Link href="/ui/changes">Changes</Link>
          <Link href="/ui/audit">Audit</Link>
        </nav>
        <div class="who">
          {who ? (
            <span data-testid="role">
              {who.user ?? who.tokenId} · {who.role}
            </span>
          ) : null}
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {/* Not waiting for whoami: the page's own requests start now, its actions appear once it answers. */}
      <Page path={path} />
    </SessionContext.Provider>
  );
}

// The first answers are asked for before the first render (which, with its layout and paint, is
// most of a first load's time in the browser); the pages' own requests take them in flight.
if (!location.pathname.startsWith('/ui/login')) {
  startEarly('/v1/whoami');
  if (location.pathname.replace(/^\/ui\/?/, '') === '') startOverview();
}

const root = document.getElementById('app');
if (root) render(<App />, root);
