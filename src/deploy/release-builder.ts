/**
 * Makes an immutable release: the source (a git ref, or the working tree) copied into its own
 * directory, the build command run there with its output kept, and a snapshot of the resolved
 * service config, all under one content hash. A failed build never touches what runs.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  lstatSync,
  readlinkSync,
} from 'node:fs';
import path from 'node:path';
import { copyWorkingTree } from '../util/copy-tree.js';
import { canonicalJson } from '../config/load.js';
import type { JsonObject } from '../model/json.js';
import type { ReleaseRecord } from '../store/store.js';
import { Duration } from '../util/duration.js';
import type { ServiceSpec } from '../kinds/service/service-spec.js';
import { configSnapshotDir } from '../kinds/service/service-kind.js';
import type { ReleaseLog } from '../kinds/resource-kind.js';
import { Redactor, StreamRedactor } from '../security/redact.js';

/** Declared beside the kind context that carries it; re-exported for callers of buildRelease. */
export type { ReleaseLog };

export interface BuildInput {
  service: string;
  spec: ServiceSpec;
  stackDir: string;
  stateDir: string;
  ref?: string;
  /**
   * When `ref` is the commit an approved deploy request pinned: the ref the requester typed and
   * the request, so the release reads `git main@1a2b3c4 (pinned by change request #3)`.
   */
  pinned?: { ref: string; request: number };
  /** Absolute paths never copied into a release (volumes inside the source). */
  exclude?: string[];
  message: string;
  author: string;
  now: () => Date;
  progress: (message: string) => void;
  /** Secret values to replace by `[secret:NAME]` in the build log (none by default). */
  redactor?: Redactor;
}

export class BuildFailed extends Error {
  constructor(
    message: string,
    readonly release: ReleaseRecord,
  ) {
    super(message);
  }
}

export function releasesDir(stateDir: string, service: string): string {
  return path.join(stateDir, 'releases', service);
}

/** Where a service's source lives: `source.path`, or the stack directory. */
export function sourceDirOf(spec: ServiceSpec, stackDir: string): string {
  return spec.source ? path.resolve(stackDir, spec.source) : stackDir;
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Copies the source into `dir`; returns a label such as `git main@1a2b3c4` or `working tree`. */
function copySource(src: string, dir: string, ref: string | undefined, stateDir: string, exclude: string[]): string {
  mkdirSync(dir, { recursive: true });
  // releases/ and releases/SERVICE: a `user:` service reaches its release's code, nobody lists them.
  // The code directory keeps the modes of the source it copies.
  for (const parent of [path.dirname(dir), path.dirname(path.dirname(dir))])
    if (path.relative(stateDir, parent).split(path.sep)[0] === 'releases') chmodSync(parent, 0o711);
  if (ref) {
    let commit: string;
    try {
      commit = git(src, ['rev-parse', '--verify', `${ref}^{commit}`]);
    } catch {
      throw new Error(
        `\`${ref}\` is not a commit in ${src}; pass a branch, tag or commit that exists (git log shows them)`,
      );
    }
    const top = git(src, ['rev-parse', '--show-toplevel']);
    const sub = path.relative(top, src);
    const tar = execFileSync('git', ['-C', top, 'archive', '--format=tar', commit, ...(sub ? [sub] : [])], {
      maxBuffer: 1024 * 1024 * 1024,
    });
    execFileSync('tar', ['-x', '-C', dir, ...(sub ? [`--strip-components=${sub.split(path.sep).length}`] : [])], {
      input: tar,
    });
    return `git ${ref}@${commit.slice(0, 7)}`;
  }
  copyWorkingTree(src, dir, [stateDir, ...exclude]);
  return 'working tree';
}

/** sha256 over every file's relative path, mode and content, plus the config snapshot. */
export function hashRelease(dir: string, spec: JsonObject): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isSymbolicLink()) h.update(`l ${rel} ${readlinkSync(p)}\n`);
      else if (st.isDirectory()) {
        h.update(`d ${rel}\n`);
        walk(p);
      } else if (st.isFile()) {
        h.update(`f ${rel} ${(st.mode & 0o777).toString(8)}\n`);
        h.update(readFileSync(p));
      }
    }
  };
  if (existsSync(dir) && statSync(dir).isDirectory()) walk(dir);
  h.update(canonicalJson(spec));
  return h.digest('hex');
}

