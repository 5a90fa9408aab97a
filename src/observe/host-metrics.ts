/**
 * The host's own numbers, read from /proc (and statfs for mounts) in the shape and with the names
 * of Prometheus's node_exporter, so dashboards and alert rules written for it work unchanged:
 * `node_cpu_seconds_total{cpu,mode}`, `node_memory_*_bytes` (snake_case, see MEMINFO_KEYS), `node_filesystem_*_bytes{mountpoint}`,
 * `node_network_*_total{device}`, `node_load1/5/15`. Each reader returns nothing (not an error)
 * when its file is missing, so a host without one (a container without /proc/net) still reports
 * the rest.
 */
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import type { ExpositionSample, MetricFamily } from './exposition.js';

/** USER_HZ: the unit of /proc/stat and /proc/PID/stat CPU times on Linux. */
const TICKS_PER_SECOND = 100;
/** Page size of /proc/PID/stat's rss field (4 KiB on the platforms the daemon runs on). */
const PAGE_BYTES = 4096;

/** The modes of /proc/stat's cpu lines, in their order (node_exporter's names). */
const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/**
 * /proc/meminfo keys exported and their names. node_exporter calls them `node_memory_MemTotal_bytes`
 * and so on; `promtool check metrics` refuses camelCase, and /metrics must pass it, so ours are
 * snake_case (`node_memory_total_bytes`): a dashboard written for node_exporter needs these renamed.
 */
const MEMINFO_KEYS = [
  ['MemTotal', 'node_memory_total_bytes'],
  ['MemFree', 'node_memory_free_bytes'],
  ['MemAvailable', 'node_memory_available_bytes'],
  ['Buffers', 'node_memory_buffers_bytes'],
  ['Cached', 'node_memory_cached_bytes'],
  ['SwapTotal', 'node_memory_swap_total_bytes'],
  ['SwapFree', 'node_memory_swap_free_bytes'],
] as const;

/** Pseudo file systems: no disk behind them, so no disk use to watch (node_exporter skips them too). */
const PSEUDO_FS = new Set([
  'autofs',
  'binfmt_misc',
  'bpf',
  'cgroup',
  'cgroup2',
  'configfs',
  'debugfs',
  'devpts',
  'devtmpfs',
  'fusectl',
  'hugetlbfs',
  'mqueue',
  'nsfs',
  'proc',
  'procfs',
  'pstore',
  'rpc_pipefs',
  'securityfs',
  'selinuxfs',
  'squashfs',
  'sysfs',
  'tracefs',
]);
/** Mount points of the kernel's and the container engine's own (one per container otherwise). */
const SKIPPED_MOUNTS = /^\/(dev|proc|sys|run\/docker|run\/netns|var\/lib\/docker|var\/lib\/containers)(\/|$)/;

function tryRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function family(name: string, help: string, type: MetricFamily['type'], samples: ExpositionSample[]): MetricFamily {
  return { name, help, type, samples };
}

/** `node_cpu_seconds_total{cpu,mode}` from the per-CPU lines of /proc/stat. */
export function readCpu(procRoot = '/proc'): MetricFamily[] {
  const text = tryRead(`${procRoot}/stat`);
  if (text === undefined) return [];
  const samples: ExpositionSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const fields = (m[2] as string).trim().split(/\s+/).map(Number);
    CPU_MODES.forEach((mode, i) => {
      const ticks = fields[i];
      if (ticks !== undefined && Number.isFinite(ticks))
        samples.push({ labels: { cpu: m[1] as string, mode }, value: ticks / TICKS_PER_SECOND });
    });
  }
  return samples.length === 0
    ? []
    : [family('node_cpu_seconds_total', 'Seconds the CPUs spent in each mode.', 'counter', samples)];
}

/** `node_memory_*_bytes` from /proc/meminfo (values there are in KiB). */
export function readMemory(procRoot = '/proc'): MetricFamily[] {
  const text = tryRead(`${procRoot}/meminfo`);
  if (text === undefined) return [];
  const kib = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) kib.set(m[1] as string, Number(m[2]));
  }
  const out: MetricFamily[] = [];
  for (const [key, name] of MEMINFO_KEYS) {
    const v = kib.get(key);
    if (v === undefined) continue;
    out.push(
      family(name, `Memory information field ${key} of /proc/meminfo, in bytes.`, 'gauge', [{ value: v * 1024 }]),
    );
  }
  return out;
}

/** `node_load1`, `node_load5`, `node_load15` from /proc/loadavg. */
export function readLoad(procRoot = '/proc'): MetricFamily[] {
  const text = tryRead(`${procRoot}/loadavg`);
  if (text === undefined) return [];
  const [l1, l5, l15] = text.trim().split(/\s+/).map(Number);
  const out: MetricFamily[] = [];
  for (const [name, v] of [
    ['node_load1', l1],
    ['node_load5', l5],
    ['node_load15', l15],
  ] as const) {
    if (v !== undefined && Number.isFinite(v))
      out.push(family(name, `${name.slice(9)}m load average.`, 'gauge', [{ value: v }]));
  }
  return out;
}

