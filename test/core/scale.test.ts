/**
 * `groundwork scale SERVICE N` runs the same core operation with and without a daemon: the same
 * scenario runs once with the CLI alone and once through `groundwork up`, and must record the
 * same changes and leave nothing running.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeView } from '../../src/core/operations.js';
import type { StatusView } from '../../src/core/status.js';
import type { ApplyEvent } from '../../src/engine/apply.js';
import type { Plan } from '../../src/engine/plan.js';
import type { ChangeRecord } from '../../src/store/store.js';
import { spawnUp, type SpawnedDaemon } from '../daemon/daemon-harness.js';
import { jsonLinesOf, jsonOf, runCliOk, STACK_FRAME } from '../helpers/cli.js';
import { ensureBuilt } from '../helpers/dist.js';
import { httpService, writeStack } from '../helpers/lab.js';
import { describeLeftovers, isEmpty, sweepLeftovers } from '../helpers/leftovers.js';
import { isAlive, processesUnder } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const SERVER = `import http from 'node:http';
http.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const running = (s: StatusView) => s.services.find((x) => x.name === 'web')?.instances.filter((i) => i.pid !== null);

async function scenario(dir: string): Promise<string[]> {
  const cwd = { cwd: dir };
  writeFileSync(path.join(dir, 'server.mjs'), SERVER);
  writeStack(dir, { stack: 'scaling', services: { web: httpService({ replicas: 1 }) } });
  await runCliOk(['apply', '-m', 'first'], cwd);

  const up = jsonLinesOf<ApplyEvent>(await runCliOk(['scale', 'web', '3', '--json'], cwd));
  const end = up.at(-1);
  expect(end?.type === 'change-end' && end.result.outcome).toBe('applied');
  expect(running(jsonOf<StatusView>(await runCliOk(['status', '--json'], cwd)))).toHaveLength(3);
  // The stack file still says 1: the plan shows the way back, scale leaves the file alone.
  const plan = jsonOf<Plan>(await runCliOk(['plan', '--json'], cwd));
  expect(plan.steps.map((s) => `${s.action} ${s.address} ${s.changes.map((c) => c.path).join(',')}`)).toEqual([
    'update service.web replicas',
  ]);

  const down = await runCliOk(['scale', 'web', '1', '-m', 'quieter'], cwd);
  expect(down.stdout).toContain('service.web');
  expect(running(jsonOf<StatusView>(await runCliOk(['status', '--json'], cwd)))).toHaveLength(1);
  expect((await runCliOk(['scale', 'web', '1'], cwd)).stdout).toBe('web already runs 1 instance(s).\n');

  // Mistakes: a clear message, no stack trace, and the exit code of their kind.
  const unknown = await runCliOk(['scale', 'nope', '2'], cwd, 1);
  expect(unknown.stderr).toContain('there is no applied service `nope`');
  const bad = await runCliOk(['scale', 'web', 'many'], cwd, 2);
  expect(bad.stderr).toContain('a whole number from 0 to 64');
  // Another change pending in the stack file: refused (4), nothing applied.
  writeStack(dir, {
    stack: 'scaling',
    services: { web: httpService({ replicas: 1 }), other: httpService({ replicas: 1 }) },
  });
  const refused = await runCliOk(['scale', 'web', '2'], cwd, 4);
  expect(refused.stderr).toContain('changes besides this scale: create service.other');
  for (const r of [unknown, bad, refused]) expect(r.stderr).not.toMatch(STACK_FRAME);

  await runCliOk(['down'], cwd);
  const history = jsonOf<ChangeRecord[]>(await runCliOk(['history', '--json', '--limit', '50'], cwd)).reverse();
  const out: string[] = [];
  for (const c of history) {
    const view = jsonOf<ChangeView>(await runCliOk(['show', String(c.id), '--json'], cwd));
    out.push(`${c.kind} ${c.outcome} "${c.message}" ${view.steps.map((s) => `${s.status} ${s.action} ${s.address}`)}`);
  }
  return out;
}

describe('groundwork scale', () => {
  const local = makeTempDir('scale-local');
  const remote = makeTempDir('scale-daemon');
  let daemon: SpawnedDaemon | undefined;

  beforeAll(() => {
    ensureBuilt();
  });

  afterAll(async () => {
    const daemonLeft = daemon !== undefined && isAlive(daemon.pid);
    if (daemonLeft) daemon?.child.kill('SIGKILL');
    const left = [await sweepLeftovers({ dir: local }), await sweepLeftovers({ dir: remote })];
    removeTempDir(local);
    removeTempDir(remote);
    expect(daemonLeft, 'the daemon still ran after the scenario').toBe(false);
    for (const l of left) expect(isEmpty(l), `left after the scenario:\n  ${describeLeftovers(l)}`).toBe(true);
  });

  it('runs N instances, with and without a daemon, recording the same changes', async () => {
    const withoutDaemon = await scenario(local);
    expect(processesUnder(local), 'processes left by the CLI-only run').toEqual([]);

    writeStack(remote, { stack: 'scaling' });
    daemon = await spawnUp(remote, { args: ['--no-apply'] });
    const withDaemon = await scenario(remote);
    expect(await daemon.exited).toBe(0);
    expect(processesUnder(remote), 'processes left by the daemon run').toEqual([]);

    expect(withoutDaemon).toEqual([
      'apply applied "first" applied create service.web',
      'apply applied "scale web to 3" applied update service.web',
      'apply applied "quieter" applied update service.web',
    ]);
    expect(withDaemon).toEqual(withoutDaemon);
  });
});
