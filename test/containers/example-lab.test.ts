/**
 * examples/homelab-containers through the CLI, on the real engine: the lab validates, applies with
 * `runtime: docker` (one container per instance) and with `runtime: swarm` (one Swarm service per
 * service), its containers answer on loopback, a refresh finds no drift, it re-plans clean and
 * deletes cleanly. Prints the figures: container start-to-healthy and the deploy time of the
 * 3-replica `web` service on each runtime.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import { LABEL } from '../../src/runtime/docker/container-labels.js';
import type { DockerClient } from '../../src/runtime/docker/docker-client.js';
import type { ApplyEvent } from '../../src/engine/apply.js';
import { runCli, runCliOk, STACK_FRAME, testEnv } from '../helpers/cli.js';
import { describeWithEngine, findEngine, newRunId } from '../helpers/docker.js';
import { httpGet, waitForHttp } from '../helpers/http.js';
import { teardownStack } from '../helpers/lab.js';
import { httpPortsOf, instancesOf, resourceOf } from '../helpers/state.js';
import { serviceOutputsOf } from '../../src/kinds/service/service-spec.js';
import { copyStackDir, makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const EXAMPLE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'examples',
  'homelab-containers',
);
const SLOW = 300_000;
const docker = await findEngine();
const swarm = await findEngine({ swarm: true });

interface TimedEvent {
  at: number;
  event: ApplyEvent;
}

/** `apply --json` in-process, with the time each event line arrived. */
async function applyTimed(dir: string, file: string): Promise<{ code: number; events: TimedEvent[]; stderr: string }> {
  const events: TimedEvent[] = [];
  let buffer = '';
  let stderr = '';
  const code = await run(['apply', '--json', '-f', file, '-m', 'example lab'], {
    stdout: (t) => {
      buffer += t;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) events.push({ at: performance.now(), event: JSON.parse(line) as ApplyEvent });
      }
    },
    stderr: (t) => {
      stderr += t;
    },
    env: testEnv(),
    cwd: dir,
    isTty: false,
  });
  return { code, events, stderr };
}

function stepMs(events: TimedEvent[], address: string): number {
  const end = events.find((e) => e.event.type === 'step-end' && e.event.address === address)?.event;
  if (!end || end.type !== 'step-end') throw new Error(`no step-end for ${address}`);
  expect(end.status, end.error).toBe('applied');
  return end.ms;
}

/** Everything this installation (state directory) left on the engine: containers and Swarm services. */
async function leftOnEngine(client: DockerClient, stateDir: string, withSwarm: boolean): Promise<string[]> {
  const containers = (await client.listContainers([`${LABEL.owner}=${stateDir}`])).map(
    (c) => `container ${c.Names.join(',')}`,
  );
  const services = withSwarm
    ? (await client.listServices([`${LABEL.owner}=${stateDir}`])).map((s) => `service ${s.Spec.Name}`)
    : [];
  return [...containers, ...services];
}

async function removeLeftovers(client: DockerClient, stateDir: string): Promise<void> {
  try {
    for (const s of await client.listServices([`${LABEL.owner}=${stateDir}`]))
      await client.removeService(s.ID).catch(() => undefined);
  } catch {
    /* no swarm */
  }
  for (const c of await client.listContainers([`${LABEL.owner}=${stateDir}`]))
    await client.removeContainer(c.Id, { force: true }).catch(() => undefined);
}

async function checkLabServes(dir: string): Promise<void> {
  const [apiPort] = httpPortsOf(dir, 'api');
  const notes = await httpGet(apiPort as number, '/notes.json');
  expect(notes.status).toBe(200);
  expect(notes.body).toContain('"water the NAS"');
  const webPorts = httpPortsOf(dir, 'web');
  expect(webPorts).toHaveLength(3);
  expect(new Set(webPorts).size).toBe(3);
  for (const p of webPorts) {
    const page = await httpGet(p, '/');
    expect(page.status, page.body).toBe(200);
    expect(page.body).toContain('<h1>Containers in the lab</h1>');
    expect(page.body).toContain('<li>patch the router &lt;before Friday&gt;</li>');
    // Docker: web calls api at its stable address; Swarm: at slot 1's port (no stable address there).
    const address = serviceOutputsOf(resourceOf(dir, 'service.api')).address;
    const apiUrl = address ? `http://${address.host}:${address.ports.http}` : `http://127.0.0.1:${apiPort}`;
    expect(page.body).toContain(`notes from ${apiUrl}`);
    expect((await httpGet(p, '/healthz')).body.trim()).toBe('ok');
  }
}

