/**
 * The instance-level swarm driver (one single-replica Swarm service per instance) against the
 * shared RuntimeDriver contract, on the real engine's single-node Swarm. Every part of the
 * contract runs: on one node each task's container is local, so pids, exact stop grace, stats
 * and exit codes are all observable (see SwarmDriver for what differs for tasks on other nodes).
 */
import { afterAll } from 'vitest';
import { SwarmDriver } from '../../src/runtime/swarm/swarm-driver.js';
import { describeWithEngine, findEngine, newRunId, removeRunObjects, RUN_LABEL, withImage } from '../helpers/docker.js';
import { runtimeDriverContract } from './runtime-driver.contract.js';

const engine = await findEngine({ swarm: true });
const run = newRunId();

describeWithEngine('swarm driver (contract)', engine, (client) => {
  afterAll(() => removeRunObjects(client, run));
  runtimeDriverContract('swarm', (stateDir) =>
    withImage(new SwarmDriver({ client, owner: stateDir, labels: { [RUN_LABEL]: run } })),
  );
});
