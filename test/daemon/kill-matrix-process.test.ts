/**
 * Issue 10: the daemon SIGKILLed at 10 points of a rolling deploy, a blue-green deploy and a
 * rollback, process runtime. See kill-matrix.ts for what each case checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { describeLeftovers, isEmpty, sweepLeftovers } from '../helpers/leftovers.js';
import { footprintOf, type SpawnedDaemon } from './daemon-harness.js';
import { isAlive, killCase, KILL_POINTS, prepareStack, writeMatrixStack, type Scenario } from './kill-matrix.js';

const SCENARIOS: Scenario[] = ['rolling deploy', 'blue-green deploy', 'rollback'];

describe.each(SCENARIOS)('process runtime: daemon SIGKILLed during a %s', (scenario) => {
  const dir = makeTempDir('kill-matrix');
  const stack = `km${Math.random().toString(36).slice(2, 8)}`;
  let daemon: SpawnedDaemon | undefined;
  const track = (d: SpawnedDaemon | undefined) => {
    daemon = d;
  };

  beforeAll(async () => {
    writeMatrixStack(dir, stack, 'process', scenario);
    await prepareStack(dir, scenario === 'rollback' ? 2 : 0, track);
  }, 120_000);

  afterAll(async () => {
    const daemonLeft = daemon !== undefined && isAlive(daemon.pid);
    if (daemonLeft) daemon?.child.kill('SIGKILL');
    const left = await sweepLeftovers(footprintOf(dir));
    removeTempDir(dir);
    expect(isEmpty(left), `left after the test:\n  ${describeLeftovers(left)}`).toBe(true);
  });

  it.each(KILL_POINTS[scenario])(
    'killed at point %i: restarted daemon runs exactly the wanted instances; down leaves nothing',
    async (k) => {
      await killCase(dir, stack, 'process', scenario, k, track);
    },
  );
});