/** validate → plan → apply → serve → refresh → plan clean → delete; returns the apply events. */
async function labRoundTrip(
  client: DockerClient,
  dir: string,
  stack: string,
  file: string,
  withSwarm: boolean,
  whileRunning: () => Promise<void> = async () => undefined,
): Promise<TimedEvent[]> {
  const opts = { cwd: dir };
  const out: string[] = [];
  const cli = async (argv: string[], code = 0) => {
    const r = await runCliOk(argv, opts, code);
    out.push(r.stdout + r.stderr);
    return r;
  };
  expect((await cli(['validate', '-f', file])).stdout).toContain('is valid: 6 resources');
  expect((await cli(['plan', '-f', file])).stdout).toContain(
    'Plan: 6 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.',
  );

  const applied = await applyTimed(dir, file);
  out.push(applied.stderr);
  const end = applied.events.at(-1)?.event;
  expect(
    end?.type === 'change-end' ? end.result.outcome : end,
    JSON.stringify(applied.events.map((e) => e.event)).slice(-3000),
  ).toBe('applied');

  await checkLabServes(dir);
  await whileRunning();

  await cli(['refresh', '-f', file]);
  expect((await cli(['plan', '-f', file])).stdout).toContain('No changes.');
  await cli(['plan', '-f', file, '--exit-code']);

  const stateDir = path.join(dir, '.groundwork');
  expect((await leftOnEngine(client, stateDir, withSwarm)).length).toBeGreaterThan(0);
  const t = await teardownStack(dir, stack);
  expect(t.deleteExit, t.deleteOutput).toBe(0);
  expect(await leftOnEngine(client, stateDir, withSwarm)).toEqual([]);
  for (const o of out) expect(o).not.toMatch(STACK_FRAME);
  return applied.events;
}

/**
 * A copy of the example under a stack name of its own: Swarm service names (`<stack>_<service>`)
 * are global on the engine, and two test runs (or the lab itself) may share it.
 */
function copyExample(prefix: string): { dir: string; stack: string } {
  const dir = makeTempDir(prefix);
  copyStackDir(EXAMPLE, dir);
  const stack = `containers-${newRunId()}`;
  for (const f of ['groundwork.yaml', 'groundwork.swarm.yaml']) {
    const file = path.join(dir, f);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^stack: containers$/m, `stack: ${stack}`));
  }
  return { dir, stack };
}

describeWithEngine('examples/homelab-containers with runtime: docker', docker, (client) => {
  let dir = '';
  let stack = '';
  beforeAll(() => {
    ({ dir, stack } = copyExample('containers-docker'));
  });
  afterAll(async () => {
    await removeLeftovers(client, path.join(dir, '.groundwork'));
    removeTempDir(dir);
  }, SLOW);

  it(
    'validates, applies (containers answer on loopback), re-plans clean and deletes cleanly',
    async () => {
      const events = await labRoundTrip(client, dir, stack, 'groundwork.yaml', false);
      // Start-to-healthy: from "starting instance k" to "instance k ready" (create, start, first passing probe).
      const web = events.filter((e) => e.event.type === 'progress' && e.event.address === 'service.web');
      const spans: number[] = [];
      for (let k = 1; k <= 3; k++) {
        const start = web.find((e) => e.event.type === 'progress' && e.event.message === `starting instance ${k}/3`);
        const ready = web.find(
          (e) => e.event.type === 'progress' && e.event.message.startsWith(`instance ${k}/3 ready`),
        );
        expect(start && ready, `progress of web instance ${k}`).toBeTruthy();
        spans.push(Math.round((ready?.at ?? 0) - (start?.at ?? 0)));
      }
      console.log(
        `[figure] docker: container start-to-healthy (create + start + first passing probe, interval 1s): ${spans.join(', ')} ms (web instances 1-3)`,
      );
      console.log(
        `[figure] docker: deploy of the 3-replica web service (one instance after another, each healthy before the next): ${stepMs(events, 'service.web')} ms; api (1 replica): ${stepMs(events, 'service.api')} ms`,
      );
    },
    SLOW,
  );
});

