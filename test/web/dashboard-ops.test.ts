/**
 * The dashboard's operations pages in Chromium against a real daemon (in-process: real HTTP on
 * loopback, a real SQLite file, a real service process), with person tokens of the stack file:
 * - on call: a weekly rotation with a known start, plus an override: the person on call now, the
 *   next one with the handoff time, and every calendar day's people are what the rotation says;
 * - changes: an approver approves a change request from the page and its status changes; its
 *   author is told why they may not; a viewer has no Approve button and an approve forced with the
 *   viewer's cookie and CSRF header is refused (403); an approver rejects another request with a
 *   reason from the page, and the card shows it refused with who and why;
 * - audit: the approval and the viewer's refused attempt are listed, found by the filters; a
 *   viewer is told their role cannot read the log; after a row is edited in the SQLite file, GET
 *   /v1/audit/verify and the page name the entry where the chain breaks (last: it stays broken);
 * - alerts: a firing alert acknowledged from its Ack button.
 * Screenshots at desktop width and at 360 px in dark mode go to test-artifacts/web/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { request, writeStack, type InProcessDaemon } from '../daemon/daemon-harness.js';
import {
  chromiumMissing,
  forcedPost,
  logIn,
  pageWidth,
  shot,
  skipReason,
  startDashboardLab,
  type DashboardLab,
  tokenFor,
} from './fixture.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** The rotation: ana from Monday 5 January 2026 09:00 UTC, ben the week after, and so on. */
const ROTATION_START = Date.parse('2026-01-05T09:00:00Z');
const MEMBERS = ['ana', 'ben'] as const;

const hook = { hook: { webhook: { url: 'http://127.0.0.1:9/page' } } };

function stack(withPolicy: boolean): StackConfig {
  return {
    stack: 'ops',
    services: { web: { command: 'node', args: ['-e', 'setInterval(() => {}, 1000)'] } },
    // A check that always fails (nothing listens on port 9): its alert fires for the Ack button.
    checks: { probe: { http: { url: 'http://127.0.0.1:9/healthz' }, interval: '200ms', failures: 1, successes: 1 } },
    alerts: { 'probe-down': { check: 'probe', severity: 'critical', summary: 'the probe fails' } },
    notify: { channels: { ops: { webhook: { url: 'http://127.0.0.1:9/hook' } } } },
    people: {
      olga: { role: 'admin', contacts: hook },
      ann: { role: 'approver', contacts: hook },
      vic: { role: 'viewer', contacts: hook },
      ana: { role: 'operator', contacts: hook },
      ben: { role: 'operator', contacts: hook },
      cara: { role: 'operator', contacts: hook },
    },
    oncall: {
      schedules: {
        primary: {
          timezone: 'UTC',
          layers: [{ members: [...MEMBERS], rotation: 'weekly', start: '2026-01-05T09:00' }],
        },
      },
      escalation: { default: { steps: [{ notify: ['schedule:primary'] }] } },
    },
    ...(withPolicy ? { changes: { approvals: { 'web-review': { services: ['web'], approvals: 1 } } } } : {}),
  };
}

