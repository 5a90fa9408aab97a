/**
 * kill -9 of `groundwork apply` in the middle of a run: the store opens cleanly, the next apply
 * completes the work, the killed change is recorded as interrupted, and every service runs exactly
 * its replica count: instances the killed run started are adopted, not duplicated or orphaned.
 *
 * The cases run three at a time, each in a directory and under a stack name of its own (most of a
 * case is waiting for services to start); the kill is timed by the journal, never by the clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readPidFile } from '../../src/proxy/process/launcher.js';
import { TEST_KILL_ENV } from '../../src/core/test-kill-point.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StackConfig } from '../../src/config/schema.js';
import { runCliOk, testEnv } from '../helpers/cli.js';
import { ensureBuilt } from '../helpers/dist.js';
import { httpGet, waitForHttp } from '../helpers/http.js';
import { teardownStack, writeServerScript, writeStack } from '../helpers/lab.js';
import { isAlive, processesUnder, processesWithArg } from '../helpers/processes.js';
import { instancesOf, readState, stateDbOf, withReadConnection } from '../helpers/state.js';
import { limiter } from '../helpers/limiter.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sqliteNotReady, waitFor } from '../helpers/wait.js';
import { pidOf } from '../helpers/instance-pid.js';

/** One case's stack: its directory, its stack name, the apply it may kill. */
interface CrashLab {
  dir: string;
  stack: string;
  child: ChildProcess | undefined;
}

let labs = 0;
/** Each case starts several node processes at once (the CLI, shims, services); more would starve them. */
const slot = limiter(3);
/** A case's timeout covers its wait for a slot, too. */
const CASE_TIMEOUT = 240_000;

/**
 * A fresh directory and stack name per case, torn down after it: the apply killed if it still
 * runs, the stack deleted through the product, nothing of the case left (teardownStack throws).
 */
const crashTest = it.extend<{ lab: CrashLab }>({
  // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern; it has none
  lab: ({}, use) =>
    slot(async () => {
      const lab: CrashLab = { dir: makeTempDir('crash'), stack: `crashlab-${++labs}`, child: undefined };
      try {
        await use(lab);
      } finally {
        const c = lab.child;
        if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
        try {
          await teardownStack(lab.dir, lab.stack);
        } finally {
          removeTempDir(lab.dir);
        }
      }
    }),
});

function markerOf(dir: string, svc: string): string {
  return `gw-marker-${path.basename(dir)}-${svc}`;
}

/** Services that are slow to start (the shell sleeps, then becomes node), so a kill lands while one starts. */
function writeCrashStack(
  { dir, stack: name }: CrashLab,
  services: Record<string, { replicas: number; depends_on?: string[]; startDelay?: string }>,
  volumes?: StackConfig['volumes'],
): void {
  writeServerScript(dir);
  const stack: StackConfig = {
    stack: name,
    ...(volumes ? { volumes } : {}),
    services: Object.fromEntries(
      Object.entries(services).map(([svc, s]) => [
        svc,
        {
          command: `sleep ${s.startDelay ?? '0.4'} && exec node server.mjs ${markerOf(dir, svc)}`,
          replicas: s.replicas,
          ports: { http: 'auto' },
          env: { PORT: '${port.http}' },
          // Probed often so apply sees each instance ready soon; failures while it starts do not count.
          health: { http: { path: '/healthz' }, interval: '200ms', timeout: '1s', start_period: '10s' },
          stop_grace: '2s',
          ...(s.depends_on ? { depends_on: s.depends_on } : {}),
        },
      ]),
    ),
  };
  writeStack(dir, stack);
}

interface JournalRow {
  address: string;
  status: string;
}
interface InstanceRecordFile {
  service: string;
  id: string;
}

function instanceRecords(dir: string): InstanceRecordFile[] {
  const d = path.join(dir, '.groundwork', 'instances');
  try {
    return readdirSync(d)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        try {
          return [JSON.parse(readFileSync(path.join(d, f), 'utf8')) as InstanceRecordFile];
        } catch {
          return [];
        }
      });
  } catch {
    return [];
  }
}

