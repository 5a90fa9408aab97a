/**
 * The dashboard's metrics table and an incident's escalation policy, in Chromium against a real
 * daemon (in-process: loopback HTTP, a SQLite file, two real service processes, metrics sampled
 * every second):
 * - metrics: beside the chart, a table of each series' value at the range's end (an instant query
 *   at the window's end), the Chart/Table choice kept in the address (`?view=table`);
 * - incidents: an incident opened by an alert rule that names its own escalation policy shows that
 *   policy and why it was chosen (the API's policyReason), in the list and on its page.
 * Screenshots go to test-artifacts/web/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { queryWindow } from '../../src/web/app/time-range.js';
import { chromiumMissing, logIn, shot, skipReason, startDashboardLab, type DashboardLab } from './fixture.js';

const QUERY = 'groundwork_instance_ready{service="web"}';
const hook = { hook: { webhook: { url: 'http://127.0.0.1:9/page' } } };

const STACK: StackConfig = {
  stack: 'decide',
  services: { web: { command: 'node', args: ['-e', 'setInterval(() => {}, 1000)'], replicas: 2 } },
  // A check that always fails (nothing listens on port 9): its alert opens an incident.
  checks: { probe: { http: { url: 'http://127.0.0.1:9/healthz' }, interval: '200ms', failures: 1, successes: 1 } },
  alerts: {
    'probe-down': { check: 'probe', severity: 'critical', summary: 'the probe fails', escalation: 'storage' },
  },
  notify: { channels: { ops: { webhook: { url: 'http://127.0.0.1:9/hook' } } } },
  people: { ana: { role: 'operator', contacts: hook }, ben: { role: 'operator', contacts: hook } },
  oncall: {
    schedules: {
      primary: { timezone: 'UTC', layers: [{ members: ['ana'], rotation: 'weekly', start: '2026-01-05T09:00' }] },
    },
    policy: 'default',
    escalation: {
      default: { steps: [{ notify: ['schedule:primary'] }] },
      storage: { steps: [{ notify: ['person:ben'] }] },
    },
  },
};

describe.skipIf(chromiumMissing)(`the dashboard's metrics table and incident escalation${skipReason}`, () => {
  let lab: DashboardLab;

  beforeAll(async () => {
    lab = await startDashboardLab('dashboard-decide', { stack: () => STACK, healthy: ['web'] });
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  it("metrics: a table of each series' value at the range's end, the view kept in the address", async () => {
    // The page asks at its window's end (now, rounded down to the 15 s step of a 15-minute range):
    // wait until web's two instances have a sample by then, asked exactly as the page asks.
    const at = () => queryWindow({ kind: 'preset', preset: '15m' }, Math.floor(Date.now() / 1000)).end;
    await expect
      .poll(
        async () => {
          const q = new URLSearchParams({ query: QUERY, time: String(at()) });
          return (await lab.d.api.json<{ data: { result: unknown[] } }>('GET', `/api/v1/query?${q}`)).data.result
            .length;
        },
        { timeout: 45_000 },
      )
      .toBe(2);

    const shared = new URLSearchParams({ range: '15m', query: QUERY, view: 'table' });
    const page = await logIn(lab.browser, lab.d.daemon.url, lab.token, { path: `/ui/metrics?${shared}` });
    const rows = page.locator('table.instant tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-series')))).toEqual([
      'groundwork_instance_ready{replica="0", service="web"}',
      'groundwork_instance_ready{replica="1", service="web"}',
    ]);
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-value')))).toEqual(['1', '1']);
    expect(await page.locator('button[data-view=table]').getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#instant-h').textContent()).toContain('the end of the last 15 minutes');
    await shot(page, 'metrics-table');

    // Chart: the address drops `view`, the chart is drawn; Table again brings it back.
    await page.click('button[data-view=chart]');
    await page.locator('.chart').waitFor();
    expect(new URL(page.url()).searchParams.has('view')).toBe(false);
    expect(await page.locator('table.instant').count()).toBe(0);
    await page.click('button[data-view=table]');
    expect(new URL(page.url()).searchParams.get('view')).toBe('table');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    // A reload keeps the table, and a new query typed into the box keeps the view.
    await page.reload();
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    await page.fill('#promql', `sum(${QUERY})`);
    await page.press('#promql', 'Enter');
    await expect.poll(() => page.locator('table.instant tbody tr').getAttribute('data-value')).toBe('2');
    expect(new URL(page.url()).searchParams.get('view')).toBe('table');
    await page.context().close();
  }, 90_000);

  it('incidents: the escalation policy an incident follows, and why', async () => {
    await expect
      .poll(
        async () =>
          (await lab.d.api.json<{ incidents: { id: number; policy: string | null }[] }>('GET', '/v1/incidents'))
            .incidents,
        { timeout: 20_000 },
      )
      .toEqual([expect.objectContaining({ policy: 'storage' })]);
    const [incident] = (await lab.d.api.json<{ incidents: { id: number }[] }>('GET', '/v1/incidents')).incidents;
    const id = incident?.id ?? 0;

    const page = await logIn(lab.browser, lab.d.daemon.url, lab.token, { path: '/ui/incidents' });
    const row = page.locator('main table tbody tr', { hasText: 'the probe fails' });
    await expect.poll(() => row.textContent()).toContain('storage');
    await page.click(`a[href="/ui/incidents/${id}"]`);
    const escalation = page.getByTestId('escalation');
    await expect.poll(() => escalation.getAttribute('data-policy')).toBe('storage');
    expect(await escalation.textContent()).toMatch(/Policy storage: paging step 1/);
    expect(await page.getByTestId('policy-reason').textContent()).toBe(
      'Why: this incident follows escalation policy `storage`: named by alert rule `probe-down` (alerts.probe-down.escalation).',
    );
    await shot(page, 'incident-escalation');
    await page.context().close();
  }, 60_000);
});
