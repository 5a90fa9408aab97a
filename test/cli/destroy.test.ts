/**
 * `groundwork destroy`: plans the removal of everything the stack created, asks for the stack's
 * name (or --auto-approve), then deletes services, routes and listeners; volumes only with
 * --volumes. Real processes, real state.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonLinesOf, runCli, runCliOk } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { isAlive } from '../helpers/processes.js';
import { httpService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { instancesOf, readState } from '../helpers/state.js';
import { teardownStack } from '../helpers/lab.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { pidOf } from '../helpers/instance-pid.js';

describe('groundwork destroy', () => {
  let dir = '';
  beforeEach(async () => {
    dir = makeTempDir('destroy');
    writeServiceScript(dir);
    writeStack(dir, {
      stack: 'gone',
      volumes: { data: { path: './data' } },
      services: {
        api: httpService({ env: { DATA: '${volume.data}' } }),
        web: httpService({ env: { API: '${service.api.url.http}' }, replicas: 2 }),
      },
      listeners: { http: { port: await freePort() } },
      routes: [{ match: { path: '/' }, service: 'web', port: 'http' }],
    });
    await runCliOk(['apply', '-m', 'up'], { cwd: dir });
  });
  afterEach(async () => {
    const t = await teardownStack(dir, 'gone');
    removeTempDir(dir);
    expect(t.leftovers).toBe(0);
  });

  const addresses = () =>
    readState(dir)
      .resources.map((r) => r.address)
      .sort();

  it('asks for the stack name; a wrong answer or no terminal changes nothing', async () => {
    const before = [...instancesOf(dir, 'api'), ...instancesOf(dir, 'web')];
    expect(before).toHaveLength(3);

    const noTty = await runCli(['destroy'], { cwd: dir });
    expect(noTty.code).toBe(2);
    expect(noTty.stdout).toContain('Plan: 0 to create, 0 to update, 0 to replace, 4 to delete');
    expect(noTty.stderr).toContain('--auto-approve');

    const wrong = await runCli(['destroy'], { cwd: dir, answers: ['yes'] });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('Type the stack name to confirm');
    expect(wrong.stdout).toContain('Volumes are kept');
    expect(wrong.stdout).toContain('Destroy cancelled: nothing was changed.');

    for (const i of before) expect(isAlive(pidOf(i)), `${i.id} still runs`).toBe(true);
    expect(addresses()).toEqual(['listener.http', 'route.0', 'service.api', 'service.web', 'volume.data']);

    const right = await runCli(['destroy'], { cwd: dir, answers: ['gone'] });
    expect(right.code, right.stdout + right.stderr).toBe(0);
    expect(right.stdout).toContain('Destroy complete!');
    for (const i of before) expect(isAlive(pidOf(i)), `${i.id} stopped`).toBe(false);
    // Data is kept unless asked.
    expect(addresses()).toEqual(['volume.data']);
    expect(existsSync(path.join(dir, 'data'))).toBe(true);
  });

  it('--volumes --auto-approve --json deletes the volumes too; a second destroy has nothing to do', async () => {
    const r = await runCliOk(['destroy', '--volumes', '--auto-approve', '--json'], { cwd: dir });
    const lines = jsonLinesOf<{ type: string; plan?: { summary: { delete: number } }; result?: { outcome: string } }>(
      r,
    );
    expect(lines[0]?.type).toBe('plan');
    expect(lines[0]?.plan?.summary.delete).toBe(5);
    expect(lines.at(-1)).toMatchObject({ type: 'change-end', result: { outcome: 'applied' } });
    expect(addresses()).toEqual([]);
    expect(existsSync(path.join(dir, 'data'))).toBe(false);
    expect(readState(dir).changes[0]?.message).toBe('destroy (with volumes)');

    const again = await runCliOk(['destroy', '--auto-approve'], { cwd: dir });
    expect(again.stdout).toContain('Nothing to destroy.');
  });
});
