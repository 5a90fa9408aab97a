/**
 * Issue 10: the daemon SIGKILLed at 10 points of a rolling deploy, a blue-green deploy and a
 * rollback (plus the 4 of a switch back to a blue-green standby set), process runtime. The
 * scenarios run at once (each in its own directory; most of a case is waiting for processes),
 * their kill points one after the other. See kill-matrix.ts for what each case checks.
 */
import { describe, it } from 'vitest';
import { describeResults, killMatrix, type Scenario } from './kill-matrix.js';

const SCENARIOS: Scenario[] = ['rolling deploy', 'blue-green deploy', 'rollback', 'standby rollback'];

describe.concurrent('process runtime: the daemon SIGKILLed mid-operation', () => {
  it.each(SCENARIOS)(
    '%s, killed at each of its kill points (10; a standby switch has 4): the restarted daemon runs exactly the wanted instances, no release is left deploying, down leaves nothing',
    async (scenario) => {
      console.log(describeResults('process', scenario, await killMatrix('process', scenario)));
    },
    300_000,
  );
});
