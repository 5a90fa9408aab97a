/**
 * Runs instances as plain processes that outlive Groundwork.
 *
 * Each instance is a small /bin/sh shim (its own session and process group) that joins the
 * instance's cgroups, starts the service, writes the service pid and, when the service ends,
 * its exit status to files. So whoever looks later (a restarted daemon) still learns the exit
 * code of a process it did not spawn. The record file keeps pid and kernel start time, so a
 * reused pid is never taken for ours.
 *
 * Output: the shim sends the service's stdout and stderr into a FIFO (instances/ID.fifo) read by
 * the instance's log writer (log-writer.ts), a process of its own in its own session, which
 * appends to logs/SERVICE/N.log, rotates by rename and applies the rate limit. Neither survives
 * on the daemon: both outlive it, and the record keeps the writer's pid for the next daemon.
 *
 * Stop ends the whole tree, whoever ignores SIGTERM: every process of the instance is found by
 * (1) its tracking cgroup where one could be made (v2 `cgroup.kill`, or v1 `pids` cgroup.procs),
 * (2) the environment marker GROUNDWORK_INSTANCE_ID=<id> that every descendant inherits (finds
 * setsid'd and double-forked children without cgroups too; only one that clears its environment
 * hides from it), (3) the shim's process group and session while the shim is provably ours.
 * All get SIGTERM, and after the grace period SIGKILL until none is left.
 */
import { execFile, spawn } from 'node:child_process';
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  openSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
  chownSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Duration } from '../../util/duration.js';
import {
  InstanceExitedError,
  type DriverCapabilities,
  type InstanceHandle,
  type InstanceSpec,
  type InstanceStats,
  type InstanceStatus,
  type LogLimits,
  type RuntimeDriver,
} from '../runtime-driver.js';
import {
  groupStats,
  isSameProcess,
  pidsInGroupOrSession,
  pidsWithEnv,
  tryGroupAndSession,
  tryProcessStartTicks,
} from './proc.js';
import {
  joinedCgroups,
  killCgroup,
  cgroupPids,
  placeInCgroups,
  removeCgroupDir,
  removeCgroups,
  tryTrackingCgroup,
} from './cgroups.js';
import { ensureUser } from './os-user.js';
import { tailLog } from './log-parts.js';
import { DEFAULT_LOG_LIMITS } from './log-limits.js';
import type { LogWriterConfig } from './log-writer.js';
import { processHandle, type ProcessHandleData } from './process-handle.js';
import type { HandleDescription } from '../driver-handle.js';

const execFileAsync = promisify(execFile);

/** The environment variable every process of an instance inherits: how stop finds escaped ones. */
export const INSTANCE_MARKER = 'GROUNDWORK_INSTANCE_ID';

