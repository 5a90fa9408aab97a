/**
 * Checks in the daemon: applied from the stack file, run on their interval, visible in
 * `status` (text and JSON) and `groundwork checks`, pinged through /v1/push/TOKEN without the
 * API token, and their state kept in the store across a daemon restart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckView } from '../../../src/core/status.js';
import { runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/ports.js';
import { writeStack } from '../../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { waitFor } from '../../helpers/wait.js';
import { request, startInProcess, type InProcessDaemon } from '../../daemon/daemon-harness.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('checks in the daemon', () => {
  const dir = makeTempDir('checks-daemon');
  let web: http.Server;
  let webPort: number;
  let d: InProcessDaemon | undefined;
  let token = '';
  /** State changes published on the installation's bus (where alerts subscribe). */
  const events: string[] = [];

  const check = async (name: string): Promise<CheckView> => {
    const c = (await d?.api.status())?.checks.find((x) => x.name === name);
    if (!c) throw new Error(`status has no check ${name}`);
    return c;
  };
  const waitState = (name: string, state: CheckView['state']) =>
    waitFor(async () => ((await check(name)).state === state ? check(name) : undefined), {
      what: `check ${name} ${state}`,
      timeoutMs: 10_000,
      intervalMs: 50,
    });

  beforeAll(async () => {
    web = http.createServer((_req, res) => res.writeHead(200).end('ready'));
    webPort = await new Promise<number>((r) =>
      web.listen(0, '127.0.0.1', () => r((web.address() as net.AddressInfo).port)),
    );
    const closed = await freePort();
    writeStack(dir, {
      stack: 'checks-daemon',
      checks: {
        web: { http: { url: `http://127.0.0.1:${webPort}/`, body: 'ready' }, interval: '200ms', successes: 1 },
        closed: { tcp: `127.0.0.1:${closed}`, interval: '200ms', failures: 1 },
        heartbeat: { push: { grace: '1h' }, interval: '1h' },
      },
    });
    d = await startInProcess(dir);
    d.daemon.operations.installation.bus.on('check', (e) =>
      events.push(`${e.address} ${e.checkType} ${e.from}>${e.to}${e.error ? ` (${e.error})` : ''}`),
    );
    const shown = d.applyEvents.flatMap((e) => (e.type === 'progress' ? [e.message] : []));
    const m = shown.map((s) => /\/v1\/push\/([A-Za-z0-9_-]+)/.exec(s)).find((x) => x);
    token = m?.[1] ?? '';
  });
  afterAll(async () => {
    await d?.daemon.stop();
    await new Promise<void>((r) => web.close(() => r()));
    removeTempDir(dir);
  });

  it('runs the checks and shows them in status and `groundwork checks`', async () => {
    await waitState('web', 'up');
    const closed = await waitState('closed', 'down');
    expect(closed.lastError).toMatch(/ECONNREFUSED/);
    const status = await runCli(['status'], { cwd: dir });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/CHECK\s+TYPE\s+STATE/);
    expect(status.stdout).toMatch(/\nweb\s+http\s+up\s/);
    expect(status.stdout).toMatch(/\nclosed\s+tcp\s+down\s.*ECONNREFUSED/);
    const json = await runCli(['checks', '--json'], { cwd: dir });
    const listed = JSON.parse(json.stdout) as CheckView[];
    expect(listed.map((c) => `${c.name}:${c.state}`)).toEqual(['closed:down', 'heartbeat:pending', 'web:up']);
    expect(listed.find((c) => c.name === 'web')?.lastLatencyMs).toEqual(expect.any(Number));
  });

  it('takes pings without the API token; an unknown token is a 404 that names nothing; the token is not in state', async () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const url = d?.daemon.url ?? '';
    const ok = await request(url, 'GET', `/v1/push/${token}`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toEqual({ ok: true });
    expect((await check('heartbeat')).state).toBe('up');
    const post = await request(url, 'POST', `/v1/push/${token}?status=down&msg=disk%20full`, {
      body: 'anything',
      headers: { 'content-type': 'text/plain' },
    });
    expect(post.status).toBe(200);
    expect(await check('heartbeat')).toMatchObject({
      state: 'down',
      lastError: 'the job reported a failure: disk full',
    });
    expect((await request(url, 'POST', `/v1/push/${token}`)).status).toBe(200);
    // Its body is not read, but still bounded.
    const big = await request(url, 'POST', `/v1/push/${token}`, { body: Buffer.alloc(2 * 1024 * 1024, 0x61) });
    expect(big.status).toBe(413);
    expect(events.filter((e) => e.startsWith('check.heartbeat'))).toEqual([
      'check.heartbeat push pending>up',
      'check.heartbeat push up>down (the job reported a failure: disk full)',
      'check.heartbeat push down>up',
    ]);
    const bad1 = await request(url, 'GET', '/v1/push/not-a-token');
    const bad2 = await request(url, 'GET', `/v1/push/${token}x`);
    expect(bad1.status).toBe(404);
    expect(bad2.text).toBe(bad1.text);
    expect(bad1.text).not.toMatch(/heartbeat|web|closed/);
    // Only the push route is open: the others still want the API token.
    expect((await request(url, 'GET', '/v1/status')).status).toBe(401);
    // State keeps the hash only: no file of the installation (store, WAL, logs) holds the token.
    const files = filesUnder(dir);
    expect(files.filter((f) => f.includes('.groundwork')).length).toBeGreaterThan(1);
    for (const f of files) expect(readFileSync(f).includes(token), f).toBe(false);
    const plan = await runCli(['plan', '--json'], { cwd: dir });
    expect(plan.code).toBe(0);
    expect(plan.stdout).not.toContain(token);
  });

  it('keeps check states across a daemon restart', async () => {
    const before = await waitState('web', 'up');
    const beat = await check('heartbeat');
    expect(beat.state).toBe('up');
    await d?.daemon.stop();
    d = await startInProcess(dir);
    // A fresh status would be pending, then up with a new `since`: the kept one goes on.
    const after = await check('web');
    expect(after.state).toBe('up');
    expect(after.since).toBe(before.since);
    expect(await check('heartbeat')).toMatchObject({ state: 'up', lastPingAt: beat.lastPingAt });
    // The push token survives too: it is the check's, not the daemon run's.
    expect((await request(d.daemon.url, 'GET', `/v1/push/${token}`)).status).toBe(200);
    await waitFor(async () => ((await check('web')).lastRunAt !== before.lastRunAt ? true : undefined), {
      what: 'a run after the restart',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect((await check('web')).since).toBe(before.since);
  });

  it('`checks --new-push-url NAME` makes a new token, shown once; the old one stops working', async () => {
    const r = await runCli(['checks', '--new-push-url', 'heartbeat'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const m = /(http:\/\/\S+\/v1\/push\/([A-Za-z0-9_-]+))/.exec(r.stdout);
    expect(m?.[1]?.startsWith(d?.daemon.url ?? '-')).toBe(true);
    const fresh = m?.[2] ?? '';
    expect(fresh).not.toBe(token);
    const url = d?.daemon.url ?? '';
    expect((await request(url, 'GET', `/v1/push/${token}`)).status).toBe(404);
    expect((await request(url, 'GET', `/v1/push/${fresh}`)).status).toBe(200);
    const wrong = await runCli(['checks', '--new-push-url', 'web'], { cwd: dir });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/check `web` is a http check; only push checks have a token/);
    const missing = await runCli(['checks', '--new-push-url', 'nope'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no check `nope` is applied/);
  });
});
