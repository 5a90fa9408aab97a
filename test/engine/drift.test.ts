/**
 * Drift: the world changes behind Groundwork's back. `refresh` reports it and records it, `plan`
 * then shows what converges it, and `apply` does.
 */
import { chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DriftReport, RefreshResult } from '../../src/engine/refresh.js';
import type { Plan } from '../../src/engine/plan.js';
import { jsonOf, runCliOk } from '../helpers/cli.js';
import { httpGet } from '../helpers/http.js';
import { httpService, teardownStack, writeServerScript, writeStack } from '../helpers/lab.js';
import { isAlive, waitForExit } from '../helpers/processes.js';
import { instancesOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { pidOf } from '../helpers/instance-pid.js';

const STACK = 'driftlab';

describe('drift', () => {
  let dir: string;
  let volumeDir: string;
  const cli = (argv: string[], code = 0) => runCliOk(argv, { cwd: dir }, code);
  const refresh = async (): Promise<DriftReport[]> => jsonOf<RefreshResult>(await cli(['refresh', '--json'])).reports;
  const report = (reports: DriftReport[], address: string) => reports.find((r) => r.address === address);

  beforeEach(async () => {
    dir = makeTempDir('drift');
    volumeDir = path.join(dir, 'data');
    writeServerScript(dir);
    writeStack(dir, {
      stack: STACK,
      volumes: { data: { path: './data', mode: '0750' } },
      services: { app: httpService({ replicas: 2, env: { DATA: '${volume.data}' } }) },
    });
    await cli(['apply']);
    expect((await refresh()).every((r) => r.status === 'in-sync')).toBe(true);
  });

  afterEach(async () => {
    const t = await teardownStack(dir, STACK);
    removeTempDir(dir);
    expect(t.deleteExit, t.deleteOutput).toBe(0);
    expect(t.leftovers).toBe(0);
  });

  it('a killed instance is reported, planned as an update, and restarted by apply', async () => {
    const [victim, survivor] = instancesOf(dir, 'app');
    if (!victim || !survivor) throw new Error('expected two instances');
    process.kill(pidOf(victim), 'SIGKILL');
    await waitForExit(pidOf(victim));

    const reports = await refresh();
    expect(report(reports, 'service.app')).toEqual({
      address: 'service.app',
      status: 'changed',
      drift: [`instance 0 (pid ${pidOf(victim)}) exited (SIGKILL)`],
    });
    expect(report(reports, 'volume.data')?.status).toBe('in-sync');
    const human = await cli(['refresh']);
    expect(human.stdout).toContain('service.app: changed');
    expect(human.stdout).toContain(`instance 0 (pid ${pidOf(victim)}) exited`);

    const plan = jsonOf<Plan>(await cli(['plan', '--json']));
    expect(plan.steps.map((s) => `${s.action} ${s.address}`)).toEqual(['update service.app']);
    expect(plan.steps[0]?.changes).toContainEqual({
      path: 'instances',
      before: '1 running, 1 gone',
      after: '2 running',
    });
    expect((await cli(['plan'])).stdout).toMatch(/~ service\.app/);

    await cli(['apply']);
    const now = instancesOf(dir, 'app');
    expect(now).toHaveLength(2);
    expect(pidOf(now[0])).not.toBe(pidOf(victim));
    expect(isAlive(pidOf(now[0]))).toBe(true);
    // The same port, and the untouched instance kept running.
    expect(now[0]?.ports.http).toBe(victim.ports.http);
    expect(pidOf(now[1])).toBe(pidOf(survivor));
    expect((await httpGet(victim.ports.http as number, '/')).body).toContain('app 0');
    expect((await refresh()).every((r) => r.status === 'in-sync')).toBe(true);
    await cli(['plan', '--exit-code']);
  });

  it('a changed volume mode is reported, planned as `~ mode`, and fixed by apply', async () => {
    chmodSync(volumeDir, 0o700);
    const reports = await refresh();
    expect(report(reports, 'volume.data')).toEqual({
      address: 'volume.data',
      status: 'changed',
      drift: ['mode is 0700, not 0750'],
    });

    const plan = await cli(['plan']);
    expect(plan.stdout).toMatch(/~ volume\.data/);
    expect(plan.stdout).toMatch(/~ mode\s+= "0700" -> "0750"/);
    const json = jsonOf<Plan>(await cli(['plan', '--json']));
    expect(json.steps.map((s) => `${s.action} ${s.address}`)).toEqual(['update volume.data']);

    await cli(['apply']);
    expect(statSync(volumeDir).mode & 0o777).toBe(0o750);
    expect((await refresh()).every((r) => r.status === 'in-sync')).toBe(true);
    await cli(['plan', '--exit-code']);
  });

  it('a deleted volume directory is reported gone and re-created by apply', async () => {
    rmSync(volumeDir, { recursive: true });
    const reports = await refresh();
    expect(report(reports, 'volume.data')).toEqual({
      address: 'volume.data',
      status: 'gone',
      drift: [`${volumeDir} no longer exists`],
    });
    // Refresh recorded that it is gone: the next refresh no longer lists it, and plan re-creates it.
    expect(report(await refresh(), 'volume.data')).toBeUndefined();

    const plan = jsonOf<Plan>(await cli(['plan', '--json']));
    expect(plan.steps.map((s) => `${s.action} ${s.address}`)).toEqual(['create volume.data']);
    const pids = instancesOf(dir, 'app').map((i) => pidOf(i));

    await cli(['apply']);
    expect(existsSync(volumeDir)).toBe(true);
    expect(statSync(volumeDir).mode & 0o777).toBe(0o750);
    // Re-creating the directory at the same path does not restart the service that uses it.
    expect(instancesOf(dir, 'app').map((i) => pidOf(i))).toEqual(pids);
    await cli(['plan', '--exit-code']);
  });
});
