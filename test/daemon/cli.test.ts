/**
 * The real CLI (`node dist/cli/main.js`, each command its own process) against a running daemon:
 * status, logs (all, one instance, follow), a rolling restart under load, plan and apply going
 * through the daemon, down, and what status says when no daemon runs.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_FRAME } from '../helpers/cli.js';
import { httpGet } from '../helpers/http.js';
import { describeLeftovers, isEmpty, settlesWithin, sweepLeftovers } from '../helpers/leftovers.js';
import { isAlive, processesWithArg } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import {
  cleanEnv,
  cliMain,
  footprintOf,
  nodeService,
  spawnUp,
  teardownSpawned,
  writeServiceScript,
  writeStack,
  type SpawnedDaemon,
  type Status,
} from './daemon-harness.js';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(dir: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliMain(), ...args],
      { cwd: dir, env: cleanEnv(env), timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function ok(r: CliRun, what: string): CliRun {
  expect(r.code, `${what}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(0);
  return r;
}

function report(line: string): void {
  console.log(`[measure] ${line}`);
}

describe('the CLI against a running daemon', () => {
  let dir: string;
  let up: SpawnedDaemon | undefined;
  const marker = `gw-cli-${randomBytes(4).toString('hex')}`;
  const stack = (extra = false) => ({
    stack: 'cli',
    variables: { greeting: { default: 'from-file' } },
    services: {
      web: nodeService(marker, { replicas: 2, env: { MESSAGE: '${var.greeting}' } }),
      ...(extra ? { extra: nodeService(`${marker}-extra`) } : {}),
    },
  });

  beforeAll(async () => {
    dir = makeTempDir('cli');
    writeServiceScript(dir);
    writeStack(dir, stack());
    up = await spawnUp(dir);
    await up.api.waitAllHealthy(['web']);
  });

  afterAll(async () => {
    try {
      await teardownSpawned(dir, up, [marker]);
    } finally {
      removeTempDir(dir);
    }
  });

  const status = () => (up as SpawnedDaemon).api.status();
  const web = async () => (await status()).services.find((s) => s.name === 'web') as Status['services'][number];

  it('status shows every instance (text and --json)', async () => {
    const s = await web();
    const text = ok(await cli(dir, ['status']), 'status');
    for (const i of s.instances) {
      expect(text.stdout).toMatch(new RegExp(`web/${i.index}\\s+healthy\\s+${i.pid}\\b`));
      expect(text.stdout).toContain(`http:${i.ports.http}`);
    }
    expect(text.stdout).toContain(`daemon pid ${up?.pid}`);
    const json = JSON.parse(ok(await cli(dir, ['status', '--json']), 'status --json').stdout) as Status;
    expect(json.daemon?.pid).toBe(up?.pid);
    expect(json.services.find((x) => x.name === 'web')?.instances.map((i) => [i.index, i.state, i.pid])).toEqual(
      s.instances.map((i) => [i.index, 'healthy', i.pid]),
    );
  });

  it('logs SERVICE shows what every instance printed; --instance N only that one', async () => {
    const all = ok(await cli(dir, ['logs', 'web']), 'logs web').stdout;
    expect(all).toMatch(/web 0 listening on \d+/);
    expect(all).toMatch(/web 1 listening on \d+/);
    const one = ok(await cli(dir, ['logs', 'web', '--instance', '1']), 'logs web --instance 1').stdout;
    expect(one).toMatch(/web 1 listening on \d+/);
    expect(one).not.toContain('web 0 listening');
    const unknown = await cli(dir, ['logs', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('nope');
    expect(unknown.stderr).not.toMatch(STACK_FRAME);
  });

  it('logs -F streams a line printed after it started', async () => {
    const s = await web();
    const follow = spawn(process.execPath, [cliMain(), 'logs', 'web', '-F'], {
      cwd: dir,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    follow.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    follow.stderr.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    const ended = new Promise<void>((r) => follow.once('exit', () => r()));
    try {
      await waitFor(() => out.includes('listening on'), { what: 'logs -F to print the existing lines' });
      const line = `followed-${randomBytes(4).toString('hex')}`;
      const t0 = performance.now();
      await httpGet(s.instances[1]?.ports.http as number, `/say?m=${line}`);
      await waitFor(() => out.includes(line), { what: `logs -F to stream ${line}`, timeoutMs: 10_000 });
      report(`logs -F showed a new line ${(performance.now() - t0).toFixed(0)} ms after it was printed`);
      expect(out).toMatch(new RegExp(`\\[web/1\\] ${line}`));
    } finally {
      follow.kill('SIGTERM');
      await ended;
    }
    // The daemon noticed the follower left and still answers.
    expect((await web()).instances).toHaveLength(2);
  });

  it('restart SERVICE replaces the instances one at a time while the service keeps answering', async () => {
    const before = await web();
    const ports = before.instances.map((i) => i.ports.http as number);
    const stats = ports.map(() => ({ ok: 0, failed: 0 }));
    let rounds = 0;
    let bothDown = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const results = await Promise.all(
          ports.map((p) =>
            httpGet(p, '/', 1000).then(
              (r) => r.status === 200,
              () => false,
            ),
          ),
        );
        results.forEach((r, i) => {
          if (r) (stats[i] as { ok: number }).ok++;
          else (stats[i] as { failed: number }).failed++;
        });
        rounds++;
        if (!results.some(Boolean)) bothDown++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const t0 = performance.now();
    const r = await cli(dir, ['restart', 'web']);
    const ms = performance.now() - t0;
    polling = false;
    await poller;
    ok(r, 'restart web');
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('web: '));
    // One at a time: instance 0 is ready before instance 1 is touched.
    expect(lines.map((l) => l.replace(/\(pid \d+\)/, '(pid N)'))).toEqual([
      'web: restarting instance 0 (pid N)',
      'web: instance 0 ready (pid N)',
      'web: restarting instance 1 (pid N)',
      'web: instance 1 ready (pid N)',
    ]);
    const after = await waitFor(
      async () => {
        const w = await web();
        return w.instances.every((i) => i.state === 'healthy') ? w : undefined;
      },
      { what: 'web to be healthy after the restart' },
    );
    for (const [idx, i] of after.instances.entries()) {
      expect(i.pid, `web/${idx} has a new pid`).not.toBe(before.instances[idx]?.pid);
      expect(isAlive(before.instances[idx]?.pid as number)).toBe(false);
      expect(i.ports.http).toBe(ports[idx]);
    }
    expect(processesWithArg(marker, 'node')).toHaveLength(2);
    report(
      `restart web (2 replicas) took ${ms.toFixed(0)} ms; ${rounds} polling rounds of both ports: ${stats.map((s, i) => `web/${i} ${s.failed} failed of ${s.ok + s.failed}`).join(', ')}; rounds with no instance answering: ${bothDown}`,
    );
    expect(bothDown, 'rounds in which neither instance answered').toBe(0);
  });

  it('plan and apply go through the daemon; history records the author and message', async () => {
    const plan = ok(await cli(dir, ['plan']), 'plan');
    expect(plan.stdout).toContain('No changes.');
    writeStack(dir, stack(true));
    const plan2 = ok(await cli(dir, ['plan']), 'plan with extra');
    expect(plan2.stdout).toMatch(/\+ service\.extra/);
    expect(plan2.stdout).not.toMatch(/service\.web/);
    const apply = ok(
      await cli(dir, ['apply', '-m', 'add the extra service'], { GROUNDWORK_AUTHOR: 'cli-tester' }),
      'apply',
    );
    expect(apply.stdout).toContain('Apply complete!');
    // Applied by the daemon: its supervisor watches the new instance (a CLI-side apply would leave it unmonitored).
    const extra = await waitFor(
      async () => {
        const x = (await status()).services.find((s) => s.name === 'extra');
        return x?.instances.length === 1 && x.instances[0]?.state === 'healthy' ? x : undefined;
      },
      { what: 'extra to be supervised by the daemon' },
    );
    expect(extra.instances[0]?.pid).toBeGreaterThan(0);
    const history = JSON.parse(ok(await cli(dir, ['history', '--json']), 'history --json').stdout) as {
      author: string;
      message: string;
      outcome: string;
    }[];
    expect(history[0]).toMatchObject({ author: 'cli-tester', message: 'add the extra service', outcome: 'applied' });
    const text = ok(await cli(dir, ['history']), 'history').stdout;
    expect(text).toMatch(/cli-tester\s+add the extra service/);
  });

  // With a daemon running, the CLI sends only --var to POST /v1/plan and /v1/apply; the daemon
  // plans its own stack file with its own environment. So the CLI's GROUNDWORK_VAR_* and -f are
  // silently ignored: the same command gives a different plan depending on whether a daemon runs.
  it("plan through the daemon honours GROUNDWORK_VAR_* from the CLI's environment", async () => {
    const local = await cli(dir, ['plan', '--json'], { GROUNDWORK_VAR_greeting: 'from-cli' });
    ok(local, 'plan with GROUNDWORK_VAR_greeting');
    const steps = (JSON.parse(local.stdout) as { steps: { address: string }[] }).steps.map((x) => x.address);
    expect(steps, 'MESSAGE=${var.greeting} changes from from-file to from-cli').toEqual(['service.web']);
  });

  it("plan -f OTHER through the daemon plans OTHER, not the daemon's stack file", async () => {
    writeStack(
      dir,
      { ...stack(true), services: { ...stack(true).services, other: { command: 'sleep 60' } } },
      'other.yaml',
    );
    const r = ok(await cli(dir, ['plan', '-f', 'other.yaml', '--json']), 'plan -f other.yaml');
    const steps = (JSON.parse(r.stdout) as { steps: { address: string; action: string }[] }).steps.map(
      (x) => `${x.action} ${x.address}`,
    );
    expect(steps).toEqual(['create service.other']);
  });

  it('down stops every service process and the daemon exits', async () => {
    const d = up as SpawnedDaemon;
    const pids = (await status()).services.flatMap((s) => s.instances.map((i) => i.pid as number));
    expect(pids.length).toBe(3);
    const r = ok(await cli(dir, ['down']), 'down');
    expect(r.stdout).toContain('All services stopped');
    expect(await settlesWithin(d.exited, 15_000, 'the daemon exiting after down')).toBe(0);
    for (const pid of pids) expect(isAlive(pid), `pid ${pid} after down`).toBe(false);
    expect(processesWithArg(marker, 'node')).toEqual([]);
    expect(processesWithArg(`${marker}-extra`, 'node')).toEqual([]);
    expect(existsSync(path.join(dir, '.groundwork', 'daemon.json'))).toBe(false);
    const left = await sweepLeftovers(footprintOf(dir, [marker]));
    expect(isEmpty(left), `left after down:\n  ${describeLeftovers(left)}`).toBe(true);
  });

  it('status without a daemon reads recorded state and says nothing is supervised', async () => {
    const r = await cli(dir, ['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no daemon runs: nothing is supervised; start it with `groundwork up`/);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    const json = JSON.parse((await cli(dir, ['status', '--json'])).stdout) as Status;
    expect(json.daemon).toBeNull();
  });
});

describe('the CLI when the daemon died', () => {
  it('status after the daemon was SIGKILLed (daemon.json left behind) reads recorded state, no daemon', async () => {
    const dir = makeTempDir('clidead');
    try {
      writeStack(dir, { stack: 'dead' });
      const up = await spawnUp(dir);
      process.kill(up.pid, 'SIGKILL');
      await up.exited;
      expect(existsSync(path.join(dir, '.groundwork', 'daemon.json'))).toBe(true);
      const r = await cli(dir, ['status', '--json']);
      expect(r.code).toBe(0);
      const json = JSON.parse(r.stdout) as Status;
      expect(json.daemon).toBeNull();
      expect(json.services).toEqual([]);
      expect(r.stderr).not.toMatch(STACK_FRAME);
      // The stack has no services: a SIGKILLed daemon leaves nothing behind.
      const left = await sweepLeftovers(footprintOf(dir));
      expect(isEmpty(left), `left after the daemon was killed:\n  ${describeLeftovers(left)}`).toBe(true);
    } finally {
      removeTempDir(dir);
    }
  });
});