describe.concurrent('crash recovery (SIGKILL of apply)', () => {
  let cliMain: string;

  /**
   * Runs `groundwork apply` as its own process, watches the journal through a second connection,
   * and SIGKILLs it once at least one step is applied and a service step (one of `only`, if given)
   * is half-way: its first instance is started and recorded by the driver, the step is not done.
   */
  async function killApplyHalfway(lab: CrashLab, only?: string[]): Promise<string> {
    const { dir } = lab;
    let out = '';
    const c = spawn(process.execPath, [cliMain, 'apply', '--parallelism', '1', '-m', 'to be killed'], {
      cwd: dir,
      env: testEnv() as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    lab.child = c;
    c.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    c.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    const db = stateDbOf(dir);
    const address = await waitFor(
      () => {
        if (c.exitCode !== null) throw new Error(`apply ended before it could be killed:\n${out}`);
        const rows = withReadConnection(
          db,
          (x) => x.prepare('SELECT address, status FROM journal ORDER BY id').all() as JournalRow[],
        );
        const running = rows.find((r) => r.status === 'started' && r.address.startsWith('service.'));
        if (!rows.some((r) => r.status === 'applied') || !running) return undefined;
        const svc = running.address.slice('service.'.length);
        if (only && !only.includes(svc)) return undefined;
        return instanceRecords(dir).some((r) => r.service === svc) ? running.address : undefined;
      },
      {
        what: 'apply to be half-way through a service step',
        timeoutMs: 30_000,
        intervalMs: 5,
        retryOn: sqliteNotReady,
      },
    );
    c.kill('SIGKILL');
    await exited;
    expect(c.signalCode).toBe('SIGKILL');
    return address;
  }

  beforeAll(() => {
    cliMain = ensureBuilt();
  }, 120_000);

  /**
   * Runs `groundwork apply --parallelism 1` as its own process and SIGKILLs it from outside as
   * soon as the journal (read through a second, read-only connection) shows `n` steps applied
   * (n = 0: as soon as the first step started). Returns the journal as it was after the kill.
   */
  async function killAfterSteps(lab: CrashLab, n: number): Promise<JournalRow[]> {
    const { dir } = lab;
    let out = '';
    // After step n >= 1 the apply kills itself once the step is recorded (the test kill hook):
    // killed from here, a loaded machine could let the last steps finish before the kill lands.
    const c = spawn(process.execPath, [cliMain, 'apply', '--parallelism', '1', '-m', `killed after ${n}`], {
      cwd: dir,
      env: testEnv(n > 0 ? { [TEST_KILL_ENV]: `apply:${n}` } : {}) as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    lab.child = c;
    c.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    c.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    const journal = () =>
      withReadConnection(
        stateDbOf(dir),
        (x) => x.prepare('SELECT address, status FROM journal ORDER BY id').all() as JournalRow[],
      );
    if (n === 0) {
      // A step in flight: the first journal row (no step applied yet, however late the kill lands).
      await waitFor(
        () => {
          if (c.exitCode !== null) throw new Error(`apply ended before its first step started:\n${out}`);
          return journal().length > 0;
        },
        {
          what: 'apply to start its first step',
          timeoutMs: 30_000,
          intervalMs: 2,
          // The store file and its tables appear while the apply starts.
          retryOn: sqliteNotReady,
        },
      );
      c.kill('SIGKILL');
    }
    await exited;
    expect(c.signalCode, out).toBe('SIGKILL');
    return journal();
  }

  crashTest(
    'a second apply completes the killed one without duplicates or orphans',
    async ({ lab }) => {
      const { dir } = lab;
      const replicas: Record<string, number> = { s1: 1, s2: 2, s3: 1, s4: 2, s5: 1, s6: 1 };
      writeCrashStack(lab, {
        s1: { replicas: 1 },
        s2: { replicas: 2, depends_on: ['s1'] },
        s3: { replicas: 1, depends_on: ['s2'] },
        s4: { replicas: 2 },
        s5: { replicas: 1, depends_on: ['s4'] },
        s6: { replicas: 1 },
      });
      const killedDuring = await killApplyHalfway(lab);

      // The store is intact and opens through the real store (migrations, WAL recovery).
      const db = stateDbOf(dir);
      expect(withReadConnection(db, (c) => c.pragma('integrity_check', { simple: true }))).toBe('ok');
      const before = readState(dir);
      expect(before.changes[0]?.outcome).toBe('running');
      expect(
        before
          .journal(1)
          .filter((j) => j.status === 'started')
          .map((j) => j.address),
      ).toEqual([killedDuring]);

      const again = await runCliOk(['apply', '--parallelism', '1', '-m', 'after the crash'], { cwd: dir });
      expect(again.stdout).toContain('Recovered from an interrupted run');
      expect(again.stdout).toContain(killedDuring);
      expect(again.stdout).toContain('Apply complete!');
      // The instance the killed run had started is taken over, not started a second time.
      expect(again.stdout).toMatch(new RegExp(`${killedDuring.replace('.', '\\.')}: adopted instance \\d`));

      const after = readState(dir);
      expect(after.changes.find((c) => c.id === 1)?.outcome).toBe('interrupted');
      expect(after.journal(1).find((j) => j.address === killedDuring)?.status).toBe('interrupted');
      expect(after.changes.find((c) => c.id === 2)?.outcome).toBe('applied');
      expect(withReadConnection(db, (c) => c.pragma('integrity_check', { simple: true }))).toBe('ok');

      // Every recorded instance serves (an adopted one may still be starting: see the next test).
      for (const svc of Object.keys(replicas)) {
        for (const i of instancesOf(dir, svc))
          await waitForHttp(
            i.ports.http as number,
            '/',
            (b) => b.includes(`${svc} ${i.index}`),
            `${svc} ${i.index} to answer`,
          );
      }
      // Exactly the replica count of live service processes per service, and they are the recorded ones.
      for (const [svc, n] of Object.entries(replicas)) {
        const live = processesWithArg(markerOf(dir, svc), 'node').sort();
        expect(live, `live node processes of ${svc}`).toHaveLength(n);
        expect(
          instancesOf(dir, svc)
            .map((i) => pidOf(i))
            .sort(),
          `recorded instances of ${svc}`,
        ).toEqual(live);
      }
      // Nothing else runs in the stack's directory: a shim, the service and its log writer per
      // instance, and the data plane serving the services' stable addresses.
      const instances = Object.values(replicas).reduce((a, b) => a + b, 0);
      const plane = readPidFile(path.join(dir, '.groundwork'))?.pid;
      expect(plane !== undefined && isAlive(plane), 'the data plane runs').toBe(true);
      expect(processesUnder(dir).filter((p) => p !== plane)).toHaveLength(3 * instances);
      // The driver keeps records only of the live instances.
      expect(instanceRecords(dir)).toHaveLength(instances);

      await runCliOk(['plan', '--exit-code'], { cwd: dir });
    },
    CASE_TIMEOUT,
  );

  // "kill -9 at any moment": at every step boundary of a five-step apply (a chain of services), the
  // next apply completes the work with exactly the declared instances. Every step takes at least
  // 0.5 s (the service sleeps before node listens, and apply waits for health), so a boundary is
  // still one when the kill lands. (Volumes were steps here once: they sort after the services and
  // take microseconds, so "after step 4" could not land before step 5.)
  const CHAIN = {
    s1: { replicas: 1, startDelay: '0.5' },
    s2: { replicas: 2, depends_on: ['s1'], startDelay: '0.5' },
    s3: { replicas: 1, depends_on: ['s2'], startDelay: '0.5' },
    s4: { replicas: 1, depends_on: ['s3'], startDelay: '0.5' },
    s5: { replicas: 1, depends_on: ['s4'], startDelay: '0.5' },
  };
  const STEPS = 5;
  for (let n = 0; n < STEPS; n++) {
    crashTest(
      `a kill after step ${n} of ${STEPS}: the next apply completes it, nothing duplicated or orphaned`,
      async ({ lab }) => {
        const { dir } = lab;
        writeCrashStack(lab, CHAIN);
        const atKill = await killAfterSteps(lab, n);
        expect(atKill.filter((r) => r.status === 'applied').length).toBeGreaterThanOrEqual(n);
        const db = stateDbOf(dir);
        expect(withReadConnection(db, (c) => c.pragma('integrity_check', { simple: true }))).toBe('ok');
        expect(readState(dir).changes[0]?.outcome).toBe('running');

        const again = await runCliOk(['apply', '--parallelism', '1', '-m', 'after the crash'], { cwd: dir });
        expect(again.stdout).toContain('Apply complete!');
        const after = readState(dir);
        expect(after.changes.find((c) => c.id === 1)?.outcome).toBe('interrupted');
        expect(after.changes.find((c) => c.id === 2)?.outcome).toBe('applied');
        expect(after.resources.map((r) => r.address).sort(), 'every declared resource is recorded once').toEqual([
          'service.s1',
          'service.s2',
          'service.s3',
          'service.s4',
          'service.s5',
        ]);
        for (const [svc, s] of Object.entries(CHAIN)) {
          const live = processesWithArg(markerOf(dir, svc), 'node').sort();
          expect(live, `live node processes of ${svc}`).toHaveLength(s.replicas);
          expect(
            instancesOf(dir, svc)
              .map((i) => pidOf(i))
              .sort(),
            `recorded instances of ${svc}`,
          ).toEqual(live);
        }
        expect(instanceRecords(dir)).toHaveLength(6);
        await runCliOk(['plan', '--exit-code'], { cwd: dir });
      },
      CASE_TIMEOUT,
    );
  }

  crashTest(
    'an instance adopted from the killed run is healthy when the next apply reports success',
    async ({ lab }) => {
      const { dir } = lab;
      // `slow` is the last step; the kill lands while its only instance is still starting.
      writeCrashStack(lab, { fast: { replicas: 1 }, slow: { replicas: 1, depends_on: ['fast'], startDelay: '1.5' } });
      expect(await killApplyHalfway(lab, ['slow'])).toBe('service.slow');

      const again = await runCliOk(['apply', '--parallelism', '1'], { cwd: dir });
      expect(again.stdout).toContain('Apply complete!');
      const [inst] = instancesOf(dir, 'slow');
      expect(inst).toBeDefined();
      // Apply waits for health before it calls an instance ready; an adopted one must be no different.
      const answer = await httpGet(inst?.ports.http as number, '/healthz').catch((e: Error) => ({
        status: 0,
        body: e.message,
      }));
      expect(answer, 'service.slow answers its health check right after apply completed').toMatchObject({
        status: 200,
      });
    },
    CASE_TIMEOUT,
  );
});
