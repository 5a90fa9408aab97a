/**
 * The approved rotation carried through a real daemon (in-process: real HTTP on loopback, a real
 * SQLite file, a real service process, real person tokens): the CLI writes the new version and
 * the daemon's apply, under the rotation's request, restarts the service using the secret as one
 * change recorded with the token's person as author. A planted value is then searched for in
 * the CLI's outputs and the API's answers (history, the change, the request, the audit log).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { jsonOf, runCli, type CliResult } from '../helpers/cli.js';
import { tryEnviron } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { request, startInProcess, writeStack, type InProcessDaemon } from '../daemon/daemon-harness.js';

const CANARY = 'canary-rotation-daemon-7c41be90d2';

describe('an approved rotation through the daemon', () => {
  let dir: string;
  let values: string;
  let d: InProcessDaemon | undefined;
  const tokens: Record<string, string> = {};
  const seen: string[] = [];
  const cli = async (who: string, argv: string[], code = 0): Promise<CliResult> => {
    const r = await runCli(argv, {
      cwd: dir,
      env: { GROUNDWORK_AUTHOR: who, ...(tokens[who] ? { GROUNDWORK_TOKEN: tokens[who] } : {}) },
    });
    seen.push(r.stdout, r.stderr);
    expect(r.code, `groundwork ${argv.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(code);
    return r;
  };
  const api = async (urlPath: string): Promise<string> => {
    const r = await request((d as InProcessDaemon).daemon.url, 'GET', urlPath, { token: tokens.olga });
    expect(r.status, urlPath).toBe(200);
    seen.push(r.text);
    return r.text;
  };

  beforeAll(async () => {
    dir = makeTempDir('rotation-daemon');
    values = makeTempDir('rotation-daemon-values');
    writeFileSync(path.join(values, 'v1'), 'first-value-1111-2222\n');
    writeFileSync(path.join(values, 'v2'), `${CANARY}\n`);
    const key = jsonOf<{ recipient: string }>(await cli('olga', ['secret', 'init', '--json'])).recipient;
    const base: StackConfig = {
      stack: 'rotdaemon',
      services: {
        web: {
          command: 'node -e "setInterval(() => {}, 1000)"',
          env: { DB: '${secret.db-password}' },
          stop_grace: '1s',
        },
      },
      secrets: { 'db-password': {} },
      secret_recipients: { here: key },
      people: { olga: { role: 'admin' }, ann: { role: 'approver' } },
    };
    writeStack(dir, base);
    await cli('olga', ['secret', 'set', 'db-password', '--from-file', path.join(values, 'v1')]);
    d = await startInProcess(dir);
    writeStack(dir, { ...base, changes: { approvals: { 'web-review': { services: ['web'], approvals: 1 } } } });
    for (const who of ['olga', 'ann'])
      tokens[who] = jsonOf<{ token: string }>(await cli('olga', ['token', 'create', '--user', who, '--json'])).token;
  }, 60_000);

  afterAll(async () => {
    await d?.close();
    if (dir) removeTempDir(dir);
    if (values) removeTempDir(values);
  });

  it('rotates and restarts the service in one change, by the token’s person, and shows no value', async () => {
    const pid = async () =>
      jsonOf<{ services: { name: string; instances: { pid: number }[] }[] }>(
        await cli('olga', ['status', '--json']),
      ).services.find((s) => s.name === 'web')?.instances[0]?.pid ?? 0;
    const before = await pid();
    const id = String(
      jsonOf<{ id: number }>(await cli('olga', ['change', 'request', 'rotate', 'db-password', '-m', 'q4', '--json']))
        .id,
    );
    await cli('ann', ['change', 'approve', id]);
    const rotated = jsonOf<{ version: number; change: number; rollout: { applied: string[] } }>(
      await cli('olga', [
        'secret',
        'rotate',
        'db-password',
        '--change',
        id,
        '--from-file',
        path.join(values, 'v2'),
        '--json',
      ]),
    );
    expect(rotated).toMatchObject({ version: 2, rollout: { applied: ['service.web'] } });
    const after = await pid();
    expect(after).not.toBe(before);
    expect(tryEnviron(after)?.DB).toBe(CANARY);

    expect(JSON.parse(await api(`/v1/changes/${rotated.change}`))).toMatchObject({
      kind: 'rotate',
      author: 'olga',
      request: Number(id),
      outcome: 'applied',
    });
    expect(JSON.parse(await api(`/v1/change-requests/${id}`))).toMatchObject({
      status: 'applied',
      approvedBy: ['ann'],
      appliedChange: rotated.change,
    });
    await api('/v1/history');
    expect(await api('/v1/audit?after=0&limit=500')).toMatch(/"operation":\s*"secret\.rotate"/);

    const b64 = Buffer.from(CANARY).toString('base64');
    const leaks = seen.filter((t) => t.includes(CANARY) || t.includes(b64));
    expect(leaks, 'CLI outputs and API answers showing the value').toEqual([]);
  }, 90_000);
});
