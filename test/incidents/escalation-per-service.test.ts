/**
 * Escalation policies per service, with real processes: `groundwork up` runs three services; one
 * alert rule (an instance fails readiness) covers them all. `web` names the web team's policy,
 * `db` the DBA's, and `cache` names none, so it follows the stack-wide default. Each failure pages
 * its own person's webhook and nobody else's, and `incident show` (through the daemon's API) says
 * which policy each incident follows and why.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, runCliOk } from '../helpers/cli.js';
import { isAlive } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
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
  notification: { status: string; alert: string; labels: Record<string, string> };
}

interface Detail {
  incident: { id: number; service: string | null; policy: string | null };
  policyReason: string | null;
  timeline: { kind: string; text: string }[];
}

const SERVICES = ['web', 'db', 'cache'] as const;

describe('escalation policies per service: each failure pages its own team, the rest the default', () => {
  const dir = makeTempDir('escalation-per-service');
  const marker = `gw-per-service-${process.pid}`;
  const sick = (s: string) => path.join(dir, `sick-${s}`);
  const rx = new Receiver();
  let daemon: SpawnedDaemon | undefined;
  const pages = (p: string) =>
    rx.received
      .filter((r) => r.path === p)
      .map((r) => JSON.parse(r.body) as Page)
      .filter((x) => x.notification.alert.startsWith('incident #'));
  const cli = (argv: string[]) => runCliOk(argv, { cwd: dir });

  beforeAll(async () => {
    const hook = await rx.start();
    writeServiceScript(dir);
    const svc = (s: string, escalation?: string) =>
      nodeService(marker, { env: { HEALTH_FILE: sick(s) }, ...(escalation ? { escalation } : {}) });
    writeStack(dir, {
      stack: 'per-service',
      services: { web: svc('web', 'web-team'), db: svc('db', 'dba'), cache: svc('cache') },
      notify: { channels: { ops: { webhook: { url: `${hook}/ops` } } } },
      alerts: { unready: { event: 'unhealthy', severity: 'critical', summary: 'an instance fails readiness' } },
      people: {
        ana: { contacts: { phone: { webhook: { url: `${hook}/ana` } } } },
        ben: { contacts: { phone: { webhook: { url: `${hook}/ben` } } } },
        cara: { contacts: { phone: { webhook: { url: `${hook}/cara` } } } },
      },
      oncall: {
        policy: 'default',
        escalation: {
          'web-team': { steps: [{ notify: ['person:ana'] }] },
          dba: { steps: [{ notify: ['person:ben'] }] },
          default: { steps: [{ notify: ['person:cara'] }] },
        },
      },
    });
    daemon = await spawnUp(dir);
  }, 90_000);

  afterAll(async () => {
    try {
      await teardownSpawned(dir, daemon, [marker]);
    } finally {
      if (daemon && isAlive(daemon.pid)) daemon.child.kill('SIGKILL');
      await rx.stop();
      removeTempDir(dir);
    }
  });

  it('pages ana for web, ben for db, cara (the default) for cache, and says why', async () => {
    try {
      await daemon?.api.waitAllHealthy([...SERVICES]);
    } catch (e) {
      console.log(daemon?.output().slice(-4000));
      console.log((await cli(['status'])).stdout);
      throw e;
    }
    for (const s of SERVICES) writeFileSync(sick(s), 'x');
    await waitFor(() => pages('/ana').length >= 1 && pages('/ben').length >= 1 && pages('/cara').length >= 1, {
      what: 'a page to each of ana, ben and cara',
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    // Each person got the page of their own service, and only that one.
    expect(pages('/ana').map((p) => p.notification.labels.service)).toEqual(['web']);
    expect(pages('/ben').map((p) => p.notification.labels.service)).toEqual(['db']);
    expect(pages('/cara').map((p) => p.notification.labels.service)).toEqual(['cache']);

    const list = jsonOf<{ incidents: { id: number; service: string }[] }>(await cli(['incident', 'list', '--json']));
    const idOf = (s: string) => list.incidents.find((i) => i.service === s)?.id ?? 0;
    const detail = async (s: string) => jsonOf<Detail>(await cli(['incident', 'show', String(idOf(s)), '--json']));
    const db = await detail('db');
    expect(db.incident.policy).toBe('dba');
    expect(db.policyReason).toBe('follows escalation policy `dba`: named by service `db` (services.db.escalation)');
    expect(db.timeline.map((e) => e.kind)).toEqual(expect.arrayContaining(['triggered', 'policy', 'notified']));
    expect((await detail('web')).incident.policy).toBe('web-team');
    const cache = await detail('cache');
    expect(cache.incident.policy).toBe('default');
    expect(cache.policyReason).toMatch(
      /^follows escalation policy `default`: the stack-wide default .*neither alert rule `unready` nor service `cache` names one$/,
    );
    const shown = (await cli(['incident', 'show', String(idOf('db'))])).stdout;
    expect(shown).toMatch(/policy: dba \(step 1\)\n {10}follows escalation policy `dba`: named by service `db`/);
  });
});
