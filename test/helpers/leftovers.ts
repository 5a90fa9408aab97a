/**
 * What a test's stack can leave behind, found from the outside: processes (through /proc: their
 * working directory, command line or environment names the test's directory or one of its
 * markers) and Docker containers and swarm services (labelled with the installation that made
 * them, which is the state directory: see src/runtime/docker/container-labels.ts).
 *
 * Teardown sweeps them all away, so one test's failure never leaks into the next, and then
 * fails with the list of what it found: a leftover is a bug of the product or of the test.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DockerClient, dockerSocketFromEnv, isDockerError } from '../../src/runtime/docker/docker-client.js';
import { LABEL } from '../../src/runtime/docker/container-labels.js';
import { allPids, isAlive, tryCmdline, tryCwd, tryEnviron } from './processes.js';
import { waitFor } from './wait.js';

export interface StackFootprint {
  /** The test's directory: anything running in it, or naming it, is the test's. */
  dir: string;
  /** The installation's state directory (owner label of its containers); default `dir`/.groundwork. */
  stateDir?: string;
  /** Further strings that mark the test's processes (on the command line or in the environment). */
  markers?: string[];
}

export interface LeftoverProcess {
  pid: number;
  cmdline: string;
  /** Which trace tied it to the test. */
  why: string;
}

export interface Leftovers {
  processes: LeftoverProcess[];
  /** `container <name>` / `swarm service <name>`. */
  engineObjects: string[];
}

function inside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

/** Live processes (not this one, not zombies) that carry a trace of the footprint. */
export function processesOf(f: StackFootprint): LeftoverProcess[] {
  const needles = [f.dir, ...(f.stateDir ? [f.stateDir] : []), ...(f.markers ?? [])].filter((n) => n !== '');
  const out: LeftoverProcess[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid || !isAlive(pid)) continue;
    const cmd = tryCmdline(pid) ?? [];
    const cwd = tryCwd(pid);
    let why: string | undefined;
    if (cwd !== undefined && inside(cwd, f.dir)) why = `runs in ${cwd}`;
    const named = needles.find((n) => cmd.some((a) => a.includes(n)));
    if (why === undefined && named !== undefined) why = `its command line names ${named}`;
    if (why === undefined) {
      const env = tryEnviron(pid) ?? {};
      const hit = Object.entries(env).find(([, v]) => needles.some((n) => v.includes(n)));
      if (hit) why = `its environment names the test (${hit[0]})`;
    }
    if (why !== undefined) out.push({ pid, cmdline: cmd.join(' '), why });
  }
  return out;
}

let engine: DockerClient | null | undefined;

/** The Docker engine when its socket exists; null otherwise (then no test could have made containers). */
function dockerEngine(): DockerClient | null {
  if (engine !== undefined) return engine;
  const socket = dockerSocketFromEnv(process.env);
  engine = existsSync(socket) ? new DockerClient({ socketPath: socket }) : null;
  return engine;
}

/** Containers and swarm services whose owner label is the footprint's state directory. */
export async function engineObjectsOf(f: StackFootprint): Promise<{ containers: string[]; services: string[] }> {
  const client = dockerEngine();
  if (!client) return { containers: [], services: [] };
  const owner = [`${LABEL.owner}=${f.stateDir ?? path.join(f.dir, '.groundwork')}`];
  let containers: string[];
  try {
    containers = (await client.listContainers(owner)).map((c) => c.Id);
  } catch (e) {
    // No engine answering: nothing can have been started there.
    if (isDockerError(e, 'unreachable')) return { containers: [], services: [] };
    throw e;
  }
  let services: string[] = [];
  try {
    services = (await client.listServices(owner)).map((s) => s.ID);
  } catch (e) {
    if (!isDockerError(e, 'not-swarm-manager')) throw e;
  }
  return { containers, services };
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Finds what the footprint left, removes it (waiting until it is gone), and returns what it found. */
export async function sweepLeftovers(f: StackFootprint): Promise<Leftovers> {
  const processes = processesOf(f);
  const objects = await engineObjectsOf(f);
  const client = dockerEngine();
  if (client) {
    for (const id of objects.services) await client.removeService(id).catch(() => undefined);
    for (const id of objects.containers) await client.removeContainer(id, { force: true }).catch(() => undefined);
  }
  killAll(processes.map((p) => p.pid));
  await waitFor(
    async () => {
      const left = processesOf(f);
      killAll(left.map((p) => p.pid));
      const eng = await engineObjectsOf(f);
      if (client)
        for (const id of eng.containers) await client.removeContainer(id, { force: true }).catch(() => undefined);
      return left.length === 0 && eng.containers.length === 0 && eng.services.length === 0;
    },
    { what: `everything of the test in ${f.dir} to be gone`, timeoutMs: 30_000, intervalMs: 50 },
  );
  return {
    processes,
    engineObjects: [
      ...objects.containers.map((id) => `container ${id.slice(0, 12)}`),
      ...objects.services.map((id) => `swarm service ${id.slice(0, 12)}`),
    ],
  };
}

export function describeLeftovers(l: Leftovers): string {
  return [...l.processes.map((p) => `pid ${p.pid} (${p.why}): ${p.cmdline}`), ...l.engineObjects].join('\n  ');
}

export function isEmpty(l: Leftovers): boolean {
  return l.processes.length === 0 && l.engineObjects.length === 0;
}

/**
 * Collects teardown failures: every step runs (so the machine is left clean), then one error
 * names everything that went wrong.
 */
export class TeardownFailures {
  private readonly failures: string[] = [];

  constructor(private readonly what: string) {}

  add(failure: string): void {
    this.failures.push(failure);
  }

  /** Runs a teardown step; a throw is recorded, not propagated. */
  async step(name: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.add(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Sweeps the footprint and records anything found. */
  async sweep(f: StackFootprint, after: string): Promise<void> {
    const l = await sweepLeftovers(f);
    if (!isEmpty(l)) this.add(`left running after ${after}:\n  ${describeLeftovers(l)}`);
  }

  throwIfAny(): void {
    if (this.failures.length > 0) throw new Error(`teardown of ${this.what} failed:\n- ${this.failures.join('\n- ')}`);
  }
}

/** Resolves with `p`, or rejects when it has not settled within `ms` (naming `what`). */
export function settlesWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