describe.skipIf(chromiumMissing)(`the dashboard's on-call, changes, audit and alert pages${skipReason}`, () => {
  let dir: string;
  let d: InProcessDaemon;
  let browser: Browser;
  let lab: DashboardLab | undefined;
  const tokens: Record<string, string> = {};
  /** The override: cara covers tomorrow 00:00–06:00 UTC. */
  let override: { from: number; to: number };

  const whoAt = (t: number): string =>
    t >= override.from && t < override.to
      ? 'cara'
      : (MEMBERS[Math.floor((t - ROTATION_START) / WEEK) % MEMBERS.length] ?? '');

  beforeAll(async () => {
    lab = await startDashboardLab('dashboard-ops', {
      // Applied at start without a policy; the policy is added after (the daemon reads the file per request).
      stack: (at) => {
        mkdirSync(path.join(at, 'docs', 'decisions'), { recursive: true });
        writeFileSync(
          path.join(at, 'docs', 'decisions', '0001-ship-web-builds-weekly.md'),
          '# 1. Ship web builds weekly\n\nStatus: accepted\n\n## Decision\n\nEvery Monday, after review by an approver.\n',
        );
        return stack(false);
      },
    });
    ({ dir, d, browser } = lab);
    writeStack(dir, stack(true));
    const stateDir = path.join(dir, '.groundwork');
    for (const who of ['olga', 'ann', 'vic']) tokens[who] = await tokenFor(stateDir, stack(true), who);
    const tomorrow = Math.floor(Date.now() / DAY) * DAY + DAY;
    override = { from: tomorrow, to: tomorrow + 6 * HOUR };
    await d.api.json('POST', '/v1/oncall/overrides', {
      schedule: 'primary',
      who: 'cara',
      from: new Date(override.from).toISOString(),
      to: new Date(override.to).toISOString(),
      reason: 'ben at the dentist',
    });
  }, 60_000);

  afterAll(async () => {
    await lab?.close();
  });

  it('on call: the person now, the next one and every calendar day follow the rotation and the override', async () => {
    const page = await logIn(browser, d.daemon.url, tokens.vic ?? '', { path: '/ui/oncall' });
    const now = Date.now();
    const row = page.locator('tr[data-schedule=primary]');
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe(whoAt(now));
    // The next person: the first hour at which someone else is on call.
    let handoff = Math.ceil(now / HOUR) * HOUR;
    while (whoAt(handoff) === whoAt(now)) handoff += HOUR;
    expect(await row.locator('td').nth(2).textContent()).toContain(whoAt(handoff));
    expect(await row.locator('td time').getAttribute('datetime')).toBe(new Date(handoff).toISOString());

    // Two weeks of days; each cell lists everyone on call some time that day (from now, for today).
    const rows = page.locator('table.calendar tbody tr');
    await expect.poll(() => rows.count()).toBe(14);
    for (let i = 0; i < 14; i++) {
      const dayStart = Math.floor(now / DAY) * DAY + i * DAY;
      const expected = new Set<string>();
      for (let t = Math.max(dayStart, now); t < dayStart + DAY; t = Math.floor(t / HOUR) * HOUR + HOUR)
        expected.add(whoAt(t));
      const day = new Date(dayStart).toISOString().slice(0, 10);
      const cell = page.locator(`tr[data-day="${day}"] td[data-schedule=primary]`);
      const shown = await cell.locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-who')));
      expect(new Set(shown), `on call on ${day}`).toEqual(expected);
    }
    const tomorrow = new Date(override.from).toISOString().slice(0, 10);
    expect(await page.locator(`tr[data-day="${tomorrow}"] li.override`).textContent()).toContain('cara');
    expect(await page.locator('section[aria-labelledby=overrides-h] table').textContent()).toContain(
      'ben at the dentist',
    );
    // The .ics link downloads the schedule's shifts, with the session cookie.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=ics]')]);
    expect(download.suggestedFilename()).toBe('primary.ics');
    const ics = readFileSync(await download.path(), 'utf8');
    expect(ics).toMatch(/^BEGIN:VCALENDAR\r\n/);
    for (const who of ['ana', 'ben', 'cara']) expect(ics).toContain(`SUMMARY:On call (primary): ${who}`);
    await shot(page, 'oncall');
    // Four weeks at the press of a button.
    await page.click('button:text("4 weeks")');
    await expect.poll(() => rows.count()).toBe(28);
    await page.context().close();
  });

  it('changes: the author is told why not, a viewer has no Approve button and is refused, an approver approves', async () => {
    const asked = await request(d.daemon.url, 'POST', '/v1/services/web/change-requests', {
      token: tokens.olga,
      body: JSON.stringify({ kind: 'deploy', message: 'new build of web', decisions: [1] }),
    });
    expect(asked.status, asked.text).toBe(200);
    const id = (JSON.parse(asked.text) as { id: number }).id;
    const card = `article[data-request="${id}"]`;

    // The author: an admin may approve, but not their own request; the page says so.
    const author = await logIn(browser, d.daemon.url, tokens.olga ?? '', { path: '/ui/changes' });
    await expect
      .poll(() => author.locator(`${card} [data-testid=cannot-approve]`).textContent())
      .toContain('You wrote this request');
    expect(await author.locator(`${card} button[data-action=approve]`).count()).toBe(0);
    await author.context().close();

    // A viewer: no button, and the API refuses the approval anyway.
    const viewer = await logIn(browser, d.daemon.url, tokens.vic ?? '', { path: '/ui/changes' });
    await viewer.locator(card).waitFor();
    expect(await viewer.getByTestId('no-approve').textContent()).toContain('Your role (viewer) may not approve');
    expect(await viewer.locator('button[data-action=approve]').count()).toBe(0);
    expect(await forcedPost(viewer, `/v1/change-requests/${id}/approve`, {})).toBe(403);
    await viewer.goto(`${d.daemon.url}/ui/audit`);
    expect(await viewer.getByTestId('audit-refused').textContent()).toContain('Your role (viewer) cannot read');
    await viewer.context().close();

    // The approver: one approval is all the policy asks; the status turns to approved.
    const approver = await logIn(browser, d.daemon.url, tokens.ann ?? '', { path: '/ui/changes' });
    expect(await approver.locator(`${card} [data-testid=needed]`).textContent()).toContain('Needs 1 more approval');
    expect(await approver.locator(card).textContent()).toContain('implements decision #1');
    // A decision's text, fetched when opened.
    await approver.click('details[data-decision="1"] summary');
    await expect
      .poll(() => approver.locator('details[data-decision="1"] pre').textContent())
      .toContain('Every Monday, after review by an approver.');
    expect(await approver.locator('details[data-decision="1"] summary').textContent()).toContain(
      'Ship web builds weekly (accepted)',
    );
    await shot(approver, 'changes-pending');
    await approver.fill(`#comment-${id}`, 'looks right');
    await approver.click(`${card} button[data-action=approve]`);
    await expect.poll(() => approver.locator(card).getAttribute('data-status')).toBe('approved');
    expect(await approver.locator(`${card} .approvals`).textContent()).toContain('approved by ann');
    expect(await approver.locator(`${card} .approvals`).textContent()).toContain('looks right');
    const api = JSON.parse(
      (await request(d.daemon.url, 'GET', `/v1/change-requests/${id}`, { token: tokens.olga })).text,
    ) as {
      status: string;
      approvedBy: string[];
    };
    expect(api).toMatchObject({ status: 'approved', approvedBy: ['ann'] });
    await shot(approver, 'changes-approved');
    await approver.context().close();
  });

  it('changes: an approver rejects a request with a reason; a viewer has no Reject button', async () => {
    const asked = await request(d.daemon.url, 'POST', '/v1/services/web/change-requests', {
      token: tokens.olga,
      body: JSON.stringify({ kind: 'deploy', message: 'friday evening deploy' }),
    });
    expect(asked.status, asked.text).toBe(200);
    const id = (JSON.parse(asked.text) as { id: number }).id;
    const card = `article[data-request="${id}"]`;

    const viewer = await logIn(browser, d.daemon.url, tokens.vic ?? '', { path: '/ui/changes' });
    await viewer.locator(card).waitFor();
    expect(await viewer.locator('button[data-action=reject]').count()).toBe(0);
    await viewer.context().close();

    const approver = await logIn(browser, d.daemon.url, tokens.ann ?? '', { path: '/ui/changes' });
    await approver.click(`${card} button[data-action=reject]`);
    // The reason is asked for before anything is sent: an empty one is refused on the page.
    await approver.click(`${card} button[data-action=reject-confirm]`);
    expect(await approver.locator(`${card}`).getAttribute('data-status')).toBe('pending');
    await approver.fill(`#reason-${id}`, 'not on a Friday evening');
    await shot(approver, 'changes-rejecting');
    await approver.click(`${card} button[data-action=reject-confirm]`);
    await expect.poll(() => approver.locator(card).getAttribute('data-status')).toBe('refused');
    expect(await approver.locator(`${card} [data-testid=refusal]`).textContent()).toMatch(
      /Rejected by ann .*not on a Friday evening/,
    );
    expect(await approver.locator(`${card} button[data-action=approve]`).count()).toBe(0);
    expect(await approver.locator(`${card} button[data-action=reject]`).count()).toBe(0);
    const api = JSON.parse(
      (await request(d.daemon.url, 'GET', `/v1/change-requests/${id}`, { token: tokens.olga })).text,
    ) as { status: string; refusal: { by: string; reason: string } | null };
    expect(api).toMatchObject({ status: 'refused', refusal: { by: 'ann', reason: 'not on a Friday evening' } });
    await approver.click('button[aria-pressed]:text("refused")');
    await expect.poll(() => approver.locator('article.request').count()).toBe(1);
    await shot(approver, 'changes-refused');
    await approver.context().close();
  });

  it("audit: the approval and the viewer's refused attempt, found by the filters, newest first", async () => {
    const admin = await logIn(browser, d.daemon.url, tokens.olga ?? '', { path: '/ui/audit' });
    // `/approve`: the approve route's calls, not the rejection's (whose permission is change.approve).
    await admin.fill('#audit-action', '/approve');
    const rows = admin.locator('table.audit tbody tr');
    await expect.poll(() => rows.allTextContents()).toHaveLength(3);
    // Newest first: the approval (written before it ran, then with its status), then the viewer's refusal.
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-decision')))).toEqual([
      'allowed',
      'allowed',
      'denied',
    ]);
    expect(await rows.nth(0).textContent()).toMatch(/ann.*POST \/v1\/change-requests\/:id\/approve.*allowed 200/);
    expect(await rows.nth(1).textContent()).toMatch(/ann.*allowed started/);
    expect(await rows.nth(2).textContent()).toMatch(/vic.*denied 403/);
    await admin.selectOption('#audit-outcome', 'denied');
    await admin.fill('#audit-who', 'ann');
    await expect.poll(() => admin.locator('table.audit').isHidden()).toBe(true);
    expect(await admin.locator('main').textContent()).toContain('No entries match.');
    await admin.fill('#audit-who', '');
    await admin.fill('#audit-action', '');
    await admin.selectOption('#audit-outcome', 'any');
    // Written after the page loaded: the refresh reads it (only what is new).
    const before = await rows.count();
    await d.api.json('POST', '/v1/silences', { matchers: ['alertname="audit-refresh"'], duration: '1h' });
    await admin.click('button[data-action=refresh]');
    await expect.poll(() => rows.first().textContent()).toContain('POST /v1/silences');
    expect(await rows.count()).toBe(before + 2);
    expect(await admin.getByTestId('chain').getAttribute('data-ok')).toBe('true');
    expect(await admin.getByTestId('chain').textContent()).toContain('each chained on the one before');
    await shot(admin, 'audit');
    await admin.context().close();
  });

  it('alerts: a firing alert is acknowledged from its Ack button', async () => {
    const page = await logIn(browser, d.daemon.url, tokens.olga ?? '', { path: '/ui/alerts' });
    const row = page.locator('tr[data-rule=probe-down]');
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 20_000 }).toBe('firing');
    await row.locator('button:text("Acknowledge")').click();
    await expect.poll(() => row.locator('td').nth(4).textContent()).toBe('by olga');
    const alerts = await d.api.json<{ alerts: { rule: string; ackedBy: string | null }[] }>('GET', '/v1/alerts');
    expect(alerts.alerts.find((a) => a.rule === 'probe-down')?.ackedBy).toBe('olga');
    await shot(page, 'alerts-acked');
    await page.context().close();
  });

  it('fits a 360 px screen in dark mode', async () => {
    const page = await logIn(browser, d.daemon.url, tokens.olga ?? '', {
      path: '/ui/oncall',
      colorScheme: 'dark',
      width: 360,
    });
    await page.locator('table.calendar tbody tr').first().waitFor();
    expect(await pageWidth(page)).toBeLessThanOrEqual(360);
    await shot(page, 'oncall-360-dark');
    for (const name of ['changes', 'audit'] as const) {
      await page.click(`nav a[href="/ui/${name}"]`);
      await page
        .locator(name === 'changes' ? 'article.request' : 'table.audit tbody tr')
        .first()
        .waitFor();
      expect(await pageWidth(page), `${name} at 360 px`).toBeLessThanOrEqual(360);
      await shot(page, `${name}-360-dark`);
    }
    await page.context().close();
  });

  // Last in the file: the chain stays broken after it.
  it('audit: a row edited in the database file is where the API and the page say the chain breaks', async () => {
    const verify = async () =>
      JSON.parse((await request(d.daemon.url, 'GET', '/v1/audit/verify', { token: tokens.olga })).text) as {
        ok: boolean;
        entries: number;
        problems: { seq: number; kind: string; message: string }[];
      };
    expect(await verify()).toMatchObject({ ok: true, problems: [] });
    // A viewer may not ask (the audit log is an admin's).
    expect((await request(d.daemon.url, 'GET', '/v1/audit/verify', { token: tokens.vic })).status).toBe(403);

    // Someone with the file rewrites who approved: the entry no longer matches its hash.
    const db = new Database(path.join(dir, '.groundwork', 'state.db'));
    let seq: number;
    try {
      db.pragma('busy_timeout = 5000');
      const row = db
        .prepare(
          `SELECT seq FROM audit WHERE entry LIKE '%"user":"ann"%' AND entry LIKE '%/approve%' ORDER BY seq LIMIT 1`,
        )
        .get() as { seq: number } | undefined;
      if (!row) throw new Error('no audit entry of ann approving: the changes test must run first');
      seq = row.seq;
      const changed = db
        .prepare(`UPDATE audit SET entry = replace(entry, '"user":"ann"', '"user":"mallory"') WHERE seq = ?`)
        .run(seq);
      expect(changed.changes).toBe(1);
    } finally {
      db.close();
    }

    const v = await verify();
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toMatchObject({ seq, kind: 'edited' });
    expect(v.problems[0]?.message).toContain(`entry #${seq}`);

    const admin = await logIn(browser, d.daemon.url, tokens.olga ?? '', { path: '/ui/audit' });
    const chain = admin.getByTestId('chain');
    await expect.poll(() => chain.getAttribute('data-broken-seq')).toBe(String(seq));
    expect(await chain.textContent()).toContain(`The chain is broken at entry #${seq}`);
    expect(await chain.textContent()).toContain('does not match its hash: it was edited');
    await shot(admin, 'audit-broken');
    await admin.context().close();
  });
});
