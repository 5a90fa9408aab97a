/**
 * Engine tests against the real Docker engine: finding it (or saying why not), the test image,
 * a label per test run so everything a run creates can be removed afterwards, and a wrapper that
 * gives contract-suite specs (which name no image) the test image.
 *
 * Outside CI a missing engine skips the engine suites with the reason; with
 * GROUNDWORK_REQUIRE_DOCKER=1 (set by .ci/run) it fails them instead.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { DockerClient, dockerSocketFromEnv, isDockerError } from '../../src/runtime/docker/docker-client.js';
import type { ContainerFields } from '../../src/runtime/docker/container-instance-spec.js';
import type { RuntimeDriver, InstanceSpec } from '../../src/runtime/runtime-driver.js';
import { waitFor } from './wait.js';

export const TEST_IMAGE = 'groundwork-test:latest';
/** Put on every container and swarm service a test creates; see removeRunObjects. */
export const RUN_LABEL = 'groundwork.test-run';
export const REQUIRE_DOCKER = process.env.GROUNDWORK_REQUIRE_DOCKER === '1';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type Engine = { available: true; client: DockerClient; socket: string } | { available: false; reason: string };

/** A fresh id per test file, for names and the run label. */
export function newRunId(): string {
  return `gwt${randomBytes(4).toString('hex')}`;
}

/** Finds the engine (and, with `swarm`, an active Swarm manager) and makes sure the test image exists. */
export async function findEngine(opts: { swarm?: boolean } = {}): Promise<Engine> {
  const socket = dockerSocketFromEnv(process.env);
  const client = new DockerClient({ socketPath: socket });
  try {
    await client.ping();
  } catch (e) {
    if (isDockerError(e, 'unreachable')) return { available: false, reason: `no Docker engine at ${socket}` };
    return { available: false, reason: `the Docker engine at ${socket} cannot be used: ${(e as Error).message}` };
  }
  if (opts.swarm) {
    const info = await client.info();
    if (info.Swarm.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
      return {
        available: false,
        reason: `the Docker engine at ${socket} is not an active Swarm manager (run \`docker swarm init --advertise-addr 127.0.0.1\`)`,
      };
    }
  }
  if (!(await client.tryInspectImage(TEST_IMAGE))) {
    const script = path.join(ROOT, 'scripts/build-test-image.sh');
    try {
      execFileSync(script, [TEST_IMAGE], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
      return {
        available: false,
        reason: `the test image ${TEST_IMAGE} is missing and scripts/build-test-image.sh failed: ${why}`,
      };
    }
  }
  return { available: true, client, socket };
}

/**
 * `describe` when the engine is there; otherwise a skipped suite that states why, or, when
 * GROUNDWORK_REQUIRE_DOCKER=1, a failing one. `concurrent`: the cases share nothing (each makes
 * its own objects) and mostly wait on the engine, so they run at once (`describe.concurrent`).
 */
export function describeWithEngine(
  name: string,
  engine: Engine,
  body: (client: DockerClient) => void,
  opts: { concurrent?: boolean } = {},
): void {
  if (engine.available) {
    (opts.concurrent ? describe.concurrent : describe)(name, () => body(engine.client));
    return;
  }
  const reason = engine.reason;
  if (REQUIRE_DOCKER) {
    describe(name, () => {
      it('needs a Docker engine (GROUNDWORK_REQUIRE_DOCKER=1)', () => {
        throw new Error(reason);
      });
    });
    return;
  }
  // Skipped only outside CI, when no engine answers; the reason (engine unreachable, image
  // missing, not a Swarm manager) is in the suite's name. CI sets GROUNDWORK_REQUIRE_DOCKER=1.
  describe.skip(`${name} (skipped: ${reason})`, () => {
    it('needs a Docker engine', () => undefined);
  });
}

/** Removes every container and swarm service labelled with this run; waits until their containers are gone. */
export async function removeRunObjects(client: DockerClient, runId: string): Promise<void> {
  const label = [`${RUN_LABEL}=${runId}`];
  let services: { ID: string }[] = [];
  try {
    services = await client.listServices(label);
  } catch (e) {
    if (!isDockerError(e, 'not-swarm-manager')) throw e;
  }
  for (const s of services) await client.removeService(s.ID).catch(() => undefined);
  await waitFor(
    async () => {
      const left = await client.listContainers(label);
      for (const c of left) await client.removeContainer(c.Id, { force: true }).catch(() => undefined);
      return left.length === 0;
    },
    { what: `containers of test run ${runId} to be removed`, timeoutMs: 60_000, intervalMs: 250 },
  );
}

/** The contract suite's specs name no image; this gives every start the test image. */
export function withImage<
  D extends RuntimeDriver & { start(spec: InstanceSpec & ContainerFields): ReturnType<RuntimeDriver['start']> },
>(driver: D, image = TEST_IMAGE): RuntimeDriver {
  return {
    name: driver.name,
    capabilities: driver.capabilities,
    start: (spec) => driver.start({ ...spec, image }),
    stop: (h, grace) => driver.stop(h, grace),
    inspect: (h) => driver.inspect(h),
    list: (stack) => driver.list(stack),
    logs: (h, o) => driver.logs(h, o),
    stats: (h) => driver.stats(h),
    describe: (h) => driver.describe(h),
    forget: (h) => driver.forget(h),
  };
}

export { freePortRun } from './ports.js';
