/**
 * The DataPlane contract for NodeProxy through the public streams API only
 * (GROUNDWORK_PROXY_IO=streams): what runs where Node's internal stream binding is not there
 * (stream-io.ts). node-proxy.test.ts runs the same contract on the native path.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { dataPlaneContract } from './data-plane.contract.js';
import { contractNodeProxy } from './helpers/contract-proxy.js';

describe('NodeProxy through the streams API', () => {
  beforeAll(() => {
    process.env.GROUNDWORK_PROXY_IO = 'streams';
  });
  afterAll(() => {
    delete process.env.GROUNDWORK_PROXY_IO;
  });
  dataPlaneContract('node (streams API)', contractNodeProxy);
});
