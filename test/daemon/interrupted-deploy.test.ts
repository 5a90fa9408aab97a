/**
 * Issue 10: a daemon SIGKILLed in the middle of a rolling deploy. The restarted daemon stops the
 * surge instance that no recorded state claims, marks the release that was left `deploying` as
 * failed, runs exactly the wanted instances, and `down` leaves nothing.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ReleasesView } from '../../src/core/operations.js';
import { runCliOk } from '../helpers/cli.js';
import { httpService, writeStack } from '../helpers/lab.js';
import { describeLeftovers, isEmpty, sweepLeftovers } from '../helpers/leftovers.js';
import { isAlive, processesUnder, tryCmdline, tryCwd } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { cleanEnv, cliMain, footprintOf, spawnUp, type SpawnedDaemon } from './daemon-harness.js';

const SERVER = (build: string) => `import http from 'node:http';
const port = Number(process.env.PORT);
http.createServer((req, res) => res.end(req.url === '/healthz' ? 'ok\\n' : '${build}\\n'))
  .listen(port, '127.0.0.1', () => console.log('listening on ' + port));
process.on('SIGTERM', () => process.exit(0));
`;

/** The stack's node instances (not the shims, not the daemon), by working directory. */
function nodeInstances(dir: string): { pid: number; cwd: string }[] {
  return processesUnder(dir)
    .filter(
      (pid) => path.basename(tryCmdline(pid)?.[0] ?? '') === 'node' && (tryCmdline(pid) ?? []).includes('server.mjs'),
    )
    .map((pid) => ({ pid, cwd: tryCwd(pid) ?? '' }));
}

describe('a daemon killed mid-deploy', () => {
  const dir = makeTempDir('interrupted');
  let daemon: SpawnedDaemon | undefined;

  afterAll(async () => {
    const daemonLeft = daemon !== undefined && isAlive(daemon.pid);
    if (daemonLeft) daemon?.child.kill('SIGKILL');
    const left = await sweepLeftovers(footprintOf(dir));
    removeTempDir(dir);
    expect(daemonLeft, 'the daemon still ran after the test').toBe(false);
    expect(isEmpty(left), `left after the test:\n  ${describeLeftovers(left)}`).toBe(true);
  });

  it('leaves no leaked instance, no release deploying, and down leaves nothing', async () => {
    writeFileSync(path.join(dir, 'server.mjs'), SERVER('build-1'));
    writeStack(dir, {
      stack: 'interrupted',
      services: {
        web: httpService({
          replicas: 2,
          // The surge instance waits for readiness long enough for the kill to land mid-rollout.
          health: { http: { path: '/healthz' }, interval: '1s', timeout: '1s', healthy: 3 },
          deploy: { strategy: 'rolling', max_surge: 1, max_unavailable: 0 },
        }),
      },
    });
    daemon = await spawnUp(dir);
    await waitFor(
      async () =>
        (await daemon?.api.service('web'))?.instances.filter((i) => i.state === 'healthy').length === 2
          ? true
          : undefined,
      {
        what: 'two healthy web instances',
        timeoutMs: 30_000,
      },
    );
    const releasesDir = path.join(dir, '.groundwork', 'releases');

    writeFileSync(path.join(dir, 'server.mjs'), SERVER('build-2'));
    const deploy = spawn(process.execPath, [cliMain(), 'deploy', 'web', '-m', 'interrupted'], {
      cwd: dir,
      env: cleanEnv(),
      stdio: 'ignore',
    });
    // The surge instance runs from the new release's directory: kill the daemon as soon as it exists.
    await waitFor(() => (nodeInstances(dir).some((p) => p.cwd.startsWith(releasesDir)) ? true : undefined), {
      what: 'the surge instance of the new release',
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    await new Promise<void>((r) => deploy.once('exit', () => r()));
    expect(nodeInstances(dir).length, 'old instances plus the surge one run on after the kill').toBe(3);

    daemon = await spawnUp(dir, { args: ['--no-apply'] });
    const web = await waitFor(
      async () => {
        const s = await daemon?.api.service('web');
        return s && s.instances.filter((i) => i.state === 'healthy').length === 2 ? s : undefined;
      },
      { what: 'web back at two healthy instances', timeoutMs: 30_000 },
    );
    const running = nodeInstances(dir);
    expect(running.map((p) => p.pid).sort()).toEqual(web.instances.map((i) => i.pid).sort());
    expect(
      running.every((p) => !p.cwd.startsWith(releasesDir)),
      'the surge instance was stopped',
    ).toBe(true);
    const releases = await daemon.api.json<ReleasesView>('GET', '/v1/services/web/releases');
    expect(releases.releases.filter((r) => r.status === 'deploying' || r.status === 'building')).toEqual([]);
    expect(releases.releases.find((r) => r.message === 'interrupted')?.status).toBe('failed');

    await runCliOk(['down'], { cwd: dir });
    expect(await daemon.exited).toBe(0);
    expect(processesUnder(dir)).toEqual([]);
  });
});
