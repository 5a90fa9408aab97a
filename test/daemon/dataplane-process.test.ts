/**
 * The data plane outlives the daemon (issue 9): `groundwork up` runs the proxy as its own
 * process. Under constant load through a listener, a SIGKILL of the daemon and a new `up` fail
 * no request (the new daemon adopts the same data-plane process and reconciles it); a killed
 * data plane is started again by the daemon; `down` stops it, and nothing is left.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPidFile } from '../../src/proxy/process/launcher.js';
import { describeSamples, failed, startTraffic } from '../helpers/lab-daemon.js';
import { freePort } from '../helpers/ports.js';
import { isAlive } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { connectionNotReady, waitFor } from '../helpers/wait.js';
import { runCliOk } from '../helpers/cli.js';
import { httpGet } from '../helpers/http.js';
import {
  nodeService,
  spawnUp,
  teardownSpawned,
  writeServiceScript,
  writeStack,
  type SpawnedDaemon,
} from './daemon-harness.js';

describe('the data plane outlives the daemon', () => {
  let dir: string;
  let marker: string;
  const daemons: SpawnedDaemon[] = [];

  beforeEach(() => {
    dir = makeTempDir('dataplane');
    marker = `gw-dp-${randomBytes(4).toString('hex')}`;
    writeServiceScript(dir);
  });

  afterEach(async () => {
    const live = daemons.filter((d) => isAlive(d.pid));
    daemons.length = 0;
    try {
      // Throws when down did not complete or anything (the data plane included) was left.
      await teardownSpawned(dir, live[live.length - 1], [marker]);
    } finally {
      for (const d of live) if (isAlive(d.pid)) d.child.kill('SIGKILL');
      removeTempDir(dir);
    }
  });

  const dataPlanePid = () => readPidFile(path.join(dir, '.groundwork'))?.pid;

  async function upAndServing(port: number): Promise<SpawnedDaemon> {
    const d = await spawnUp(dir);
    daemons.push(d);
    await d.api.waitAllHealthy(['web']);
    await waitFor(async () => (await httpGet(port)).status === 200, {
      what: 'the listener answering 200',
      retryOn: connectionNotReady,
    });
    return d;
  }

  it('a SIGKILLed daemon and a new `up` fail no request under load; a killed data plane is restarted; down stops it', async () => {
    const port = await freePort();
    writeStack(dir, {
      stack: 'dataplane',
      services: { web: nodeService(marker, { replicas: 2 }) },
      listeners: { http: { port } },
      routes: [{ match: { path: '/' }, service: 'web', port: 'http' }],
    });
    const first = await upAndServing(port);
    const plane = dataPlanePid();
    expect(plane, 'a data-plane process runs').toBeDefined();
    expect(plane).not.toBe(first.pid);

    const traffic = startTraffic(`http://127.0.0.1:${port}/`, 8, 5);
    const sent = () => traffic.samples.length;
    await waitFor(() => sent() > 200, { what: '200 requests before the kill' });
    process.kill(first.pid, 'SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // No daemon at all for a while: the data plane serves alone.
    const atKill = sent();
    await waitFor(() => sent() > atKill + 200, { what: '200 requests while no daemon runs' });
    const second = await upAndServing(port);
    expect(second.output()).not.toMatch(/could not configure the proxy/);
    const atUp = sent();
    await waitFor(() => sent() > atUp + 300, { what: '300 requests after the new daemon reconciled' });
    const samples = await traffic.stop();
    expect(failed(samples), describeSamples(samples)).toEqual([]);
    expect(dataPlanePid(), 'the same data-plane process, adopted').toBe(plane);

    // The data plane dies: the daemon starts a new one and gives it the configuration.
    process.kill(plane as number, 'SIGKILL');
    const next = await waitFor(
      () => {
        const p = dataPlanePid();
        return p !== undefined && p !== plane && isAlive(p) ? p : undefined;
      },
      { what: 'a new data-plane process' },
    );
    await waitFor(async () => (await httpGet(port)).status === 200, {
      what: 'the listener answering again',
      retryOn: connectionNotReady,
    });

    // down stops services and the data plane; the sweep in afterEach finds nothing.
    await teardownSpawned(dir, second, [marker]);
    daemons.length = 0;
    expect(isAlive(next)).toBe(false);
    expect(dataPlanePid()).toBeUndefined();
  });

  it('Ctrl-C of `up` leaves the data plane serving; `groundwork down` without a daemon stops it', async () => {
    const port = await freePort();
    writeStack(dir, {
      stack: 'dataplane',
      services: { web: nodeService(marker) },
      listeners: { http: { port } },
      routes: [{ match: { path: '/' }, service: 'web', port: 'http' }],
    });
    const up = await upAndServing(port);
    const plane = dataPlanePid() as number;
    process.kill(up.pid, 'SIGINT');
    expect(await up.exited).toBe(0);
    expect(up.stdout()).not.toMatch(/error/i);
    expect(isAlive(plane)).toBe(true);
    expect((await httpGet(port)).status).toBe(200);
    const down = await runCliOk(['down'], { cwd: dir });
    expect(down.stdout).toContain(`Stopped the data plane (pid ${plane}).`);
    expect(isAlive(plane)).toBe(false);
  });
});
