/**
 * Memory and CPU limits through cgroups, v2 when mounted unified, else v1 (memory + cpu
 * controllers). Returns the directories the shim joins before it starts the service, or why
 * limits are not enforced. Never throws: limits are best effort and `status` says which.
 */
import { chownSync, existsSync, mkdirSync, rmdirSync, writeFileSync, readFileSync } from 'node:fs';
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
