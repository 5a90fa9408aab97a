/** The runtime drivers of one installation (a state directory). Docker connects lazily. */
import type { Runtime } from '../config/schema.js';
import { DockerClient, dockerSocketFromEnv } from './docker/docker-client.js';
import { DockerDriver } from './docker/docker-driver.js';
import { ProcessDriver } from './process/process-driver.js';
import type { RuntimeDriver } from './runtime-driver.js';
import { SwarmCluster } from './swarm/swarm-cluster.js';
import { SwarmDriver } from './swarm/swarm-driver.js';
import type { ClusterRuntime } from './swarm/cluster-runtime.js';

export interface Drivers {
  drivers: Partial<Record<Runtime, RuntimeDriver>>;
  process: ProcessDriver;
  cluster: ClusterRuntime;
}

export function makeDrivers(stateDir: string, env: Record<string, string | undefined>): Drivers {
  const logGroup = env.GROUNDWORK_LOG_GROUP?.trim();
  const process = new ProcessDriver({ stateDir, ...(logGroup ? { logGroup } : {}) });
  const client = new DockerClient({ socketPath: dockerSocketFromEnv(env) });
  return {
    process,
    drivers: {
      process,
      docker: new DockerDriver({ client, owner: stateDir }),
      swarm: new SwarmDriver({ client, owner: stateDir }),
    },
    cluster: new SwarmCluster({ client, owner: stateDir }),
  };
}