describeWithEngine('examples/homelab-containers with runtime: swarm', swarm, (client) => {
  let dir = '';
  let stack = '';
  beforeAll(() => {
    ({ dir, stack } = copyExample('containers-swarm'));
  });
  afterAll(async () => {
    await removeLeftovers(client, path.join(dir, '.groundwork'));
    removeTempDir(dir);
  }, SLOW);

  it(
    'validates, applies as Swarm services that converge and answer on loopback, re-plans clean and deletes cleanly',
    async () => {
      let spans: number[] = [];
      const events = await labRoundTrip(client, dir, stack, 'groundwork.swarm.yaml', true, async () => {
        // One Swarm service per Groundwork service, 3 tasks of web from the current spec.
        const services = await client.listServices([`${LABEL.owner}=${path.join(dir, '.groundwork')}`]);
        expect(services.map((s) => s.Spec.Name).sort()).toEqual([`${stack}_api`, `${stack}_web`]);
        const webSvc = services.find((s) => s.Spec.Name === `${stack}_web`);
        expect(webSvc?.Spec.Mode.Replicated.Replicas).toBe(3);
        const tasks = instancesOf(dir, 'web', true);
        expect(tasks.map((i) => [i.index, i.gone ?? null])).toEqual([
          [1, null],
          [2, null],
          [3, null],
        ]);
        // Start-to-healthy inside Swarm: the container's start to its first passing health check.
        spans = [];
        for (const c of await client.listContainers([`com.docker.swarm.service.id=${webSvc?.ID}`])) {
          const info = await waitFor(
            async () => {
              const i = await client.inspectContainer(c.Id);
              return i.State.Health?.Log?.some((l) => l.ExitCode === 0) ? i : undefined;
            },
            { what: `a passing health check of ${c.Id}` },
          );
          // The engine also reports when each check ran (Start/End); the client's type leaves them out.
          const ok = info.State.Health?.Log?.find((l) => l.ExitCode === 0) as { End?: string } | undefined;
          spans.push(Math.round(Date.parse(ok?.End ?? '') - Date.parse(info.State.StartedAt)));
        }
        await updateRollbackAndFailingRelease(dir, stack);
        // `down` stops what the stack runs on Swarm too (it used to leave the services at 3/3),
        // and the next apply brings them back on the same task ports.
        const ports = httpPortsOf(dir, 'web');
        await runCliOk(['down', '-f', 'groundwork.swarm.yaml'], { cwd: dir });
        expect(await client.listServices([`${LABEL.owner}=${path.join(dir, '.groundwork')}`])).toEqual([]);
        expect(instancesOf(dir, 'web', true)).toEqual([]);
        await runCliOk(['apply', '-f', 'groundwork.swarm.yaml', '-m', 'after down'], { cwd: dir });
        expect(httpPortsOf(dir, 'web')).toEqual(ports);
        for (const p of ports)
          await waitForHttp(
            p,
            '/',
            (b) => b.includes('<h1>Containers in the lab</h1>'),
            `web on ${p} after down and apply`,
          );
      });
      console.log(
        `[figure] swarm: container start-to-healthy (start to first passing in-task health check, interval 1s): ${spans.join(', ')} ms (web tasks)`,
      );
      console.log(
        `[figure] swarm: deploy of the 3-replica web service (Swarm service created, all tasks healthy, converged): ${stepMs(events, 'service.web')} ms; api (1 replica): ${stepMs(events, 'service.api')} ms`,
      );
    },
    SLOW,
  );
});

/**
 * Through the CLI on the swarm lab: an edited title rolls out on the same task ports; `rollback`
 * restores the previous release through Swarm's own rollback; a release whose web tasks exit is
 * rolled back by Swarm (apply fails and says so) while the running release keeps serving.
 */
async function updateRollbackAndFailingRelease(dir: string, stack: string): Promise<void> {
  const file = path.join(dir, 'groundwork.swarm.yaml');
  const original = readFileSync(file, 'utf8');
  const opts = { cwd: dir };
  const ports = httpPortsOf(dir, 'web');
  const serves = async (title: string) => {
    for (const p of httpPortsOf(dir, 'web'))
      await waitForHttp(p, '/', (b) => b.includes(`<h1>${title}</h1>`), `web on ${p} to serve "${title}"`);
  };

  writeFileSync(file, original.replace('default: Containers in the lab', 'default: Swarm after the edit'));
  const started = Date.now();
  await runCliOk(['apply', '-f', 'groundwork.swarm.yaml', '-m', 'new title'], opts);
  console.log(
    `[figure] swarm: rolling update of the 3-replica web service through apply (stop-first, one task at a time, deploy.monitor 2s): ${Date.now() - started} ms`,
  );
  expect(httpPortsOf(dir, 'web')).toEqual(ports);
  await serves('Swarm after the edit');

  const back = await runCliOk(['rollback', 'web', '-f', 'groundwork.swarm.yaml', '-m', 'back'], opts);
  expect(back.stdout).toContain(`rolling back Swarm service ${stack}_web to its previous spec (v1)`);
  expect(httpPortsOf(dir, 'web')).toEqual(ports);
  await serves('Containers in the lab');

  writeFileSync(file, original.replace('-h /srv/web', '-h /srv/web-that-is-not-there'));
  const failed = await runCli(['apply', '-f', 'groundwork.swarm.yaml', '-m', 'broken web'], opts);
  expect(failed.code, failed.stdout + failed.stderr).toBe(1);
  expect(failed.stdout + failed.stderr).toMatch(
    /service\.web.*rolled back: the update failed and Swarm rolled back to the previous spec/s,
  );
  await serves('Containers in the lab');
  expect(httpPortsOf(dir, 'web')).toEqual(ports);

  writeFileSync(file, original);
}
