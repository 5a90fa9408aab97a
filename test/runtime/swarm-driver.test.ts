/**
 * The instance-level swarm driver beyond the contract, on the real single-node Swarm: limits and
 * out-of-memory kills (read from the task's local container), missing images, and that
 * instance services and cluster services never show up in each other's lists.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import type { ContainerInstanceSpec } from '../../src/runtime/docker/container-instance-spec.js';
import type { InstanceHandle, InstanceStatus } from '../../src/runtime/runtime-driver.js';
import { SwarmCluster } from '../../src/runtime/swarm/swarm-cluster.js';
import { SwarmDriver } from '../../src/runtime/swarm/swarm-driver.js';
import { Duration } from '../../src/util/duration.js';
import {
  describeWithEngine,
  findEngine,
  newRunId,
  removeRunObjects,
  RUN_LABEL,
  TEST_IMAGE,
} from '../helpers/docker.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const engine = await findEngine({ swarm: true });
const run = newRunId();
const STACK = `sw-${run}`;

describeWithEngine('swarm driver', engine, (client) => {
  let dir: string;
  let driver: SwarmDriver;
  const started: InstanceHandle[] = [];
  const spec = (command: string, extra: Partial<ContainerInstanceSpec> = {}): ContainerInstanceSpec => ({
    id: `svc-${started.length}-${randomBytes(3).toString('hex')}`,
    stack: STACK,
    service: 'svc',
    index: started.length,
    image: TEST_IMAGE,
    command,
    args: null,
    cwd: dir,
    env: {},
    user: null,
    memoryBytes: null,
    cpuCores: null,
    ports: {},
    specHash: 'h',
    ...extra,
  });
  const start = async (command: string, extra: Partial<ContainerInstanceSpec> = {}) => {
    const h = await driver.start(spec(command, extra));
    started.push(h);
    return h;
  };

  beforeEach(() => {
    dir = makeTempDir('swarm');
    driver = new SwarmDriver({ client, owner: `owner-${run}`, labels: { [RUN_LABEL]: run } });
    started.length = 0;
  });
  afterEach(async () => {
    for (const h of started) {
      await driver.stop(h, Duration.seconds(0)).catch(() => undefined);
      await driver.forget(h).catch(() => undefined);
    }
    removeTempDir(dir);
  });
  afterAll(() => removeRunObjects(client, run), 120_000);

  it('limits reach the task container; an out-of-memory kill is reported', async () => {
    const h = await start('echo allocating; sleep 0.5; exec dd if=/dev/zero of=/dev/null bs=64M count=1', {
      memoryBytes: 16 * 1024 * 1024,
      cpuCores: 0.5,
    });
    expect(h.limits).toBe('swarm: memory 16777216 bytes, cpu 0.5');
    const end = await waitFor(
      async (): Promise<InstanceStatus | undefined> => {
        const s = await driver.inspect(h);
        return s.state === 'running' ? undefined : s;
      },
      { what: 'the task to end' },
    );
    expect(end).toEqual({ state: 'exited', exitCode: null, signal: 'SIGKILL (out of memory)' });
  });

  it('an image that is not on this machine is a clear error, and no service is left', async () => {
    await expect(driver.start(spec('true', { image: 'groundwork-no-such-image:1' }))).rejects.toThrow(
      /image groundwork-no-such-image:1 is not on this machine; every Swarm node needs it/,
    );
    expect(await driver.list(STACK)).toEqual([]);
  });

  it('instance services and cluster services stay apart in their lists', async () => {
    const h = await start('exec sleep 300');
    const cluster = new SwarmCluster({ client, owner: `owner-${run}`, labels: { [RUN_LABEL]: run } });
    expect(await cluster.list(STACK)).toEqual([]);
    expect((await driver.list(STACK)).map((x) => x.id)).toEqual([h.id]);
  });
});
