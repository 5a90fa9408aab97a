/** The NodeProxy the data-plane contract runs against (native and streams-API paths alike). */
import { NodeProxy } from '../../../src/proxy/node/node-proxy.js';
import { Duration } from '../../../src/util/duration.js';
import { EJECT_FOR, type ContractEnv } from '../data-plane.contract.js';

export function contractNodeProxy(env: ContractEnv): NodeProxy {
  return new NodeProxy({
    accessLog: env.accessLog,
    clock: env.clock,
    ejectFor: EJECT_FOR,
    timerResolution: Duration.milliseconds(20),
  });
}