/** Receive and transmit bytes, packets and errors per interface from /proc/net/dev. */
export function readNetwork(procRoot = '/proc'): MetricFamily[] {
  const text = tryRead(`${procRoot}/net/dev`);
  if (text === undefined) return [];
  // Columns after "iface:": 8 receive fields, then 8 transmit fields.
  const columns = [
    ['node_network_receive_bytes_total', 0, 'Network device statistic receive_bytes.'],
    ['node_network_receive_packets_total', 1, 'Network device statistic receive_packets.'],
    ['node_network_receive_errs_total', 2, 'Network device statistic receive_errs.'],
    ['node_network_transmit_bytes_total', 8, 'Network device statistic transmit_bytes.'],
    ['node_network_transmit_packets_total', 9, 'Network device statistic transmit_packets.'],
    ['node_network_transmit_errs_total', 10, 'Network device statistic transmit_errs.'],
  ] as const;
  const samples = columns.map((): ExpositionSample[] => []);
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    // Containers' host-side ends come and go with each container: series without a future.
    if (device === '' || device.startsWith('veth')) continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    columns.forEach(([, index], i) => {
      const v = fields[index];
      if (v !== undefined && Number.isFinite(v)) samples[i]?.push({ labels: { device }, value: v });
    });
  }
  return columns.flatMap(([name, , help], i) =>
    (samples[i] ?? []).length > 0 ? [family(name, help, 'counter', samples[i] ?? [])] : [],
  );
}

/** Size, free and available bytes of every mounted disk file system (one row per mount point). */
export function readFilesystems(procRoot = '/proc'): MetricFamily[] {
  const text = tryRead(`${procRoot}/mounts`);
  if (text === undefined) return [];
  const size: ExpositionSample[] = [];
  const free: ExpositionSample[] = [];
  const avail: ExpositionSample[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const [device, rawMount, fstype] = line.split(' ');
    if (!device || !rawMount || !fstype || PSEUDO_FS.has(fstype)) continue;
    // /proc/mounts escapes spaces and the like as octal (\040).
    const mountpoint = rawMount.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (SKIPPED_MOUNTS.test(mountpoint) || seen.has(mountpoint)) continue;
    seen.add(mountpoint);
    let st: ReturnType<typeof statfsSync>;
    try {
      st = statfsSync(mountpoint);
    } catch {
      continue; // not ours to read (permissions) or gone since /proc/mounts was read
    }
    if (st.blocks === 0) continue; // tmpfs-like without a size
    const labels = { device, mountpoint, fstype };
    size.push({ labels, value: st.blocks * st.bsize });
    free.push({ labels, value: st.bfree * st.bsize });
    avail.push({ labels, value: st.bavail * st.bsize });
  }
  if (size.length === 0) return [];
  return [
    family('node_filesystem_size_bytes', 'Filesystem size in bytes.', 'gauge', size),
    family('node_filesystem_free_bytes', 'Filesystem free space in bytes.', 'gauge', free),
    family('node_filesystem_avail_bytes', 'Filesystem space available to non-root users in bytes.', 'gauge', avail),
  ];
}

/** Every host family: CPU, memory, load, network, file systems. */
export function readHostMetrics(procRoot = '/proc'): MetricFamily[] {
  return [
    ...readCpu(procRoot),
    ...readMemory(procRoot),
    ...readLoad(procRoot),
    ...readNetwork(procRoot),
    ...readFilesystems(procRoot),
  ];
}

export interface GroupUsage {
  cpuSeconds: number;
  rssBytes: number;
}

export interface ProcessGroups {
  /** Usage summed over the members of each process group, by its id. */
  usage: Map<number, GroupUsage>;
  /** The process group of every pid seen. */
  groupOf: Map<number, number>;
}

/**
 * CPU seconds and resident bytes per process group, from one pass over /proc: an instance is its
 * process group (the wrapper and what it started), and one pass serves every instance instead of
 * one scan of /proc each.
 */
export function readProcessGroups(procRoot = '/proc'): ProcessGroups {
  const out = new Map<number, GroupUsage>();
  const groupOf = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return { usage: out, groupOf };
  }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = tryRead(`${procRoot}/${e}/stat`);
    if (stat === undefined) continue; // exited since readdir
    // comm (field 2) may hold spaces and parentheses; the rest follows the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgid = Number(rest[2]);
    const cpu = (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
    const rss = Number(rest[21]) * PAGE_BYTES;
    groupOf.set(Number(e), pgid);
    const g = out.get(pgid);
    if (g) {
      g.cpuSeconds += cpu;
      g.rssBytes += rss;
    } else out.set(pgid, { cpuSeconds: cpu, rssBytes: rss });
  }
  return { usage: out, groupOf };
}
