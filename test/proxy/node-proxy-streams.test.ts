/**
 * The DataPlane contract for NodeProxy through the public streams API only
 * (GROUNDWORK_PROXY_IO=streams): what runs where Node's internal stream binding is not there
 * (stream-io.ts). node-proxy.test.ts runs the same contract on the native path.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { Duration } from '../../src/util/duration.js';
import { dataPlaneContract, EJECT_FOR } from './data-plane.contract.js';

describe('NodeProxy through the streams API', () => {
  beforeAll(() => {
    process.env.GROUNDWORK_PROXY_IO = 'streams';
  });
  afterAll(() => {
    delete process.env.GROUNDWORK_PROXY_IO;
  });
  dataPlaneContract(
    'node (streams API)',
    (env) =>
      new NodeProxy({
        accessLog: env.accessLog,
        clock: env.clock,
        ejectFor: EJECT_FOR,
        timerResolution: Duration.milliseconds(20),
      }),
  );
});
