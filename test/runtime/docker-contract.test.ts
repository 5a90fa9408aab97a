/**
 * The docker driver against the shared RuntimeDriver contract, on the real engine. Each test's
 * state directory is the driver's owner, so `list` sees only that test's containers.
 */
import { afterAll } from 'vitest';
import { DockerDriver } from '../../src/runtime/docker/docker-driver.js';
import { describeWithEngine, findEngine, newRunId, removeRunObjects, RUN_LABEL, withImage } from '../helpers/docker.js';
import { runtimeDriverContract } from './runtime-driver.contract.js';

const engine = await findEngine();
const run = newRunId();

describeWithEngine('docker driver (contract)', engine, (client) => {
  afterAll(() => removeRunObjects(client, run));
  runtimeDriverContract('docker', (stateDir) =>
    withImage(new DockerDriver({ client, owner: stateDir, labels: { [RUN_LABEL]: run } })),
  );
});
