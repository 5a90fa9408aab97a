/**
 * Canary analysis with the data plane in its own process: the daemon (in-process here) reads
 * the proxy's numbers over the control socket (RemoteDataPlane.refreshMetrics before each
 * decision), so a canary answering 500s is still aborted, and a good one still promoted.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon, tokenFile } from '../../src/daemon/daemon.js';
import { RemoteDataPlane } from '../../src/proxy/process/remote-data-plane.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { Api, cleanEnv, footprintOf } from '../daemon/daemon-harness.js';
import { runCli } from '../helpers/cli.js';
import { ensureBuilt, ROOT } from '../helpers/dist.js';
import { describeSamples, failed, freePort, startTraffic, writeLabStack, writeServer } from '../helpers/lab-daemon.js';
import { settlesWithin, TeardownFailures } from '../helpers/leftovers.js';
import { isAlive } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

ensureBuilt();
const ENTRY = path.join(ROOT, 'dist', 'proxy', 'process', 'main.js');

describe('canary through the data-plane process', () => {
  const teardowns: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const t of teardowns.splice(0)) await t();
  });

  it('aborts a canary answering 500s and promotes a good one, on numbers read over the control socket', async () => {
    const dir = makeTempDir('remote-canary');
    const port = await freePort();
    writeServer(dir, 'b1');
    writeLabStack(dir, { listenerPort: port, strategy: 'canary' });
    const stateDir = path.join(dir, '.groundwork');
    const { plane } = await RemoteDataPlane.attach({ launch: { stateDir, entry: ENTRY } });
    const daemon = new Daemon({
      stackFile: path.join(dir, 'groundwork.yaml'),
      stateDir,
      host: '127.0.0.1',
      port: 0,
      vars: {},
      env: cleanEnv(),
      clock: systemClock,
      logger: silentLogger,
      applyOnStart: true,
      dataPlane: plane,
    });
    await daemon.start();
    const api = new Api(daemon.url, readFileSync(tokenFile(stateDir), 'utf8').trim());
    teardowns.push(async () => {
      const t = new TeardownFailures(`the daemon in ${dir}`);
      await t.step('POST /v1/down {exit: true}', () => api.down(true));
      await t.step('daemon.stop()', () => settlesWithin(daemon.stop(), 15_000, 'daemon.stop()'));
      if (plane.pid !== undefined && isAlive(plane.pid))
        t.add(`the data plane (pid ${plane.pid}) still runs after down`);
      await t.sweep(footprintOf(dir), 'down and stop');
      removeTempDir(dir);
      t.throwIfAny();
    });
    await api.waitAllHealthy(['web']);
    const url = `http://127.0.0.1:${port}/`;
    await waitFor(
      async () => {
        const t = startTraffic(url, 1, 0);
        await new Promise((r) => setTimeout(r, 30));
        const s = await t.stop();
        return s.length > 0 && s.every((x) => x.status === 200 && x.build === 'b1');
      },
      { what: 'the data plane answering from b1' },
    );

    const deploy = async (build: string, mode: 'good' | 'answer-500') => {
      writeServer(dir, build, mode);
      const traffic = startTraffic(url);
      const run = await runCli(['deploy', 'web', '-m', `${build} ${mode}`, '--json'], { cwd: dir });
      const samples = await traffic.stop();
      const result = run.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type?: string; result?: { ok: boolean; rolledBack: boolean; reason?: string } })
        .find((l) => l.type === 'result')?.result;
      return { run, result, samples };
    };

    const bad = await deploy('b2', 'answer-500');
    expect(bad.result, bad.run.stdout + bad.run.stderr).toMatchObject({ ok: false, rolledBack: true });
    expect(bad.result?.reason).toMatch(/error rate/);
    expect(bad.samples.filter((s) => s.build === 'b2').length, 'the canary got traffic').toBeGreaterThan(0);
    expect(
      failed(bad.samples).filter((s) => s.build !== 'b2'),
      describeSamples(bad.samples),
    ).toEqual([]);

    const good = await deploy('b3', 'good');
    expect(good.result, good.run.stdout + good.run.stderr).toMatchObject({ ok: true });
    expect(failed(good.samples), describeSamples(good.samples)).toEqual([]);
    expect(good.run.stdout).toMatch(/canary step 20% passed/);
  });
});
