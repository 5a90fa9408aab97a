/**
 * Runs instances as plain processes that outlive Groundwork.
 *
 * Each instance is a small /bin/sh shim (its own session and process group) that joins the
 * instance's cgroups, starts the service, writes the service pid and, when the service ends,
 * its exit status to files. So whoever looks later (a restarted daemon) still learns the exit
 * code of a process it did not spawn. The record file keeps pid and kernel start time, so a
 * reused pid is never taken for ours.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  readSync,
  chownSync,
} from 'node:fs';
import path from 'node:path';
import type { Duration } from '../../util/duration.js';
import {
  InstanceExitedError,
  type DriverCapabilities,
  type InstanceHandle,
  type InstanceSpec,
  type InstanceStats,
  type InstanceStatus,
  type RuntimeDriver,
} from '../runtime-driver.js';
import { groupStats, isSameProcess, tryProcessStartTicks } from './proc.js';
import { joinedCgroups, placeInCgroups, removeCgroups } from './cgroups.js';
import { ensureUser } from './os-user.js';

const SHIM = `
exitfile=$1; pidfile=$2; shift 2
for d in $GW_CGROUPS; do echo $$ 2>/dev/null > "$d/cgroup.procs" || echo "groundwork: could not join cgroup $d; limits not enforced" >&2; done
unset GW_CGROUPS
"$@" &
child=$!
echo "$child" > "$pidfile"
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
trap 'kill -HUP "$child" 2>/dev/null' HUP
while :; do
  wait "$child"; code=$?
  kill -0 "$child" 2>/dev/null || break
done
echo "$code" > "$exitfile"
exit "$code"
`;

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  15: 'SIGTERM',
};

interface InstanceRecord extends InstanceHandle {
  stack: string;
}

export interface ProcessDriverOptions {
  /** Holds instances/ (records, pid and exit files) and logs/. */
  stateDir: string;
  sleep?: (ms: number) => Promise<void>;
}

