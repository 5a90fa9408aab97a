/**
 * Reads a V8 CPU profile (node --cpu-prof) and names its hot spots as src/ file:line, through
 * the source maps tsc writes next to dist/. Lines come from V8's per-line ticks (positionTicks);
 * functions from their call frames.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  positionTicks?: { line: number; ticks: number }[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Hotspot {
  /** file:line relative to the repository, or a V8 pseudo-frame such as (garbage collector). */
  where: string;
  function: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  sampledMs: number;
  /** Time spent in the function's own code. */
  selfByFunction: Hotspot[];
  /** Time spent on each source line (own code only). */
  selfByLine: Hotspot[];
  /** Time spent in the function and everything it called, for functions of src/. */
  totalBySrcFunction: Hotspot[];
  /** Calls from src/ into dependencies and Node (yaml, better-sqlite3, JSON, ...), with what they took. */
  srcToDependencies: Hotspot[];
}

class Locator {
  private readonly maps = new Map<string, SourceMap | undefined>();
  constructor(private readonly root: string) {}

  /** Maps a 0-based generated position to "file:line" (1-based) in the original source. */
  locate(url: string, line0: number, column0: number): string {
    if (!url) return '';
    const file = url.startsWith('file://') ? fileURLToPath(url) : url;
    const map = this.mapOf(file);
    if (map) {
      const e = map.findEntry(line0, column0);
      if ('originalSource' in e) {
        const src = e.originalSource.startsWith('file://')
          ? fileURLToPath(e.originalSource)
          : path.resolve(path.dirname(file), e.originalSource);
        return `${this.rel(src)}:${e.originalLine + 1}`;
      }
    }
    return `${this.rel(file)}:${line0 + 1}`;
  }

  private rel(file: string): string {
    return path.isAbsolute(file) ? path.relative(this.root, file) : file;
  }

  private mapOf(file: string): SourceMap | undefined {
    if (!this.maps.has(file)) {
      const mapFile = `${file}.map`;
      let map: SourceMap | undefined;
      if (file.endsWith('.js') && existsSync(mapFile)) {
        try {
          map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload);
        } catch {
          map = undefined;
        }
      }
      this.maps.set(file, map);
    }
    return this.maps.get(file);
  }
}

export function summariseProfile(file: string, root: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    // timeDeltas[i + 1] is the time from sample i to the next one: what sample i stands for.
    for (let i = 0; i < samples.length; i++) {
      const id = samples[i] as number;
      selfMs.set(id, (selfMs.get(id) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
    }
  } else {
    const hits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
    const per = (profile.endTime - profile.startTime) / 1000 / hits;
    for (const n of profile.nodes) selfMs.set(n.id, (n.hitCount ?? 0) * per);
  }
  const sampledMs = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const loc = new Locator(root);
  const fnName = (n: ProfileNode) => n.callFrame.functionName || '(anonymous)';
  const fnKey = (n: ProfileNode) =>
    `${fnName(n)}\u0000${loc.locate(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber)}`;

  const selfFn = new Map<string, number>();
  const selfLine = new Map<string, number>();
  for (const n of profile.nodes) {
    const ms = selfMs.get(n.id) ?? 0;
    if (ms === 0) continue;
    const key = fnKey(n);
    selfFn.set(key, (selfFn.get(key) ?? 0) + ms);
    const ticks = n.positionTicks ?? [];
    const total = ticks.reduce((s, t) => s + t.ticks, 0);
    if (total === 0 || !n.callFrame.url) {
      selfLine.set(key, (selfLine.get(key) ?? 0) + ms);
      continue;
    }
    for (const t of ticks) {
      // positionTicks lines are 1-based; the last mapping on the generated line names the statement.
      const lk = `${fnName(n)}\u0000${loc.locate(n.callFrame.url, t.line - 1, Number.MAX_SAFE_INTEGER)}`;
      selfLine.set(lk, (selfLine.get(lk) ?? 0) + (ms * t.ticks) / total);
    }
  }

  // Inclusive time of every node (itself + its subtree).
  const nodeTotal = new Map<number, number>();
  const parent = new Map<number, number>();
  const subtree = (id: number): number => {
    const n = byId.get(id);
    if (!n) return 0;
    let t = selfMs.get(id) ?? 0;
    for (const c of n.children ?? []) {
      parent.set(c, id);
      t += subtree(c);
    }
    nodeTotal.set(id, t);
    return t;
  };
  const rootNode = profile.nodes[0];
  if (rootNode) subtree(rootNode.id);

  // Per function, a function counts once per stack, however deep it recurses.
  const totalFn = new Map<string, number>();
  const onStack = new Map<string, number>();
  const visit = (id: number): void => {
    const n = byId.get(id);
    if (!n) return;
    const key = fnKey(n);
    const depth = onStack.get(key) ?? 0;
    if (depth === 0) totalFn.set(key, (totalFn.get(key) ?? 0) + (nodeTotal.get(id) ?? 0));
    onStack.set(key, depth + 1);
    for (const c of n.children ?? []) visit(c);
    onStack.set(key, depth);
  };
  if (rootNode) visit(rootNode.id);

  // Where our code hands work to a dependency or to Node: the callee's inclusive time, by caller.
  const boundary = new Map<string, number>();
  for (const n of profile.nodes) {
    const p = parent.get(n.id);
    const caller = p === undefined ? undefined : byId.get(p);
    if (!caller) continue;
    const [callerFn, callerWhere] = fnKey(caller).split('\u0000') as [string, string];
    const calleeWhere = loc.locate(n.callFrame.url, n.callFrame.lineNumber, n.callFrame.columnNumber);
    // Callbacks of the bench itself (passed into src/, e.g. withLease's fn) are not dependencies.
    if (!callerWhere.startsWith('src/') || calleeWhere.startsWith('src/') || calleeWhere.startsWith('bench/')) continue;
    const key = `${fnName(n)} (${calleeWhere || 'native'}) called by ${callerFn}\u0000${callerWhere}`;
    boundary.set(key, (boundary.get(key) ?? 0) + (nodeTotal.get(n.id) ?? 0));
  }

  const rank = (m: Map<string, number>, keep: (where: string) => boolean = () => true): Hotspot[] =>
    [...m.entries()]
      .map(([k, ms]) => {
        const [fn = '', where = ''] = k.split('\u0000');
        return { function: fn, where, ms, share: sampledMs ? ms / sampledMs : 0 };
      })
      .filter((h) => keep(h.where))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  return {
    file,
    sampledMs,
    selfByFunction: rank(selfFn),
    selfByLine: rank(selfLine),
    totalBySrcFunction: rank(totalFn, (w) => w.startsWith('src/')),
    srcToDependencies: rank(boundary),
  };
}

export function renderProfileSummary(s: ProfileSummary, root: string): string {
  const section = (title: string, hs: Hotspot[]) => [
    `  ${title}`,
    ...hs.map(
      (h) =>
        `    ${h.ms.toFixed(0).padStart(6)} ms ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.where || '-'}  ${h.function}`,
    ),
  ];
  return [
    `${path.relative(root, s.file)} (${s.sampledMs.toFixed(0)} ms sampled)`,
    ...section('self time by line', s.selfByLine),
    ...section('self time by function', s.selfByFunction),
    ...section('total time by function in src/ (itself + what it calls)', s.totalBySrcFunction),
    ...section('calls from src/ into dependencies and Node (callee, total time, caller)', s.srcToDependencies),
  ].join('\n');
}
