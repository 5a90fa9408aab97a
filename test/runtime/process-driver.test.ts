/** The process driver against the shared RuntimeDriver contract. */
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { runtimeDriverContract } from './runtime-driver.contract.js';

runtimeDriverContract('process', (stateDir) => new ProcessDriver({ stateDir }));