export class ProcessDriver implements RuntimeDriver {
  readonly name = 'process' as const;
  readonly capabilities: DriverCapabilities = { users: process.getuid?.() === 0, limits: true, adoption: true };
  private readonly instancesDir: string;
  private readonly logsDir: string;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: ProcessDriverOptions) {
    this.instancesDir = path.join(opts.stateDir, 'instances');
    this.logsDir = path.join(opts.stateDir, 'logs');
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  logFileFor(service: string, index: number): string {
    return path.join(this.logsDir, service, `${index}.log`);
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    mkdirSync(this.instancesDir, { recursive: true });
    const logFile = this.logFileFor(spec.service, spec.index);
    mkdirSync(path.dirname(logFile), { recursive: true });
    const user = spec.user ? ensureUser(spec.user) : undefined;
    if (!existsSync(spec.cwd))
      throw new Error(`working directory ${spec.cwd} does not exist; fix \`cwd\` of service ${spec.service}`);
    const exitFile = path.join(this.instancesDir, `${spec.id}.exit`);
    const pidFile = path.join(this.instancesDir, `${spec.id}.pid`);
    // Created here (empty) so a shim running as another user can write them.
    writeFileSync(exitFile, '');
    writeFileSync(pidFile, '');
    if (user) {
      chownSync(exitFile, user.uid, user.gid);
      chownSync(pidFile, user.uid, user.gid);
    }
    const cg = placeInCgroups(spec.id, spec.memoryBytes, spec.cpuCores, user);
    const argv = spec.args ? [spec.command, ...spec.args] : ['/bin/sh', '-c', spec.command];
    const fd = openSync(logFile, 'a', 0o640);
    let wrapperPid: number | undefined;
    try {
      const child = spawn('/bin/sh', ['-c', SHIM, 'groundwork-shim', exitFile, pidFile, ...argv], {
        cwd: spec.cwd,
        env: { ...spec.env, GW_CGROUPS: cg.dirs.join(' ') },
        detached: true,
        stdio: ['ignore', fd, fd],
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      });
      wrapperPid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid as number));
      });
      child.unref();
    } finally {
      closeSync(fd);
    }
    const pgidStartTicks = tryProcessStartTicks(wrapperPid);
    const recordFile = path.join(this.instancesDir, `${spec.id}.json`);
    const writeRecord = (r: InstanceRecord) => {
      writeFileSync(`${recordFile}.tmp`, JSON.stringify(r));
      renameSync(`${recordFile}.tmp`, recordFile);
    };
    // Recorded at once (with the shim as pid), so a crash right now still leaves it findable.
    writeRecord({
      id: spec.id,
      service: spec.service,
      index: spec.index,
      pid: wrapperPid,
      pgid: wrapperPid,
      pgidStartTicks,
      startTicks: pgidStartTicks ?? 0,
      startedAt: new Date().toISOString(),
      specHash: spec.specHash,
      logFile,
      limits: cg.description,
      ports: spec.ports,
      stack: spec.stack,
    });
    let pid: number;
    let startTicks: number | undefined;
    try {
      pid = await this.waitForPidFile(pidFile, wrapperPid);
      startTicks = tryProcessStartTicks(pid);
    } catch (e) {
      this.cleanupFailedStart(spec.id, wrapperPid);
      throw e;
    }
    if (startTicks === undefined) {
      await this.sleep(20);
      const code = this.tryReadExit(exitFile);
      this.cleanupFailedStart(spec.id, wrapperPid);
      throw new InstanceExitedError(
        `instance ${spec.id} exited at once${code === undefined ? '' : ` with code ${code}`}; see its log ${logFile}`,
        code ?? null,
      );
    }
    const limits =
      cg.dirs.length && !joinedCgroups(pid, cg.dirs)
        ? 'not enforced: the instance could not join its cgroup'
        : cg.description;
    const handle: InstanceHandle = {
      id: spec.id,
      service: spec.service,
      index: spec.index,
      pid,
      pgid: wrapperPid,
      pgidStartTicks,
      startTicks,
      startedAt: new Date().toISOString(),
      specHash: spec.specHash,
      logFile,
      limits,
      ports: spec.ports,
    };
    writeRecord({ ...handle, stack: spec.stack });
    return handle;
  }

  private cleanupFailedStart(id: string, wrapperPid: number): void {
    try {
      process.kill(-wrapperPid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (const ext of ['json', 'exit', 'pid']) rmSync(path.join(this.instancesDir, `${id}.${ext}`), { force: true });
    removeCgroups(id);
  }

  private async waitForPidFile(pidFile: string, wrapperPid: number): Promise<number> {
    for (let i = 0; i < 200; i++) {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        if (pid > 0) return pid;
      } catch {
        /* not yet */
      }
      if (tryProcessStartTicks(wrapperPid) === undefined) break;
      await this.sleep(10);
    }
    throw new Error(`the process shim (pid ${wrapperPid}) did not start the service; is /bin/sh available?`);
  }

  async stop(handle: InstanceHandle, grace: Duration): Promise<InstanceStatus> {
    const alive = () => isSameProcess(handle.pid, handle.startTicks) || this.shimAlive(handle);
    if (alive()) {
      this.signalGroup(handle, 'SIGTERM');
      const deadline = Date.now() + grace.toMilliseconds();
      while (alive() && Date.now() < deadline) await this.sleep(25);
      if (alive()) {
        this.signalGroup(handle, 'SIGKILL');
        for (let i = 0; i < 200 && alive(); i++) await this.sleep(10);
      }
    }
    // Give the shim a moment to write the exit status.
    for (let i = 0; i < 20 && this.tryReadExit(this.exitFile(handle)) === undefined && this.shimAlive(handle); i++)
      await this.sleep(10);
    removeCgroups(handle.id);
    return this.inspect(handle);
  }

  /** Our shim still runs (same pid and start time). Zombies do not count. */
  private shimAlive(handle: InstanceHandle): boolean {
    if (handle.pgidStartTicks === undefined)
      return tryProcessStartTicks(handle.pgid) !== undefined && isSameProcess(handle.pid, handle.startTicks);
    return isSameProcess(handle.pgid, handle.pgidStartTicks);
  }

  private signalGroup(handle: InstanceHandle, signal: NodeJS.Signals): void {
    if (handle.pgid <= 1 || handle.pid <= 1) return; // a placeholder: never signal our own group or init
    // Only a group we can prove is ours: its leader is our shim, or our service is in it.
    if (this.shimAlive(handle) || isSameProcess(handle.pid, handle.startTicks)) {
      try {
        process.kill(-handle.pgid, signal);
      } catch {
        /* group gone */
      }
    }
    // A service that left the group (setsid) is still ours by pid and start time.
    if (isSameProcess(handle.pid, handle.startTicks)) {
      try {
        process.kill(handle.pid, signal);
      } catch {
        /* gone */
      }
    }
  }

  private exitFile(handle: InstanceHandle): string {
    return path.join(this.instancesDir, `${handle.id}.exit`);
  }

  private tryReadExit(file: string): number | undefined {
    try {
      const text = readFileSync(file, 'utf8').trim();
      const n = Number(text);
      return text !== '' && Number.isInteger(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  async inspect(handle: InstanceHandle): Promise<InstanceStatus> {
    if (isSameProcess(handle.pid, handle.startTicks)) return { state: 'running', pid: handle.pid };
    const code = this.tryReadExit(this.exitFile(handle));
    if (code !== undefined) {
      return code > 128 && code < 160
        ? { state: 'exited', exitCode: null, signal: SIGNALS[code - 128] ?? `signal ${code - 128}` }
        : { state: 'exited', exitCode: code, signal: null };
    }
    if (this.shimAlive(handle)) {
      // Service gone, shim about to record it.
      await this.sleep(50);
      const again = this.tryReadExit(this.exitFile(handle));
      if (again !== undefined) return this.inspect(handle);
    }
    if (existsSync(path.join(this.instancesDir, `${handle.id}.json`)))
      return { state: 'exited', exitCode: null, signal: 'SIGKILL' };
    return { state: 'missing' };
  }

  async list(stack: string): Promise<InstanceHandle[]> {
    if (!existsSync(this.instancesDir)) return [];
    const out: InstanceHandle[] = [];
    for (const f of readdirSync(this.instancesDir).sort()) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = JSON.parse(readFileSync(path.join(this.instancesDir, f), 'utf8')) as InstanceRecord;
        if (r.stack !== stack) continue;
        const { stack: _stack, ...handle } = r;
        if (handle.pid === handle.pgid) {
          // A provisional record (the run that wrote it died before the service's pid was known):
          // the shim's pid file has it.
          try {
            const pid = Number(readFileSync(path.join(this.instancesDir, `${handle.id}.pid`), 'utf8').trim());
            const ticks = pid > 0 ? tryProcessStartTicks(pid) : undefined;
            if (ticks !== undefined) {
              handle.pid = pid;
              handle.startTicks = ticks;
            }
          } catch {
            /* no pid file: the shim never started the service */
          }
        }
        out.push(handle);
      } catch {
        /* torn or foreign file */
      }
    }
    return out;
  }

  async logs(handle: InstanceHandle, opts: { lines: number }): Promise<string> {
    return tailFile(handle.logFile, opts.lines);
  }

  async stats(handle: InstanceHandle): Promise<InstanceStats | undefined> {
    if (!isSameProcess(handle.pid, handle.startTicks)) return undefined;
    return groupStats(handle.pgid);
  }

  async forget(handle: InstanceHandle): Promise<void> {
    for (const ext of ['json', 'exit', 'pid'])
      rmSync(path.join(this.instancesDir, `${handle.id}.${ext}`), { force: true });
  }
}

/** The last `lines` lines of a file, reading at most the last 1 MiB. */
export function tailFile(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const want = Math.min(size, 1024 * 1024);
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(want);
    readSync(fd, buf, 0, want, size - want);
    const text = buf.toString('utf8');
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    return all.slice(-lines).join('\n') + (all.length ? '\n' : '');
  } finally {
    closeSync(fd);
  }
}