// The instance's stdout and stderr are the FIFO opened read-write (by the driver, inherited at
// fork): so when the log writer dies, the service's writes do not fail with EPIPE/SIGPIPE (which
// would kill most services; a read-write descriptor is a reader too); they fill the pipe (64 KiB)
// and then block until the driver has started a new writer (inspect does, at once for a running
// daemon, or the next daemon on adoption). A service blocked on its log is visible and
// recovers; one killed by SIGPIPE loses its state.
const SHIM = `
exitfile=$1; pidfile=$2; shift 2
for d in $GW_TRACK; do echo $$ 2>/dev/null > "$d/cgroup.procs"; done
for d in $GW_CGROUPS; do echo $$ 2>/dev/null > "$d/cgroup.procs" || echo "groundwork: could not join cgroup $d; limits not enforced" >&2; done
unset GW_CGROUPS GW_TRACK
"$@" &
child=$!
echo "$child" > "$pidfile"
trap 'interrupted=1; kill -TERM "$child" 2>/dev/null' TERM
trap 'interrupted=1; kill -INT "$child" 2>/dev/null' INT
trap 'interrupted=1; kill -HUP "$child" 2>/dev/null' HUP
# A trapped signal cuts \`wait\` short with a status over 128 that is not the child's: wait again
# then. (Checking whether the child still lives instead would record 143 for a child that ran its
# own TERM trap and exited 0 in between.) 127: the child was reaped by the previous wait.
code=
while :; do
  interrupted=0
  wait "$child"; c=$?
  if [ "$c" = 127 ] && [ -n "$code" ]; then break; fi
  code=$c
  if [ "$interrupted" = 1 ] && [ "$c" -gt 128 ]; then continue; fi
  break
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

/** A process known by pid and kernel start time, so a reused pid is never taken for it. */
interface WriterRef {
  pid: number;
  startTicks: number;
}

/**
 * The driver's own reading of a handle: its identity fields with the handle's data beside them.
 * What the driver writes to instances/ID.json is this (the data flat, as every version wrote it),
 * plus what only the driver needs.
 */
type ProcessRef = Omit<InstanceHandle, 'handle'> & ProcessHandleData;

interface InstanceRecord extends ProcessRef {
  stack: string;
  /** The log writer process (absent in records of older versions). */
  logWriter?: WriterRef;
  logLimits?: LogLimits;
  /** The cgroup that only tracks the instance's processes, when one could be made. */
  trackingCgroup?: string;
}

/** How to run the log writer: the compiled one beside us, or (from the sources) dist's or tsx's. */
function logWriterCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (here.endsWith('.js')) return [path.join(dir, 'log-writer.js')];
  const source = path.join(dir, 'log-writer.ts');
  const built = path.resolve(dir, '..', '..', '..', 'dist', 'runtime', 'process', 'log-writer.js');
  // From the sources (tests, tsx): the build when it is current, else the source through tsx.
  if (existsSync(built) && statSync(built).mtimeMs >= statSync(source).mtimeMs) return [built];
  const tsx = path.resolve(dir, '..', '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs');
  return ['--import', pathToFileURL(tsx).href, source];
}

export interface ProcessDriverOptions {
  /** Holds instances/ (records, pid and exit files) and logs/. */
  stateDir: string;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Put each instance in a cgroup that only tracks its processes (default true; best effort).
   * false: find them by the environment marker and the process group alone, as on a host
   * without writable cgroups (tests use it to prove that path).
   */
  trackingCgroups?: boolean;
  /**
   * Group (name or gid) that may read the logs: log directories 0750 and files 0640 owned by it.
   * Default none: 0700 / 0600, the daemon's user alone. From GROUNDWORK_LOG_GROUP.
   */
  logGroup?: string;
}

/** Modes of what the driver creates (the state directory itself is 0711: see STATE_DIR_MODE). */
const INSTANCES_DIR_MODE = 0o711; // a `user:` service's shim reaches its pid and exit files; nobody lists them
const PRIVATE_FILE_MODE = 0o600;

/** A group name or number to its gid, from /etc/group; throws naming the setting when unknown. */
export function gidOf(group: string): number {
  if (/^[0-9]+$/.test(group)) return Number(group);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  const gid = line ? Number(line.split(':')[2]) : NaN;
  if (!Number.isInteger(gid))
    throw new Error(
      `the log group \`${group}\` (GROUNDWORK_LOG_GROUP) does not exist; create it (groupadd ${group}) or unset GROUNDWORK_LOG_GROUP`,
    );
  return gid;
}

function mkdirMode(dir: string, mode: number, gid?: number): void {
  mkdirSync(dir, { recursive: true, mode });
  try {
    if (gid !== undefined) chownSync(dir, process.getuid?.() ?? -1, gid);
    chmodSync(dir, mode);
  } catch {
    /* not ours to change */
  }
}

export class ProcessDriver implements RuntimeDriver {
  readonly name = 'process' as const;
  readonly capabilities: DriverCapabilities = { users: process.getuid?.() === 0, limits: true, adoption: true };
  private readonly instancesDir: string;
  private readonly logsDir: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly trackingCgroups: boolean;
  private readonly logGroup: string | undefined;
  /** Log writers last seen alive, so inspect need not read the record each time. */
  private readonly writers = new Map<string, WriterRef>();
  /**
   * Secret values each instance's log is redacted of, in memory only: a writer restarted by this
   * driver gets them again; one restarted after a daemon restart has none (values never go to disk).
   */
  private readonly redactions = new Map<string, { name: string; value: string }[]>();
  /** Per instance being started: resolves when its keeper descriptor is closed. */
  private readonly keepers = new Map<string, Promise<void>>();

