/**
 * Issue 10: the daemon SIGKILLed at 10 points of a rolling deploy, a blue-green deploy and a
 * rollback (plus the 4 of a switch back to a blue-green standby set), docker runtime (containers
 * of the test image, host networking). The scenarios run at once, their kill points one after
 * the other. See test/daemon/kill-matrix.ts for what each case checks.
 */
import { it } from 'vitest';
import { describeWithEngine, findEngine } from '../helpers/docker.js';
import { describeResults, killMatrix, type Scenario } from '../daemon/kill-matrix.js';

const engine = await findEngine();
const SCENARIOS: Scenario[] = ['rolling deploy', 'blue-green deploy', 'rollback', 'standby rollback'];

describeWithEngine('docker runtime: the daemon SIGKILLed mid-operation', engine, () => {
  it.concurrent.each(SCENARIOS)(
    '%s, killed at each of its kill points (10; a standby switch has 4): the restarted daemon runs exactly the wanted containers, no release is left deploying, down leaves nothing',
    async (scenario) => {
      console.log(describeResults('docker', scenario, await killMatrix('docker', scenario)));
    },
    300_000,
  );
});
