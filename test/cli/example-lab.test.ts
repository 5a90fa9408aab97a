/**
 * The main job, end to end through the CLI: the example home lab validates, plans its creates,
 * applies to real processes that answer HTTP, re-plans clean, and an edited title rolls out as
 * exactly one update that restarts the web instances.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/engine/plan.js';
import { jsonOf, runCli, runCliOk, STACK_FRAME, type CliResult } from '../helpers/cli.js';
import { httpGet, httpPost, waitForHttp } from '../helpers/http.js';
import { teardownStack } from '../helpers/lab.js';
import { isAlive } from '../helpers/processes.js';
import { httpPortsOf, instancesOf, readState } from '../helpers/state.js';
import { copyStackDir, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { pidOf } from '../helpers/instance-pid.js';

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'homelab');

describe('examples/homelab through the CLI', () => {
  let dir: string;
  const outputs: CliResult[] = [];
  const cli = async (argv: string[], code = 0) => {
    const r = await runCliOk(argv, { cwd: dir }, code);
    outputs.push(r);
    return r;
  };

  beforeEach(() => {
    dir = makeTempDir('lab');
    copyStackDir(EXAMPLE, dir);
    outputs.length = 0;
  });

  afterEach(async () => {
    const t = await teardownStack(dir, 'homelab');
    removeTempDir(dir);
    expect(t.deleteExit, t.deleteOutput).toBe(0);
    expect(t.leftovers, 'processes left running after deleting the stack').toBe(0);
  });

  it('validates, plans, applies, serves, re-plans clean, rolls out an edited title, and records history', async () => {
    const validate = await cli(['validate']);
    expect(validate.stdout).toContain('is valid: 15 resources');

    const plan = await cli(['plan']);
    expect(plan.stdout).toContain('Plan: 15 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.');
    for (const a of [
      'volume.notes-data',
      'service.api',
      'service.web',
      'service.inbox',
      'route.0',
      'route.1',
      'route.2',
      'check.site',
      'check.api',
      'alert.site-down',
      'alert.api-down',
      'alert.release-rolled-back',
      'channel.inbox',
      'notify-policy.default',
    ])
      expect(plan.stdout).toMatch(new RegExp(`\\+ ${a.replace('.', '\\.')}\\b`));
    const planJson = jsonOf<Plan>(await cli(['plan', '--json']));
    expect(planJson.summary).toEqual({ create: 15, update: 0, replace: 0, delete: 0, unchanged: 0 });

    const apply = await cli(['apply', '-m', 'first']);
    expect(apply.stdout).toContain('Apply complete! 15 applied, 0 failed, 0 skipped.');

    // The processes are real and answer on the ports recorded in state.
    const [apiPort] = httpPortsOf(dir, 'api');
    expect(apiPort).toBeDefined();
    expect((await httpGet(apiPort as number, '/healthz')).status).toBe(200);
    expect((await httpPost(apiPort as number, '/notes', 'buy milk')).status).toBe(201);
    const webPorts = httpPortsOf(dir, 'web');
    expect(webPorts).toHaveLength(2);
    expect(new Set(webPorts).size).toBe(2);
    for (const p of webPorts) {
      const page = await httpGet(p, '/');
      expect(page.status).toBe(200);
      expect(page.body).toContain('<h1>My home lab</h1>');
      expect(page.body).toContain('buy milk');
    }

    const clean = await cli(['plan']);
    expect(clean.stdout).toContain('No changes.');
    await cli(['plan', '--exit-code']);

    // Edit one input: the title's default.
    const file = path.join(dir, 'groundwork.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('default: My home lab', 'default: Lab after the edit'));
    expect((await cli(['plan', '--exit-code'], 3)).stdout).toContain('Plan: 0 to create, 1 to update');
    const edited = jsonOf<Plan>(await cli(['plan', '--json']));
    expect(edited.steps).toHaveLength(1);
    expect(edited.steps[0]).toMatchObject({ address: 'service.web', action: 'update' });
    expect(edited.steps[0]?.changes).toEqual([
      { path: 'env.TITLE', before: 'My home lab', after: 'Lab after the edit' },
    ]);

    const oldWeb = instancesOf(dir, 'web');
    const oldApi = instancesOf(dir, 'api');
    await cli(['apply', '-m', 'new title']);
    const newWeb = instancesOf(dir, 'web');
    expect(newWeb).toHaveLength(2);
    for (const o of oldWeb) {
      expect(isAlive(pidOf(o)), `old web instance ${o.index} (pid ${pidOf(o)}) still running`).toBe(false);
      expect(newWeb.some((n) => pidOf(n) === pidOf(o))).toBe(false);
    }
    // The api was not touched.
    expect(instancesOf(dir, 'api').map((i) => pidOf(i))).toEqual(oldApi.map((i) => pidOf(i)));
    for (const p of httpPortsOf(dir, 'web')) {
      await waitForHttp(p, '/', (b) => b.includes('<h1>Lab after the edit</h1>'), `web on ${p} to serve the new title`);
    }
    await cli(['plan', '--exit-code']);

    const history = await cli(['history']);
    const lines = history.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^2\s.*apply\s+applied\s.*new title/);
    expect(lines[2]).toMatch(/^1\s.*apply\s+applied\s.*first/);
    const changes = readState(dir).changes;
    expect(changes.map((c) => [c.id, c.outcome])).toEqual([
      [2, 'applied'],
      [1, 'applied'],
    ]);

    const show = await cli(['show', '1']);
    expect(show.stdout).toContain('change #1 (apply)');
    expect(show.stdout).toContain('message:  first');
    for (const a of ['volume.notes-data', 'service.api', 'service.web', 'route.0', 'route.1']) {
      expect(show.stdout).toMatch(new RegExp(`applied\\s+create\\s+${a.replace('.', '\\.')}`));
    }
    const show2 = await cli(['show', '2']);
    expect(show2.stdout).toMatch(/applied\s+update\s+service\.web/);

    for (const o of outputs) expect(o.stdout + o.stderr).not.toMatch(STACK_FRAME);
    // Three services started and replaced, one by one: slow on a loaded machine, so a wide margin.
  }, 180_000);

  it('a plan of the lab run twice is byte-identical', async () => {
    const a = await runCli(['plan', '--json'], { cwd: dir });
    const b = await runCli(['plan', '--json'], { cwd: dir });
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });
});
