/**
 * Memory and CPU limits through cgroups, v2 when mounted unified, else v1 (memory + cpu
 * controllers). Returns the directories the shim joins before it starts the service, or why
 * limits are not enforced. Never throws: limits are best effort and `status` says which.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface CgroupPlacement {
  /** Directories whose cgroup.procs the shim writes its pid to. */
  dirs: string[];
  description: string;
}

const ROOT = '/sys/fs/cgroup';

export function placeInCgroups(
  id: string,
  memoryBytes: number | null,
  cpuCores: number | null,
  owner?: { uid: number; gid: number },
  root = ROOT,
): CgroupPlacement {
  if (memoryBytes === null && cpuCores === null) return { dirs: [], description: 'none requested' };
  try {
    let placed: CgroupPlacement;
    if (existsSync(path.join(root, 'cgroup.controllers'))) placed = v2(id, memoryBytes, cpuCores, root);
    else if (existsSync(path.join(root, 'memory')) || existsSync(path.join(root, 'cpu')))
      placed = v1(id, memoryBytes, cpuCores, root);
    else return { dirs: [], description: `not enforced: no cgroup hierarchy at ${root}` };
    // The shim joins the group itself; when it runs as another user it needs the file delegated.
    if (owner) for (const d of placed.dirs) chownSync(path.join(d, 'cgroup.procs'), owner.uid, owner.gid);
    return placed;
  } catch (e) {
    return { dirs: [], description: `not enforced: ${(e as Error).message.split('\n')[0]}` };
  }
}

function v2(id: string, mem: number | null, cpu: number | null, root: string): CgroupPlacement {
  const available = readFileSync(path.join(root, 'cgroup.controllers'), 'utf8');
  const want = [mem !== null && 'memory', cpu !== null && 'cpu'].filter(
    (x): x is string => Boolean(x) && available.includes(x as string),
  );
  writeFileSync(path.join(root, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
  const parent = path.join(root, 'groundwork');
  mkdirSync(parent, { recursive: true });
  writeFileSync(path.join(parent, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
  const dir = path.join(parent, id);
  mkdirSync(dir, { recursive: true });
  if (mem !== null) writeFileSync(path.join(dir, 'memory.max'), String(mem));
  if (cpu !== null) writeFileSync(path.join(dir, 'cpu.max'), `${Math.round(cpu * 100_000)} 100000`);
  return { dirs: [dir], description: 'cgroup v2' };
}

function v1(id: string, mem: number | null, cpu: number | null, root: string): CgroupPlacement {
  const dirs: string[] = [];
  if (mem !== null) {
    const dir = path.join(root, 'memory', 'groundwork', id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(mem));
    dirs.push(dir);
  }
  if (cpu !== null) {
    const dir = path.join(root, 'cpu', 'groundwork', id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '100000');
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(cpu * 100_000)));
    dirs.push(dir);
  }
  return { dirs, description: 'cgroup v1' };
}

/** Removes the instance's cgroups once it is gone (a cgroup with no members can be removed). */
export function removeCgroups(id: string, root = ROOT): void {
  for (const dir of [
    path.join(root, 'groundwork', id),
    path.join(root, 'memory', 'groundwork', id),
    path.join(root, 'cpu', 'groundwork', id),
  ]) {
    try {
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      /* still has members, or not ours */
    }
  }
}

/** Whether `pid` is in every one of `dirs` (read back from /proc, so status never overstates). */
export function joinedCgroups(pid: number, dirs: string[]): boolean {
  if (dirs.length === 0) return true;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return false;
  }
  return dirs.every((d) => {
    const rel = d.replace(/^\/sys\/fs\/cgroup(\/(memory|cpu))?/, '');
    return text.split('\n').some((l) => l.endsWith(`:${rel}`));
  });
}

/**
 * A cgroup only for finding every process of an instance at stop (no limits): the v2 hierarchy
 * (unified, or the `unified` mount of a hybrid host) where `cgroup.kill` ends a whole tree at once,
 * else the v1 `pids` hierarchy. undefined where no hierarchy is writable (containers without
 * delegation, non-root daemons): the driver then finds processes by their environment marker.
 */
export function tryTrackingCgroup(id: string, owner?: { uid: number; gid: number }, root = ROOT): string | undefined {
  const candidates = [
    existsSync(path.join(root, 'cgroup.controllers')) ? root : undefined,
    existsSync(path.join(root, 'unified', 'cgroup.controllers')) ? path.join(root, 'unified') : undefined,
    existsSync(path.join(root, 'pids', 'cgroup.procs')) ? path.join(root, 'pids') : undefined,
  ];
  for (const base of candidates) {
    if (!base) continue;
    const dir = path.join(base, 'groundwork', id);
    try {
      mkdirSync(dir, { recursive: true });
      if (owner) chownSync(path.join(dir, 'cgroup.procs'), owner.uid, owner.gid);
      return dir;
    } catch {
      /* not writable here; try the next hierarchy */
    }
  }
  return undefined;
}

/** Pids in a cgroup (and its children), [] when it is gone. */
export function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    try {
      for (const l of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) out.push(Number(l));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    } catch {
      /* gone */
    }
  };
  walk(dir);
  return out;
}

/** SIGKILLs every process in the cgroup: `cgroup.kill` (v2, Linux 5.14+) or one by one. */
export function killCgroup(dir: string): void {
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
    return;
  } catch {
    /* v1, or an older kernel */
  }
  for (const pid of cgroupPids(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Removes a tracking cgroup (and a leftover child) once it is empty. */
export function removeCgroupDir(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirSync(path.join(dir, e.name));
    rmdirSync(dir);
  } catch {
    /* still has members, or gone */
  }
}
