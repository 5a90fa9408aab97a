/**
 * Plan and apply through the CLI against real processes: saved plans and their staleness checks,
 * deterministic plans, failure semantics (failed → dependents skipped, independent branches
 * finish), deletes, scaling, and flag validation.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import type { Plan } from '../../src/engine/plan.js';
import type { ApplyEvent } from '../../src/engine/apply.js';
import { jsonLinesOf, jsonOf, runCli, runCliOk, STACK_FRAME } from '../helpers/cli.js';
import { httpGet } from '../helpers/http.js';
import { httpService, teardownStack, writeServerScript, writeStack } from '../helpers/lab.js';
import { isAlive } from '../helpers/processes.js';
import { instancesOf, readState } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { pidOf, processDataOf, shownPid } from '../helpers/instance-pid.js';

const STACK = 'planlab';

describe('plan and apply', () => {
  let dir: string;
  const cli = (argv: string[], code = 0) => runCliOk(argv, { cwd: dir }, code);
  const stack = (services: NonNullable<StackConfig['services']>) => writeStack(dir, { stack: STACK, services });

  beforeEach(() => {
    dir = makeTempDir('plan');
    writeServerScript(dir);
  });

  afterEach(async () => {
    const t = await teardownStack(dir, STACK);
    removeTempDir(dir);
    expect(t.deleteExit, t.deleteOutput).toBe(0);
    expect(t.leftovers, 'processes left running after deleting the stack').toBe(0);
  });

  describe('saved plans', () => {
    it('a saved plan applies exactly as saved', async () => {
      stack({ a: httpService({ env: { MESSAGE: 'saved' } }) });
      const saved = await cli(['plan', '--out', 'p.json']);
      expect(saved.stdout).toContain('apply --plan p.json');
      const file = path.join(dir, 'p.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const plan = JSON.parse(readFileSync(file, 'utf8')) as Plan;
      expect(plan.steps.map((s) => `${s.action} ${s.address}`)).toEqual(['create service.a']);

      const applied = await cli(['apply', '--plan', 'p.json']);
      expect(applied.stdout).toContain('Apply complete! 1 applied');
      const [change] = readState(dir).changes;
      expect(change?.planHash).toBe(plan.planHash);
      const [inst] = instancesOf(dir, 'a');
      expect((await httpGet(inst?.ports.http as number, '/')).body).toContain('saved');
      await cli(['plan', '--exit-code']);
    });

    it('a saved plan made before another apply is refused (exit 4), naming the change that moved the serial', async () => {
      stack({ a: httpService() });
      await cli(['plan', '--out', 'old.json']);
      await cli(['apply', '-m', 'someone else applied first']);
      const serialBefore = readState(dir).serial;

      const r = await runCli(['apply', '--plan', 'old.json'], { cwd: dir });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('Refusing to apply old.json');
      expect(r.stderr).toMatch(/serial 0 to [1-9]/);
      expect(r.stderr).toContain('change #1 (apply)');
      expect(r.stderr).toContain('someone else applied first');
      expect(r.stderr).not.toMatch(STACK_FRAME);
      // Nothing was done.
      const after = readState(dir);
      expect(after.serial).toBe(serialBefore);
      expect(after.changes).toHaveLength(1);
    });

    it('a saved plan made before the stack file was edited is refused (exit 4)', async () => {
      stack({ a: httpService() });
      await cli(['apply']);
      stack({ a: httpService({ env: { MESSAGE: 'v2' } }) });
      await cli(['plan', '--out', 'v2.json']);
      stack({ a: httpService({ env: { MESSAGE: 'v3' } }) });

      const r = await runCli(['apply', '--plan', 'v2.json'], { cwd: dir });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('the stack file changed since this plan was made');
      expect(readState(dir).changes).toHaveLength(1);
    });

    it('a saved plan edited after it was made (contents no longer match its planHash) is refused', async () => {
      stack({ a: httpService({ env: { MESSAGE: 'reviewed' } }) });
      await cli(['plan', '--out', 'p.json']);
      const file = path.join(dir, 'p.json');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace('"MESSAGE": "reviewed"', '"MESSAGE": "not what was reviewed"'),
      );
      expect(readFileSync(file, 'utf8')).toContain('not what was reviewed');

      const r = await runCli(['apply', '--plan', 'p.json'], { cwd: dir });
      expect(r.code, `apply of an edited plan exited ${r.code}:\n${r.stdout}${r.stderr}`).not.toBe(0);
      expect(readState(dir).resources).toEqual([]);
    });

    it('a file that is not a plan is refused with a clear message', async () => {
      stack({ a: httpService() });
      writeFileSync(path.join(dir, 'junk.json'), '{"hello": 1}\n');
      const r = await runCli(['apply', '--plan', 'junk.json'], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('is not a Groundwork plan');
      expect(r.stderr).not.toMatch(STACK_FRAME);
      const missing = await runCli(['apply', '--plan', 'nope.json'], { cwd: dir });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('cannot read the saved plan');
    });
  });

  it('plans are deterministic: same inputs give the same JSON and planHash', async () => {
    stack({
      a: httpService({ replicas: 2, env: { Z: 'last', A: 'first' } }),
      b: httpService({ depends_on: ['a'], env: { A_PORT: '${service.a.port.http}' } }),
      c: httpService(),
    });
    const one = await cli(['plan', '--json']);
    const two = await cli(['plan', '--json']);
    expect(two.stdout).toBe(one.stdout);
    const plan = jsonOf<Plan>(one);
    expect(plan.planHash).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.steps.map((s) => s.address)).toEqual(['service.a', 'service.b', 'service.c']);
    expect(plan.steps.find((s) => s.address === 'service.b')?.after).toEqual(['service.a']);

    await cli(['apply']);
    stack({
      a: httpService({ replicas: 2, env: { Z: 'last', A: 'changed' } }),
      b: httpService({ depends_on: ['a'], env: { A_PORT: '${service.a.port.http}' } }),
      c: httpService(),
    });
    const three = await cli(['plan', '--json']);
    const four = await cli(['plan', '--json']);
    expect(four.stdout).toBe(three.stdout);
    expect(jsonOf<Plan>(three).planHash).not.toBe(plan.planHash);
  });

  it('a failed step skips its dependents and independent branches finish', async () => {
    stack({
      bad: { command: 'echo going down; exit 1' },
      child: httpService({ depends_on: ['bad'] }),
      ok: httpService(),
    });
    const r = await runCli(['apply'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('1 applied, 1 failed, 1 skipped');
    expect(r.stdout).toMatch(/failed\s+service\.bad: .*exit/);
    expect(r.stdout).toMatch(/skipped service\.child: service\.bad failed/);
    expect(r.stdout + r.stderr).not.toMatch(STACK_FRAME);

    const [change] = readState(dir).changes;
    expect(change?.outcome).toBe('partial');
    const show = await cli(['show', String(change?.id)]);
    expect(show.stdout).toContain('outcome:  partial');
    expect(show.stdout).toMatch(/applied\s+create\s+service\.ok/);
    expect(show.stdout).toMatch(/failed\s+create\s+service\.bad: /);
    expect(show.stdout).toMatch(/skipped\s+create\s+service\.child: service\.bad failed/);

    // ok really runs; bad runs nothing (it is recorded as gone, for the daemon to retry by its
    // restart policy); child was never started.
    const [ok] = instancesOf(dir, 'ok');
    expect((await httpGet(ok?.ports.http as number, '/')).status).toBe(200);
    expect(instancesOf(dir, 'bad')).toEqual([]);
    expect(instancesOf(dir, 'bad', true).every((i) => i.gone !== undefined && shownPid(i) === null)).toBe(true);
    expect(readState(dir).resources.map((x) => x.address)).not.toContain('service.child');

    // The JSON event stream says the same.
    const again = await runCli(['apply', '--json'], { cwd: dir });
    expect(again.code).toBe(1);
    const end = jsonLinesOf<ApplyEvent>(again).find((e) => e.type === 'change-end');
    expect(end?.type === 'change-end' && end.result).toMatchObject({
      outcome: 'failed',
      applied: [],
      failed: [{ address: 'service.bad' }],
      skipped: [{ address: 'service.child', because: 'service.bad failed' }],
    });
  });

  it('removing a service from the stack plans a delete and apply stops its processes', async () => {
    stack({ keep: httpService(), gone: httpService({ replicas: 2 }) });
    await cli(['apply']);
    const goneInstances = instancesOf(dir, 'gone');
    const keepInstances = instancesOf(dir, 'keep');
    expect(goneInstances).toHaveLength(2);
    for (const i of goneInstances) expect(isAlive(pidOf(i))).toBe(true);

    stack({ keep: httpService() });
    const plan = await cli(['plan']);
    expect(plan.stdout).toMatch(/^\s+- service\.gone$/m);
    expect(plan.stdout).toContain('Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 1 unchanged.');
    const applied = await cli(['apply']);
    expect(applied.stdout).toContain('Apply complete! 1 applied');
    for (const i of goneInstances) {
      expect(isAlive(pidOf(i)), `instance ${i.index} (pid ${pidOf(i)}) of the deleted service`).toBe(false);
      expect(isAlive(processDataOf(i).pgid), `shim ${processDataOf(i).pgid} of the deleted service`).toBe(false);
    }
    for (const i of keepInstances) expect(isAlive(pidOf(i))).toBe(true);
    expect(readState(dir).resources.map((x) => x.address)).toEqual(['service.keep']);
    await cli(['plan', '--exit-code']);
  });

  it('a replicas change plans an update and apply scales up and down, keeping running instances', async () => {
    stack({ web: httpService({ replicas: 1 }) });
    await cli(['apply']);
    const [first] = instancesOf(dir, 'web');

    stack({ web: httpService({ replicas: 3 }) });
    const up = jsonOf<Plan>(await cli(['plan', '--json']));
    expect(up.steps.map((s) => `${s.action} ${s.address}`)).toEqual(['update service.web']);
    expect(up.steps[0]?.changes).toEqual([{ path: 'replicas', before: 1, after: 3 }]);
    expect((await cli(['plan'])).stdout).toMatch(/~ replicas\s+= 1 -> 3/);
    await cli(['apply']);
    const three = instancesOf(dir, 'web');
    expect(three.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(pidOf(three[0])).toBe(pidOf(first));
    expect(new Set(three.map((i) => i.ports.http)).size).toBe(3);
    for (const i of three) expect((await httpGet(i.ports.http as number, '/')).body).toContain(`web ${i.index}`);

    stack({ web: httpService({ replicas: 1 }) });
    await cli(['apply']);
    const one = instancesOf(dir, 'web');
    expect(one.map((i) => pidOf(i))).toEqual([pidOf(first)]);
    for (const i of three.slice(1)) expect(isAlive(pidOf(i)), `scaled-down instance ${i.index}`).toBe(false);
    await cli(['plan', '--exit-code']);
  });

  it('a service that cannot bind its port, because another program holds it, fails apply', async () => {
    // Another program answers on the port, health path included.
    const foreign = http.createServer((_req, res) => res.end('ok\n'));
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', () => resolve()));
    const port = (foreign.address() as AddressInfo).port;
    try {
      stack({ web: httpService({ ports: { http: port } }) });
      const r = await runCli(['apply'], { cwd: dir });
      // Our instance dies with EADDRINUSE; its health check must not be satisfied by the other program.
      expect(
        r.code,
        `apply reported success although web could not bind port ${port}:\n${r.stdout.split('\n').slice(-3).join('\n')}`,
      ).toBe(1);
      expect(r.stdout).toMatch(/failed\s+service\.web: /);
    } finally {
      await new Promise((resolve) => foreign.close(resolve));
    }
  });

  it.each([['0'], ['-1'], ['1.5'], ['two'], ['']])(
    '--parallelism %j is a usage error (exit 2) and changes nothing',
    async (value) => {
      stack({ a: httpService() });
      const r = await runCli(['apply', '--parallelism', value], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--parallelism needs/);
      expect(r.stderr).not.toMatch(STACK_FRAME);
      expect(readState(dir).changes).toEqual([]);
    },
  );
});
