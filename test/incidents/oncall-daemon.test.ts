/**
 * Incidents end to end with real processes: `groundwork up` runs a service whose health endpoint
 * the test breaks; an http check goes down → a critical alert → an incident → the on-call
 * person's webhook (from the schedule, with an override made through the CLI) gets the page → the
 * daemon is SIGKILLed before the escalation timeout → a new daemon escalates, once → the signed
 * link in the page acknowledges without a token → the service recovers → the incident resolves
 * and everyone paged is told → the postmortem draft has every event, and the time to acknowledge
 * is the acknowledgement's time minus the incident's.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, runCli, runCliOk } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { isAlive } from '../helpers/processes.js';
import {
  nodeService,
  spawnUp,
  teardownSpawned,
  writeServiceScript,
  writeStack,
  type SpawnedDaemon,
} from '../daemon/daemon-harness.js';
import { Receiver } from '../notify/receiver.js';

interface Page {
  notification: { status: string; summary: string; alert: string; links: Record<string, string> };
}

describe('on call in the daemon: alert → incident → page → escalation across a SIGKILL → ack link → resolve', () => {
  const dir = makeTempDir('oncall-daemon');
  const sick = path.join(dir, 'sick');
  const marker = `gw-oncall-${randomBytes(4).toString('hex')}`;
  const rx = new Receiver();
  const daemons: SpawnedDaemon[] = [];
  /**
   * What reached a path from the incident (the alert's own notifications to ops are not pages),
   * one per idempotency key: a request in flight at the SIGKILL is sent again with the same key
   * (at least once over HTTP; receivers drop a key they have seen, as the README says).
   */
  const pages = (p: string) => {
    const seen = new Set<string>();
    return rx.received
      .filter((r) => r.path === p)
      .map((r) => JSON.parse(r.body) as Page & { idempotencyKey: string })
      .filter((x) => x.notification.alert.startsWith('incident #'))
      .filter((x) => !seen.has(x.idempotencyKey) && seen.add(x.idempotencyKey) !== undefined);
  };
  const cli = (argv: string[]) => runCliOk([...argv], { cwd: dir });

  beforeAll(async () => {
    const hook = await rx.start();
    writeServiceScript(dir);
    writeStack(dir, {
      stack: 'oncall',
      services: { api: nodeService(marker, { env: { HEALTH_FILE: sick } }) },
      checks: {
        'api-up': {
          http: { url: '${service.api.url.http}/healthz' },
          interval: '200ms',
          failures: 2,
          successes: 1,
        },
      },
      alerts: { 'api-down': { check: 'api-up', severity: 'critical', summary: 'api fails its health check' } },
      notify: { channels: { ops: { webhook: { url: `${hook}/ops` } } } },
      people: {
        ana: { role: 'operator', contacts: { phone: { webhook: { url: `${hook}/ana` } } } },
        ben: {
          contacts: { phone: { webhook: { url: `${hook}/ben` } }, mail: { webhook: { url: `${hook}/ben-mail` } } },
          paging: [{ contact: 'phone' }, { contact: 'mail', after: '1h' }],
        },
      },
      oncall: {
        schedules: {
          primary: {
            timezone: 'Europe/Berlin',
            layers: [{ members: ['ana', 'ben'], rotation: 'weekly', start: '2026-01-05T09:00' }],
          },
        },
        escalation: {
          default: {
            steps: [{ notify: ['schedule:primary'], escalate_after: '4s' }, { notify: ['channel:ops'] }],
          },
        },
      },
    });
    daemons.push(await spawnUp(dir));
  }, 90_000);

  afterAll(async () => {
    try {
      await teardownSpawned(dir, daemons.at(-1), [marker]);
    } finally {
      for (const d of daemons) if (isAlive(d.pid)) d.child.kill('SIGKILL');
      await rx.stop();
      removeTempDir(dir);
    }
  });

  it('pages the on-call person, escalates once after a SIGKILL, acknowledges by link, resolves, writes the postmortem', async () => {
    const first = daemons[0] as SpawnedDaemon;
    await first.api.waitAllHealthy(['api']);

    // Ben covers the schedule now, whoever the weekly rotation says: an override through the CLI.
    const now = Date.now();
    const override = jsonOf<{ id: number; who: string }>(
      await cli([
        'oncall',
        'override',
        'primary',
        '--who',
        'ben',
        '--from',
        new Date(now - 3_600_000).toISOString(),
        '--to',
        new Date(now + 3_600_000).toISOString(),
        '-m',
        'swap with ana',
        '--json',
      ]),
    );
    expect(override.who).toBe('ben');
    const who = jsonOf<{ schedules: { name: string; now: { who: string; source: string } | null }[] }>(
      await cli(['oncall', 'who', '--json']),
    );
    expect(who.schedules).toEqual([
      expect.objectContaining({ name: 'primary', now: { who: 'ben', source: 'override' } }),
    ]);

    writeFileSync(sick, 'x');
    await waitFor(() => pages('/ben').length >= 1, { what: 'the page to ben', timeoutMs: 20_000, intervalMs: 20 });
    // Killed before the 4 s escalation timeout: nothing has escalated yet.
    process.kill(first.pid, 'SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(pages('/ops')).toHaveLength(0);
    const page = pages('/ben')[0] as Page;
    expect(page.notification).toMatchObject({ status: 'firing', summary: 'api fails its health check' });

    daemons.push(await spawnUp(dir));
    await waitFor(() => pages('/ops').length >= 1, {
      what: 'the escalation to ops',
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const list = jsonOf<{ incidents: { id: number; status: string; step: number }[] }>(
      await cli(['incident', 'list', '--json']),
    );
    expect(list.incidents).toEqual([expect.objectContaining({ id: 1, status: 'triggered', step: 1 })]);

    // The link in the page works without a token; a forged one does not.
    const link = page.notification.links.acknowledge as string;
    expect(link).toMatch(/\/v1\/incidents\/1\/ack\?sig=[0-9a-f]{32}$/);
    const second = daemons[1] as SpawnedDaemon;
    const linkOnSecond = `${second.url}${new URL(link).pathname}${new URL(link).search}`;
    const forged = await fetch(linkOnSecond.replace(/sig=[0-9a-f]+/, `sig=${'0'.repeat(32)}`));
    expect(forged.status).toBe(403);
    // Opening the link in a browser (or as a chat preview or a mail scanner would) shows a page
    // with a confirm button and changes nothing, even with the confirm=yes of earlier links.
    const opened = await fetch(`${linkOnSecond}&confirm=yes`, { headers: { accept: 'text/html,*/*' } });
    expect(opened.headers.get('content-type')).toMatch(/^text\/html/);
    expect(opened.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await opened.text();
    expect(html).toContain('<h1>Incident #1: api fails its health check</h1>');
    const form = /<form method="post" action="([^"]+)">/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    expect(form).toBe(new URL(link).pathname + new URL(link).search);
    expect(html).toContain('<button type="submit">Acknowledge incident #1</button>');
    const preview = (await (await fetch(linkOnSecond, { headers: { accept: 'application/json' } })).json()) as {
      done: boolean;
      confirm: string;
    };
    expect(preview.done).toBe(false);
    expect(
      jsonOf<{ incident: { status: string } }>(await cli(['incident', 'show', '1', '--json'])).incident.status,
    ).toBe('triggered');
    // The button posts the signed address (a browser's form: urlencoded, empty body): that acts.
    const button = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' };
    const forgedPost = await fetch(
      `${second.url}${(form ?? '').replace(/sig=[0-9a-f]+/, `sig=${'0'.repeat(32)}`)}`,
      button,
    );
    expect(forgedPost.status).toBe(403);
    const acked = await fetch(`${second.url}${form ?? ''}`, button);
    expect(acked.status).toBe(200);
    expect(await acked.text()).toContain('The incident is <strong>acknowledged</strong>');
    const again = await fetch(preview.confirm, {
      ...button,
      headers: { ...button.headers, accept: 'application/json' },
    });
    expect(again.status).toBe(200); // a second tap is no error
    expect(((await again.json()) as { incident: { status: string }; done: boolean }).incident.status).toBe(
      'acknowledged',
    );
    expect(page.notification.links.resolve).toMatch(/\/v1\/incidents\/1\/resolve\?sig=[0-9a-f]{32}$/);
    // The incident's alert is acknowledged with it: its channels stop repeating.
    const alerts = jsonOf<{ alerts: { rule: string; state: string; ackedBy: string | null }[] }>(
      await cli(['alerts', '--json']),
    );
    expect(alerts.alerts).toEqual([
      expect.objectContaining({ rule: 'api-down', state: 'firing', ackedBy: 'link in the page' }),
    ]);

    rmSync(sick);
    await waitFor(
      async () =>
        jsonOf<{ incident: { status: string } }>(await cli(['incident', 'show', '1', '--json'])).incident.status ===
        'resolved',
      { what: 'the incident to resolve', timeoutMs: 20_000, intervalMs: 100 },
    );
    await waitFor(() => pages('/ben').length >= 2 && pages('/ops').length >= 2, {
      what: 'the resolved notices',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    // Repeats carry the key of the first delivery (the kill's in-flight request); print how many.
    const repeats = rx.received.length - new Set(rx.received.map((r) => `${r.path} ${r.body}`)).size;
    console.log(`deliveries repeated after the SIGKILL (same key): ${repeats}`);
    // Exactly once each: one page and one resolved notice per channel; nothing re-paged after the restart.
    expect(pages('/ben').map((p) => p.notification.status)).toEqual(['firing', 'resolved']);
    expect(pages('/ops').map((p) => p.notification.status)).toEqual(['firing', 'resolved']);
    expect(pages('/ana')).toHaveLength(0);
    expect(pages('/ben-mail')).toHaveLength(0); // its rule waits 1 h; acknowledged long before

    const detail = jsonOf<{
      incident: { createdAt: string; ackedAt: string; ackedBy: string };
      timeline: { kind: string; text: string; at: string }[];
    }>(await cli(['incident', 'show', '1', '--json']));
    expect(detail.incident.ackedBy).toBe('link in the page');
    const kinds = detail.timeline.map((e) => e.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['triggered', 'alert', 'notified', 'escalated', 'acknowledged', 'resolved']),
    );
    expect(kinds.filter((k) => k === 'escalated')).toHaveLength(1);

    const item = jsonOf<{ id: number }>(
      await cli([
        'incident',
        'action',
        'add',
        '1',
        '-m',
        'page on the health endpoint sooner',
        '--owner',
        'ana',
        '--due',
        '2026-12-31',
        '--json',
      ]),
    );
    await cli(['incident', 'action', 'done', String(item.id)]);
    const stats = jsonOf<{
      stats: { incidents: number; acknowledged: number; resolved: number; mttaSeconds: number }[];
    }>(await cli(['incident', 'stats', '--json']));
    expect(stats.stats).toEqual([expect.objectContaining({ incidents: 1, acknowledged: 1, resolved: 1 })]);
    const pm = (await cli(['incident', 'postmortem', '1'])).stdout;
    expect(pm).toContain('- [x] page on the health endpoint sooner (owner: ana, due 2026-12-31)');
    const tta = Date.parse(detail.incident.ackedAt) - Date.parse(detail.incident.createdAt);
    const seconds = Math.round(tta / 1000);
    expect(pm).toContain('# Postmortem: incident #1: api fails its health check');
    expect(tta).toBeLessThan(60_000);
    expect(pm).toContain(`- Time to acknowledge: ${seconds} s (by link in the page)`);
    for (const e of detail.timeline) expect(pm).toContain(`| ${e.at} | ${e.kind} |`);

    const human = await runCli(['incident', 'show', '1'], { cwd: dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/incident #1: api fails its health check/);
  });

  it('refuses bad input with exit 2 and a clear message', async () => {
    const r = await runCli(['incident', 'ack', 'x'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs an incident number/);
    const bad = await runCli(['oncall', 'whoo'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/did you mean `oncall who`/);
    const missing = await runCli(['oncall', 'show', 'nope'], { cwd: dir });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no schedule `nope`/);
  });
});