  constructor(opts: ProcessDriverOptions) {
    this.trackingCgroups = opts.trackingCgroups ?? true;
    this.logGroup = opts.logGroup;
    this.instancesDir = path.join(opts.stateDir, 'instances');
    this.logsDir = path.join(opts.stateDir, 'logs');
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** The log group's gid; undefined without one, or when it vanished (then logs stay private). */
  private tryLogGid(): number | undefined {
    try {
      return this.logGroup === undefined ? undefined : gidOf(this.logGroup);
    } catch {
      return undefined;
    }
  }

  logFileFor(service: string, index: number): string {
    return path.join(this.logsDir, service, `${index}.log`);
  }

  private fifoOf(id: string): string {
    return path.join(this.instancesDir, `${id}.fifo`);
  }

  private recordFileOf(id: string): string {
    return path.join(this.instancesDir, `${id}.json`);
  }

  private tryReadRecord(id: string): InstanceRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.recordFileOf(id), 'utf8')) as InstanceRecord;
    } catch {
      return undefined;
    }
  }

  private writeRecord(r: InstanceRecord): void {
    const file = this.recordFileOf(r.id);
    writeFileSync(`${file}.tmp`, JSON.stringify(r), { mode: PRIVATE_FILE_MODE });
    renameSync(`${file}.tmp`, file);
  }

  /**
   * Starts the log writer of instance `id`, detached in its own session (so it outlives the
   * daemon and no signal to the daemon's group reaches it) and without the instance marker (so
   * stopping the instance leaves it to drain the FIFO and exit at EOF).
   */
  private spawnLogWriter(id: string, logFile: string, limits: LogLimits, gid = this.tryLogGid()): WriterRef {
    const redact = this.redactions.get(id) ?? [];
    const cfg: LogWriterConfig = {
      fifo: this.fifoOf(id),
      file: logFile,
      instance: id,
      ...limits,
      ...(gid === undefined ? {} : { gid }),
      ...(redact.length ? { redactFromStdin: true } : {}),
    };
    // The values to redact go through a pipe on stdin: never argv (`ps`) nor env (/proc/PID/environ).
    const child = spawn(
      process.execPath,
      ['--max-old-space-size=32', '--max-semi-space-size=1', ...logWriterCommand(), JSON.stringify(cfg)],
      {
        detached: true,
        stdio: [redact.length ? 'pipe' : 'ignore', 'ignore', 'ignore'],
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      },
    );
    child.on('error', () => {}); // reported below: no pid
    if (child.stdin) {
      child.stdin.on('error', () => {}); // a writer that died at once: seen below or at the next inspect
      child.stdin.end(JSON.stringify(redact));
    }
    child.unref();
    const pid = child.pid;
    const startTicks = pid === undefined ? undefined : tryProcessStartTicks(pid);
    if (pid === undefined || startTicks === undefined)
      throw new Error(`could not start the log writer of instance ${id} (${process.execPath}); is node runnable?`);
    return { pid, startTicks };
  }

  /**
   * A running instance whose writer died (killed, or crashed) gets a new one on the same FIFO;
   * until then its output waits in the pipe (see SHIM). Cheap: one /proc read per call.
   */
  private ensureLogWriter(handle: ProcessRef): void {
    const known = this.writers.get(handle.id);
    if (known && isSameProcess(known.pid, known.startTicks)) return; // the common case: no file read
    const rec = this.tryReadRecord(handle.id);
    if (!rec?.logWriter || !existsSync(this.fifoOf(handle.id))) return;
    if (isSameProcess(rec.logWriter.pid, rec.logWriter.startTicks)) {
      this.writers.set(handle.id, rec.logWriter);
      return;
    }
    try {
      rec.logWriter = this.spawnLogWriter(handle.id, rec.logFile, rec.logLimits ?? DEFAULT_LOG_LIMITS);
      this.writers.set(handle.id, rec.logWriter);
      this.writeRecord(rec);
    } catch {
      /* tried again at the next inspect */
    }
  }

  /**
   * Holds `fd` (the FIFO, read-write) until the writer has opened the FIFO for reading, then
   * closes it. Until then it keeps the pipe alive, so an instance that writes and ends before the
   * writer (a node process) is up loses no line; and start() need not wait for the writer.
   */
  private async holdUntilWriterReads(fd: number, fifo: string, writer: WriterRef): Promise<void> {
    // By inode, not by path: the path the kernel shows may differ (symlinks in the state directory).
    const ino = statSync(fifo).ino;
    const reading = () => {
      try {
        return readdirSync(`/proc/${writer.pid}/fd`).some((f) => {
          try {
            return statSync(`/proc/${writer.pid}/fd/${f}`).ino === ino;
          } catch {
            return false;
          }
        });
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    while (!reading() && isSameProcess(writer.pid, writer.startTicks) && Date.now() < deadline) await this.sleep(5);
    closeSync(fd);
  }

  /** The keeper of instance `id` (see holdUntilWriterReads) let go: its writer reads, or never will. */
  private async keeperReleased(id: string): Promise<void> {
    await this.keepers.get(id);
    this.keepers.delete(id);
  }

  /** Waits for the writer to drain and exit at EOF; a writer that does not is stopped. */
  private async stopLogWriter(id: string, w: WriterRef | undefined): Promise<void> {
    await this.keeperReleased(id);
    this.writers.delete(id);
    this.redactions.delete(id);
    if (!w) return;
    const alive = () => isSameProcess(w.pid, w.startTicks);
    for (let i = 0; i < 200 && alive(); i++) await this.sleep(10);
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (!alive()) return;
      try {
        process.kill(w.pid, signal);
      } catch {
        return;
      }
      for (let i = 0; i < 100 && alive(); i++) await this.sleep(10);
    }
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    const gid = this.logGroup === undefined ? undefined : gidOf(this.logGroup);
    mkdirMode(this.instancesDir, INSTANCES_DIR_MODE);
    const logFile = this.logFileFor(spec.service, spec.index);
    mkdirMode(this.logsDir, gid === undefined ? 0o700 : 0o750, gid);
    mkdirMode(path.dirname(logFile), gid === undefined ? 0o700 : 0o750, gid);
    const user = spec.user ? ensureUser(spec.user) : undefined;
    if (!existsSync(spec.cwd))
      throw new Error(`working directory ${spec.cwd} does not exist; fix \`cwd\` of service ${spec.service}`);
    const exitFile = path.join(this.instancesDir, `${spec.id}.exit`);
    const pidFile = path.join(this.instancesDir, `${spec.id}.pid`);
    const fifo = this.fifoOf(spec.id);
    // Created here (empty) so a shim running as another user can write them.
    writeFileSync(exitFile, '', { mode: PRIVATE_FILE_MODE });
    writeFileSync(pidFile, '', { mode: PRIVATE_FILE_MODE });
    rmSync(fifo, { force: true });
    await execFileAsync('mkfifo', ['-m', '600', fifo]);
    if (user) {
      chownSync(exitFile, user.uid, user.gid);
      chownSync(pidFile, user.uid, user.gid);
      chownSync(fifo, user.uid, user.gid);
    }
    const logLimits = spec.logs ?? DEFAULT_LOG_LIMITS;
    // The writer is a node process and takes a moment to start: a keeper descriptor holds the
    // FIFO meanwhile (holdUntilWriterReads), so the instance starts at once.
    if (spec.redact?.length) this.redactions.set(spec.id, spec.redact);
    const logWriter = this.spawnLogWriter(spec.id, logFile, logLimits, gid);
    const cg = placeInCgroups(spec.id, spec.memoryBytes, spec.cpuCores, user);
    const trackingCgroup = this.trackingCgroups ? tryTrackingCgroup(spec.id, user) : undefined;
    const argv = spec.args ? [spec.command, ...spec.args] : ['/bin/sh', '-c', spec.command];
    let wrapperPid: number;
    // Read-write: opening never blocks (no reader needed yet), and see SHIM for why not write-only.
    const out = openSync(fifo, fsConstants.O_RDWR);
    this.keepers.set(spec.id, this.holdUntilWriterReads(out, fifo, logWriter));
    try {
      const child = spawn('/bin/sh', ['-c', SHIM, 'groundwork-shim', exitFile, pidFile, ...argv], {
        cwd: spec.cwd,
        env: {
          ...spec.env,
          GW_CGROUPS: cg.dirs.join(' '),
          GW_TRACK: trackingCgroup ?? '',
          [INSTANCE_MARKER]: spec.id,
        },
        detached: true,
        stdio: ['ignore', out, out],
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      });
      wrapperPid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid as number));
      });
      child.unref();
    } catch (e) {
      await this.stopLogWriter(spec.id, logWriter);
      rmSync(fifo, { force: true });
      if (trackingCgroup) removeCgroupDir(trackingCgroup);
      throw e;
    }
    const pgidStartTicks = tryProcessStartTicks(wrapperPid);
    const base = {
      id: spec.id,
      service: spec.service,
      index: spec.index,
      specHash: spec.specHash,
      logFile,
      ports: spec.ports,
      stack: spec.stack,
      logWriter,
      logLimits,
      ...(trackingCgroup ? { trackingCgroup } : {}),
    };
    // Recorded at once (with the shim as pid), so a crash right now still leaves it findable. A
    // record that cannot be written (a full disk) means the instance must not run: nothing runs
    // that is not recorded.
    try {
      this.writeRecord({
        ...base,
        pid: wrapperPid,
        pgid: wrapperPid,
        pgidStartTicks,
        startTicks: pgidStartTicks ?? 0,
        startedAt: new Date().toISOString(),
        limits: cg.description,
      });
    } catch (e) {
      await this.cleanupFailedStart(spec.id, wrapperPid, logWriter);
      throw e;
    }
    let pid: number;
    let startTicks: number | undefined;
    try {
      pid = await this.waitForPidFile(pidFile, wrapperPid);
      startTicks = tryProcessStartTicks(pid);
    } catch (e) {
      await this.cleanupFailedStart(spec.id, wrapperPid);
      throw e;
    }
    if (startTicks === undefined) {
      await this.sleep(20);
      const code = this.tryReadExit(exitFile);
      await this.cleanupFailedStart(spec.id, wrapperPid);
      throw new InstanceExitedError(
        `instance ${spec.id} exited at once${code === undefined ? '' : ` with code ${code}`}; see its log ${logFile}`,
        code ?? null,
      );
    }
    const limits =
      cg.dirs.length && !joinedCgroups(pid, cg.dirs)
        ? 'not enforced: the instance could not join its cgroup'
        : cg.description;
    const ref: ProcessRef = {
      id: spec.id,
      service: spec.service,
      index: spec.index,
      pid,
      pgid: wrapperPid,
      ...(pgidStartTicks !== undefined ? { pgidStartTicks } : {}),
      startTicks,
      startedAt: new Date().toISOString(),
      specHash: spec.specHash,
      logFile,
      limits,
      ports: spec.ports,
    };
    try {
      this.writeRecord({ ...base, ...ref });
    } catch (e) {
      await this.cleanupFailedStart(spec.id, wrapperPid, logWriter);
      throw e;
    }
    return handleOf(ref);
  }

  private async cleanupFailedStart(
    id: string,
    wrapperPid: number,
    writer?: InstanceRecord['logWriter'],
  ): Promise<void> {
    const rec = this.tryReadRecord(id);
    try {
      process.kill(-wrapperPid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (const pid of pidsWithEnv(INSTANCE_MARKER, id)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // The writer writes what the instance said before it ended (the reason it failed), then exits.
    await this.stopLogWriter(id, rec?.logWriter ?? writer);
    for (const ext of ['json', 'exit', 'pid', 'fifo'])
      rmSync(path.join(this.instancesDir, `${id}.${ext}`), { force: true });
    removeCgroups(id);
    if (rec?.trackingCgroup) removeCgroupDir(rec.trackingCgroup);
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

  async stop(h: InstanceHandle, grace: Duration): Promise<InstanceStatus> {
    const handle = refOf(h);
    const rec = this.tryReadRecord(handle.id);
    const members = () => this.processesOf(handle, rec?.trackingCgroup);
    if (members().length > 0) {
      this.signalAll(handle, members(), 'SIGTERM');
      const deadline = Date.now() + grace.toMilliseconds();
      while (members().length > 0 && Date.now() < deadline) await this.sleep(25);
      // Whoever ignored SIGTERM, and whatever was forked since: SIGKILL until nothing is left.
      for (let i = 0; i < 200; i++) {
        const left = members();
        if (left.length === 0) break;
        if (rec?.trackingCgroup) killCgroup(rec.trackingCgroup);
        this.signalAll(handle, left, 'SIGKILL');
        await this.sleep(10);
      }
    }
    // Give the shim a moment to write the exit status.
    for (let i = 0; i < 20 && this.tryReadExit(this.exitFile(handle)) === undefined && this.shimAlive(handle); i++)
      await this.sleep(10);
    // Every writer of the FIFO is gone now: the log writer drains it and exits.
    await this.stopLogWriter(handle.id, rec?.logWriter);
    removeCgroups(handle.id);
    if (rec?.trackingCgroup) removeCgroupDir(rec.trackingCgroup);
    return this.inspectRef(handle);
  }

  /**
   * Every live process of the instance: its tracking cgroup, its environment marker, and its
   * group and session while they are provably ours (a group id alone may have been reused).
   */
  private processesOf(handle: ProcessRef, trackingCgroup: string | undefined): number[] {
    const pids = new Set<number>(pidsWithEnv(INSTANCE_MARKER, handle.id));
    if (trackingCgroup)
      for (const p of cgroupPids(trackingCgroup)) if (tryProcessStartTicks(p) !== undefined) pids.add(p);
    const ours = this.shimAlive(handle) || isSameProcess(handle.pid, handle.startTicks);
    if (ours && handle.pgid > 1) for (const p of pidsInGroupOrSession(handle.pgid)) pids.add(p);
    if (isSameProcess(handle.pid, handle.startTicks)) pids.add(handle.pid);
    pids.delete(process.pid);
    pids.delete(0);
    pids.delete(1);
    return [...pids];
  }

  private signalAll(handle: ProcessRef, pids: number[], signal: NodeJS.Signals): void {
    const group = this.signalGroup(handle, signal);
    // The group got it once already; a second SIGTERM can cut short a service's own TERM trap.
    for (const pid of pids) {
      if (group && signal !== 'SIGKILL' && (pid === handle.pid || tryGroupAndSession(pid)?.pgid === handle.pgid))
        continue;
      try {
        process.kill(pid, signal);
      } catch {
        /* gone */
      }
    }
  }

  /** Our shim still runs (same pid and start time). Zombies do not count. */
  private shimAlive(handle: ProcessRef): boolean {
    if (handle.pgidStartTicks === undefined)
      return tryProcessStartTicks(handle.pgid) !== undefined && isSameProcess(handle.pid, handle.startTicks);
    return isSameProcess(handle.pgid, handle.pgidStartTicks);
  }

  /** Signals the instance's group when it is provably ours (and says whether it did), and the service. */
  private signalGroup(handle: ProcessRef, signal: NodeJS.Signals): boolean {
    if (handle.pgid <= 1 || handle.pid <= 1) return false; // a placeholder: never signal our own group or init
    let signalled = false;
    // Only a group we can prove is ours: its leader is our shim, or our service is in it.
    if (this.shimAlive(handle) || isSameProcess(handle.pid, handle.startTicks)) {
      try {
        process.kill(-handle.pgid, signal);
        signalled = true;
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
    return signalled;
  }

  private exitFile(handle: ProcessRef): string {
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
    return this.inspectRef(refOf(handle));
  }

  private async inspectRef(handle: ProcessRef): Promise<InstanceStatus> {
    if (isSameProcess(handle.pid, handle.startTicks)) {
      this.ensureLogWriter(handle);
      return { state: 'running', pid: handle.pid };
    }
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
      if (again !== undefined) return this.inspectRef(handle);
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
        const { stack: _stack, logWriter: _w, logLimits: _l, trackingCgroup: _t, ...handle } = r;
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
        out.push(handleOf(handle));
      } catch {
        /* torn or foreign file */
      }
    }
    return out;
  }

  /** The last lines across the live log and its rotated parts. */
  async logs(handle: InstanceHandle, opts: { lines: number }): Promise<string> {
    return tailLog(handle.logFile, opts.lines);
  }

  describe(handle: InstanceHandle): HandleDescription {
    return processHandle.describe(handle.handle, handle.id);
  }

  async stats(h: InstanceHandle): Promise<InstanceStats | undefined> {
    const handle = refOf(h);
    if (!isSameProcess(handle.pid, handle.startTicks)) return undefined;
    return groupStats(handle.pgid);
  }

  async forget(handle: InstanceHandle): Promise<void> {
    // The instance is gone, so its writer is at EOF: let it finish writing before the record goes.
    const rec = this.tryReadRecord(handle.id);
    await this.stopLogWriter(handle.id, rec?.logWriter);
    // An instance that ended by itself was never stopped: its (empty) cgroups go now.
    removeCgroups(handle.id);
    if (rec?.trackingCgroup) removeCgroupDir(rec.trackingCgroup);
    for (const ext of ['json', 'exit', 'pid', 'fifo'])
      rmSync(path.join(this.instancesDir, `${handle.id}.${ext}`), { force: true });
  }
}

/** The driver's reading of a handle it made: its data (checked by its schema) beside the identity. */
function refOf(h: InstanceHandle): ProcessRef {
  const { handle, ...identity } = h;
  return { ...identity, ...processHandle.read(handle, h.id) };
}

/** The handle to hand out for `ref`: the data behind the driver's opaque handle. */
function handleOf(ref: ProcessRef): InstanceHandle {
  const { pid, pgid, pgidStartTicks, startTicks, ...identity } = ref;
  return {
    ...identity,
    handle: processHandle.make({
      pid,
      pgid,
      ...(pgidStartTicks !== undefined ? { pgidStartTicks } : {}),
      startTicks,
    }),
  };
}