export async function buildRelease(log: ReleaseLog, input: BuildInput): Promise<ReleaseRecord> {
  const base = releasesDir(input.stateDir, input.service);
  const snapshot: JsonObject = input.spec;
  // Recorded `building` before anything is copied: the number names the directory, and a number
  // taken is never handed out again (recover marks it failed if this process dies mid-build).
  const fields = {
    service: input.service,
    hash: '',
    status: 'building' as const,
    kind: 'deploy' as const,
    source: '',
    spec: snapshot,
    buildLog: null,
    message: input.message,
    author: input.author,
    createdAt: input.now().toISOString(),
    finishedAt: null,
    detail: null,
  };
  const seq = await log.createRelease({ ...fields, dir: (n) => path.join(base, `v${n}`) });
  const dir = path.join(base, `v${seq}`);
  const buildLog = `${dir}.build.log`;
  const record: ReleaseRecord = { ...fields, seq, dir };
  rmSync(dir, { recursive: true, force: true });
  try {
    input.progress(
      `v${seq}: copying ${input.pinned && input.ref ? `git ref ${input.pinned.ref} at ${input.ref.slice(0, 12)} (pinned by change request #${input.pinned.request})` : input.ref ? `git ref ${input.ref}` : 'the working tree'}`,
    );
    const copied = copySource(
      sourceDirOf(input.spec, input.stackDir),
      dir,
      input.ref,
      input.stateDir,
      input.exclude ?? [],
    );
    record.source =
      input.pinned && input.ref
        ? `git ${input.pinned.ref}@${input.ref.slice(0, 7)} (pinned by change request #${input.pinned.request})`
        : copied;
  } catch (e) {
    record.status = 'build-failed';
    record.detail = (e as Error).message;
    record.finishedAt = input.now().toISOString();
    rmSync(dir, { recursive: true, force: true });
    await log.updateRelease(input.service, seq, {
      status: record.status,
      detail: record.detail,
      finishedAt: record.finishedAt,
    });
    throw new BuildFailed(`release v${seq} of ${input.service}: ${record.detail}`, record);
  }
  await log.updateRelease(input.service, seq, { source: record.source });
  if (input.spec.build) {
    input.progress(`v${seq}: building (${input.spec.build.command})`);
    const result = await runBuild(
      input.spec.build.command,
      path.resolve(dir, input.spec.build.cwd),
      buildLog,
      Duration.parse(input.spec.build.timeout),
      input.redactor ?? Redactor.none,
    );
    await log.updateRelease(input.service, seq, { buildLog });
    record.buildLog = buildLog;
    if (result !== true) {
      const detail = `build failed: ${result}; see ${buildLog}`;
      // The directory of a release that never built is of no use; its log stays.
      rmSync(dir, { recursive: true, force: true });
      await log.updateRelease(input.service, seq, {
        status: 'build-failed',
        detail,
        finishedAt: input.now().toISOString(),
      });
      throw new BuildFailed(`release v${seq} of ${input.service}: ${detail}`, {
        ...record,
        status: 'build-failed',
        detail,
      });
    }
  }
  record.hash = hashRelease(dir, snapshot);
  record.status = 'deploying';
  await log.updateRelease(input.service, seq, { hash: record.hash, status: 'deploying' });
  input.progress(`v${seq}: ready (${record.source}, ${record.hash.slice(0, 12)})`);
  return record;
}

function runBuild(
  command: string,
  cwd: string,
  logFile: string,
  timeout: Duration,
  redactor: Redactor,
): Promise<true | string> {
  return new Promise((resolve) => {
    if (!existsSync(cwd)) {
      resolve(`build directory ${cwd} does not exist`);
      return;
    }
    const out = createWriteStream(logFile, { flags: 'w', mode: 0o600 });
    const child = spawn('/bin/sh', ['-c', command], {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/',
        LANG: process.env.LANG ?? 'C.UTF-8',
        CI: 'true',
      },
    });
    if (redactor.empty) {
      child.stdout?.pipe(out, { end: false });
      child.stderr?.pipe(out, { end: false });
    } else {
      // One redacting stream per pipe: a value split over two chunks of the same pipe is still caught.
      for (const pipe of [child.stdout, child.stderr]) {
        const s = new StreamRedactor(redactor);
        pipe?.setEncoding('utf8');
        pipe?.on('data', (c: string) => out.write(s.push(c)));
        pipe?.on('end', () => out.write(s.end()));
      }
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeout.toMilliseconds());
    child.on('error', (e) => {
      clearTimeout(timer);
      out.end();
      resolve(e.message);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      out.end();
      if (code === 0) resolve(true);
      else resolve(signal ? `killed after ${timeout}` : `exit code ${code}`);
    });
  });
}

/**
 * Removes the directories of releases beyond the newest `keep` (never the ones in use): deploy
 * releases, and the copies apply keeps of the code config releases ran (with `stateDir`).
 */
export async function pruneReleases(
  log: ReleaseLog,
  service: string,
  keep: number,
  inUse: Set<number>,
  progress: (m: string) => void,
  stateDir?: string,
): Promise<number> {
  let pruned = 0;
  const withDirs = (await log.listReleases(service, 1000))
    .filter((r) =>
      r.kind === 'deploy'
        ? r.status !== 'pruned' && r.status !== 'build-failed'
        : stateDir !== undefined && existsSync(configSnapshotDir(stateDir, service, r.seq)),
    )
    .sort((a, b) => b.seq - a.seq);
  for (const r of withDirs.slice(keep)) {
    if (inUse.has(r.seq)) continue;
    if (r.kind === 'deploy') {
      rmSync(r.dir, { recursive: true, force: true });
      await log.updateRelease(service, r.seq, { status: 'pruned' });
      progress(`pruned release v${r.seq}`);
    } else if (stateDir !== undefined) {
      rmSync(configSnapshotDir(stateDir, service, r.seq), { recursive: true, force: true });
      progress(`pruned the code kept for release v${r.seq}`);
    }
    pruned++;
  }
  return pruned;
}
