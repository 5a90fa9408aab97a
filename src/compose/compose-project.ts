/**
 * Reads compose files into one project, as `docker compose -f a.yaml -f b.yaml config` would:
 * each file parsed with positions, interpolated (`.env` in the project directory, then the
 * process environment, which wins), validated against the compose-spec schema, its services
 * normalised (short and long syntaxes become one form), `extends` resolved, `env_file:` read,
 * the files merged in order (the spec's merge rules), and services outside the active profiles
 * left out. Never throws for bad input: every problem is a located diagnostic.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { Diagnostic } from '../config/diagnostic.js';
import { validateCompose } from './compose-schema.js';
import { interpolate, InterpolationError, parseDotEnv, type Lookup } from './interpolate.js';

export interface Pos {
  file: string;
  line: number;
  column: number;
}

export interface ComposePort {
  target: number;
  published?: string;
  host_ip?: string;
  protocol: string;
  at: Pos;
}

export interface ComposeMount {
  type: 'volume' | 'bind' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  /** A volume name, or an absolute host path for a bind (resolved against the file's directory). */
  source?: string;
  target: string;
  read_only: boolean;
  at: Pos;
}

export interface ComposeDependency {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  at: Pos;
}

export interface Located<T> {
  value: T;
  at: Pos;
}

/** One service after normalisation and merging. Keys not listed are kept raw in `other`. */
export interface ComposeService {
  name: string;
  at: Pos;
  image?: Located<string>;
  build?: Located<{ context: string; dockerfile?: string; args?: Record<string, string> }>;
  command?: Located<string[] | string>;
  entrypoint?: Located<string[] | string>;
  environment: Record<string, Located<string | null>>;
  labels: Record<string, Located<string>>;
  ports: ComposePort[];
  expose: Located<number>[];
  volumes: ComposeMount[];
  depends_on: Record<string, ComposeDependency>;
  secrets: Located<{ source: string; target?: string }>[];
  profiles: string[];
  networks: Record<string, Located<{ aliases: string[] }>>;
  /** Every other key, raw (after interpolation), with where it was written. */
  other: Record<string, Located<unknown>>;
}

export interface ComposeProject {
  name: string;
  /** Directory of the first file: relative paths and `.env` are read from here. */
  dir: string;
  files: string[];
  services: Record<string, ComposeService>;
  volumes: Record<string, Located<Record<string, unknown>>>;
  secrets: Record<string, Located<Record<string, unknown>>>;
  networks: Record<string, Located<Record<string, unknown>>>;
  configs: Record<string, Located<Record<string, unknown>>>;
  /** Services that exist but are not in an active profile. */
  inactive: string[];
}

export interface LoadOptions {
  files: string[];
  /** The process environment; it wins over `.env`. */
  env: Record<string, string | undefined>;
  projectName?: string;
  /** Active profiles (COMPOSE_PROFILES is read too). */
  profiles?: string[];
}

export interface LoadedCompose {
  project?: ComposeProject;
  diagnostics: Diagnostic[];
}

/** Keys whose values are merged as lists of unique items by later files and extends. */
const APPEND_UNIQUE = new Set(['dns', 'dns_search', 'dns_opt', 'tmpfs', 'cap_add', 'cap_drop', 'extra_hosts']);

/** Positions of every key and item of one file, by path. */
class PositionIndex {
  private readonly byPath = new Map<string, Pos>();
  constructor(
    readonly file: string,
    doc: Node | null,
    counter: LineCounter,
  ) {
    const put = (p: string[], node: { range?: [number, number, number] | null } | null | undefined) => {
      const off = node?.range?.[0];
      if (off === undefined) return;
      const lp = counter.linePos(off);
      this.byPath.set(p.join('\0'), { file, line: lp.line, column: lp.col });
    };
    const walk = (node: unknown, p: string[]) => {
      if (isMap(node)) {
        for (const pair of node.items) {
          const k = isScalar(pair.key) ? String(pair.key.value) : '?';
          put([...p, k], pair.key as Node);
          walk(pair.value, [...p, k]);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          put([...p, String(i)], item as Node);
          walk(item, [...p, String(i)]);
        });
      }
    };
    put([], doc);
    walk(doc, []);
  }

  /** Position of the path, or of its nearest located parent. */
  at(p: readonly (string | number)[]): Pos {
    for (let n = p.length; n >= 0; n--) {
      const hit = this.byPath.get(p.slice(0, n).map(String).join('\0'));
      if (hit) return hit;
    }
    return { file: this.file, line: 1, column: 1 };
  }
}

function diagnostic(at: Pos, code: Diagnostic['code'], message: string, fix: string, p: string[] = []): Diagnostic {
  return { severity: 'error', code, file: at.file, line: at.line, column: at.column, path: p.join('.'), message, fix };
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads, interpolates, validates and merges the files. */
export function loadCompose(opts: LoadOptions): LoadedCompose {
  const diagnostics: Diagnostic[] = [];
  const files = opts.files.map((f) => path.resolve(f));
  const first = files[0];
  if (!first) return { diagnostics: [diagnostic(pos0('.'), 'io-error', 'no compose file given', 'pass FILE')] };
  const dir = path.dirname(first);
  const dotenvFile = path.join(dir, '.env');
  const dotenv = existsSync(dotenvFile)
    ? parseDotEnv(readFileSync(dotenvFile, 'utf8'), (n) => opts.env[n])
    : new Map<string, string>();
  const lookup: Lookup = (n) => opts.env[n] ?? dotenv.get(n);
  const merged: Record<string, ComposeService> = {};
  const top: Pick<ComposeProject, 'volumes' | 'secrets' | 'networks' | 'configs'> = {
    volumes: {},
    secrets: {},
    networks: {},
    configs: {},
  };
  let declaredName: string | undefined;
  const parsedFiles = new Map<string, ParsedFile | null>();
  const parse = (file: string, at: Pos) => {
    if (!parsedFiles.has(file)) parsedFiles.set(file, parseFile(file, lookup, diagnostics, at));
    return parsedFiles.get(file) ?? null;
  };
  for (const file of files) {
    const pf = parse(file, pos0(file));
    if (!pf) continue;
    if (typeof pf.value.name === 'string') declaredName = pf.value.name;
    const services = isObj(pf.value.services) ? pf.value.services : {};
    for (const name of Object.keys(services)) {
      const svc = resolveService(name, pf, parse, diagnostics, []);
      if (!svc) continue;
      merged[name] = merged[name] ? mergeService(merged[name], svc) : svc;
    }
    for (const k of ['volumes', 'secrets', 'networks', 'configs'] as const) {
      const section = pf.value[k];
      if (!isObj(section)) continue;
      for (const [n, v] of Object.entries(section))
        top[k][n] = { value: { ...(top[k][n]?.value ?? {}), ...(isObj(v) ? v : {}) }, at: pf.index.at([k, n]) };
    }
  }
  // env_file: read after merging (a later file may add one), environment wins over it.
  for (const svc of Object.values(merged)) readEnvFiles(svc, lookup, diagnostics);
  const profiles = new Set([
    ...(opts.profiles ?? []),
    ...(lookup('COMPOSE_PROFILES') ?? '').split(',').filter(Boolean),
  ]);
  const services: Record<string, ComposeService> = {};
  const inactive: string[] = [];
  for (const [n, s] of Object.entries(merged)) {
    if (s.profiles.length === 0 || s.profiles.some((p) => profiles.has(p) || p === '*')) services[n] = s;
    else inactive.push(n);
  }
  // A service pulled in by depends_on of an active one is started too (compose does the same).
  for (let changed = true; changed;) {
    changed = false;
    for (const s of Object.values(services))
      for (const d of Object.keys(s.depends_on)) {
        const dep = merged[d];
        if (dep && !services[d]) {
          services[d] = dep;
          inactive.splice(inactive.indexOf(d), 1);
          changed = true;
        }
      }
  }
  const name = sanitizeProjectName(
    opts.projectName ?? lookup('COMPOSE_PROJECT_NAME') ?? declaredName ?? path.basename(dir),
  );
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { project: { name, dir, files, services, ...top, inactive }, diagnostics };
}

function pos0(file: string): Pos {
  return { file, line: 1, column: 1 };
}

/** Compose project names are lowercase letters, digits, dashes and underscores. */
export function sanitizeProjectName(n: string): string {
  return n.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

interface ParsedFile {
  file: string;
  dir: string;
  value: Record<string, unknown>;
  index: PositionIndex;
}

function parseFile(file: string, lookup: Lookup, out: Diagnostic[], from: Pos): ParsedFile | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    out.push(
      diagnostic(from, 'io-error', `cannot read ${file}: ${(e as Error).message}`, 'check the path and permissions'),
    );
    return null;
  }
  const counter = new LineCounter();
  // Compose files use anchors and merge keys (`<<: *defaults`) a lot: YAML 1.1 merge keys on.
  const doc = parseDocument(text, { lineCounter: counter, merge: true, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length) {
    for (const e of doc.errors) {
      const lp = counter.linePos(e.pos[0]);
      out.push(
        diagnostic(
          { file, line: lp.line, column: lp.col },
          e.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax',
          `invalid YAML: ${e.message.split('\n')[0]}`,
          'fix the YAML syntax here; quoting the value often helps',
        ),
      );
    }
    return null;
  }
  const index = new PositionIndex(file, doc.contents as Node | null, counter);
  const raw: unknown = doc.toJS({ maxAliasCount: 10_000 });
  if (!isObj(raw)) {
    out.push(diagnostic(pos0(file), 'wrong-type', 'a compose file is a map', 'start with `services:`'));
    return null;
  }
  // Interpolate every string value (keys are not interpolated; x- extensions are kept raw).
  const interp = (v: unknown, p: string[]): unknown => {
    if (typeof v === 'string') {
      try {
        return interpolate(v, lookup);
      } catch (e) {
        if (!(e instanceof InterpolationError)) throw e;
        out.push(
          diagnostic(
            index.at(p),
            'invalid-value',
            e.message,
            'set the variable in the environment or in the .env file next to the compose file, or write $$ for a literal $',
            p,
          ),
        );
        return '';
      }
    }
    if (Array.isArray(v)) return v.map((x, i) => interp(x, [...p, String(i)]));
    if (isObj(v))
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, p.length === 0 && k.startsWith('x-') ? x : interp(x, [...p, k])]),
      );
    return v;
  };
  const value = interp(raw, []) as Record<string, unknown>;
  for (const prob of validateCompose(value)) {
    const at = index.at(prob.path);
    out.push({
      ...diagnostic(
        at,
        'unknown-key',
        prob.message,
        prob.newer
          ? 'nothing to do; Groundwork reads it'
          : 'check the spelling against the Compose Specification (https://github.com/compose-spec/compose-spec/blob/master/spec.md)',
        prob.path,
      ),
      severity: prob.newer ? 'warning' : 'error',
      code: prob.newer ? 'unknown-key' : prob.message.startsWith('unknown key') ? 'unknown-key' : 'wrong-type',
    });
  }
  return { file, dir: path.dirname(file), value, index };
}

/** The service with its `extends` chain resolved, normalised. */
function resolveService(
  name: string,
  pf: ParsedFile,
  parse: (file: string, at: Pos) => ParsedFile | null,
  out: Diagnostic[],
  chain: string[],
): ComposeService | null {
  const key = `${pf.file}#${name}`;
  const at = pf.index.at(['services', name]);
  if (chain.includes(key)) {
    out.push(
      diagnostic(
        at,
        'cycle',
        `service \`${name}\` extends itself through ${chain.join(' -> ')}`,
        'break the extends chain',
      ),
    );
    return null;
  }
  const services = isObj(pf.value.services) ? pf.value.services : {};
  const raw = services[name];
  if (!isObj(raw)) {
    out.push(diagnostic(at, 'dangling-reference', `no service \`${name}\` in ${pf.file}`, 'check the service name'));
    return null;
  }
  const own = normalizeService(name, raw, pf);
  const ext = raw.extends;
  if (ext === undefined) return own;
  const extAt = pf.index.at(['services', name, 'extends']);
  const base = typeof ext === 'string' ? { service: ext } : isObj(ext) ? ext : {};
  const baseName = typeof base.service === 'string' ? base.service : '';
  let basePf: ParsedFile | null = pf;
  if (typeof base.file === 'string') basePf = parse(path.resolve(pf.dir, base.file), extAt);
  if (!basePf) return null;
  const parent = resolveService(baseName, basePf, parse, out, [...chain, key]);
  if (!parent) return null;
  // extends never shares depends_on, links or volumes_from (the spec's rule).
  const shared: ComposeService = { ...parent, depends_on: {}, name, at: own.at };
  delete shared.other.links;
  delete shared.other.volumes_from;
  return mergeService(shared, own);
}

function located<T>(value: T, at: Pos): Located<T> {
  return { value, at };
}

function normalizeService(name: string, raw: Record<string, unknown>, pf: ParsedFile): ComposeService {
  const base = ['services', name];
  const at = (...p: (string | number)[]) => pf.index.at([...base, ...p]);
  const svc: ComposeService = {
    name,
    at: at(),
    environment: {},
    labels: {},
    ports: [],
    expose: [],
    volumes: [],
    depends_on: {},
    secrets: [],
    profiles: [],
    networks: {},
    other: {},
  };
  for (const [k, v] of Object.entries(raw)) {
    switch (k) {
      case 'image':
        svc.image = located(String(v), at(k));
        break;
      case 'build': {
        const b = typeof v === 'string' ? { context: v } : isObj(v) ? v : {};
        const args = isObj(b.args) ? stringMap(b.args) : Array.isArray(b.args) ? listToMap(b.args) : undefined;
        svc.build = located(
          {
            context: path.resolve(pf.dir, typeof b.context === 'string' ? b.context : '.'),
            ...(typeof b.dockerfile === 'string' ? { dockerfile: b.dockerfile } : {}),
            ...(args ? { args: Object.fromEntries(Object.entries(args).map(([a, x]) => [a, x ?? ''])) } : {}),
          },
          at(k),
        );
        break;
      }
      case 'command':
      case 'entrypoint':
        if (v !== null) svc[k] = located(Array.isArray(v) ? v.map(String) : String(v), at(k));
        break;
      case 'environment': {
        const m = Array.isArray(v) ? listToMap(v) : isObj(v) ? stringMap(v) : {};
        const items = Array.isArray(v) ? v.map((x) => String(x).split('=')[0]) : Object.keys(m);
        for (const [e, x] of Object.entries(m)) {
          const i = items.indexOf(e);
          svc.environment[e] = located(x, Array.isArray(v) ? at(k, i) : at(k, e));
        }
        break;
      }
      case 'labels': {
        const m = Array.isArray(v) ? listToMap(v) : isObj(v) ? stringMap(v) : {};
        for (const [l, x] of Object.entries(m)) svc.labels[l] = located(x ?? '', at(k, l));
        break;
      }
      case 'ports':
        if (Array.isArray(v)) v.forEach((p, i) => svc.ports.push(...parsePort(p, at(k, i))));
        break;
      case 'expose':
        if (Array.isArray(v))
          v.forEach((p, i) => {
            const [lo, hi] = String(p).split('/')[0]?.split('-').map(Number) ?? [];
            for (let n = lo ?? NaN; n <= (hi ?? lo ?? NaN); n++) svc.expose.push(located(n, at(k, i)));
          });
        break;
      case 'volumes':
        if (Array.isArray(v)) v.forEach((m, i) => svc.volumes.push(parseMount(m, pf.dir, at(k, i))));
        break;
      case 'depends_on':
        if (Array.isArray(v))
          for (const [i, d] of v.entries()) svc.depends_on[String(d)] = dep('service_started', at(k, i));
        else if (isObj(v))
          for (const [d, c] of Object.entries(v)) {
            const cond = isObj(c) && typeof c.condition === 'string' ? c.condition : 'service_started';
            svc.depends_on[d] = dep(cond as ComposeDependency['condition'], at(k, d));
          }
        break;
      case 'secrets':
        if (Array.isArray(v))
          v.forEach((s, i) => {
            if (typeof s === 'string') svc.secrets.push(located({ source: s }, at(k, i)));
            else if (isObj(s) && typeof s.source === 'string')
              svc.secrets.push(
                located({ source: s.source, ...(typeof s.target === 'string' ? { target: s.target } : {}) }, at(k, i)),
              );
          });
        break;
      case 'profiles':
        if (Array.isArray(v)) svc.profiles = v.map(String);
        break;
      case 'networks':
        if (Array.isArray(v))
          for (const [i, nw] of v.entries()) svc.networks[String(nw)] = located({ aliases: [] }, at(k, i));
        else if (isObj(v))
          for (const [nw, c] of Object.entries(v))
            svc.networks[nw] = located(
              { aliases: isObj(c) && Array.isArray(c.aliases) ? c.aliases.map(String) : [] },
              at(k, nw),
            );
        break;
      case 'env_file': {
        const list = Array.isArray(v) ? v : [v];
        svc.other.env_file = located(
          list.map((f) =>
            typeof f === 'string'
              ? { path: path.resolve(pf.dir, f), required: true }
              : isObj(f)
                ? { path: path.resolve(pf.dir, String(f.path)), required: f.required !== false }
                : { path: '', required: false },
          ),
          at(k),
        );
        break;
      }
      case 'extends':
        break;
      default:
        svc.other[k] = located(v, at(k));
    }
  }
  return svc;
}

function dep(condition: ComposeDependency['condition'], at: Pos): ComposeDependency {
  return { condition, at };
}

function stringMap(o: Record<string, unknown>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)]));
}

/** `["A=1", "B"]` → `{A: "1", B: null}` (null: taken from the environment at run time). */
function listToMap(list: unknown[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const item of list) {
    const s = String(item);
    const eq = s.indexOf('=');
    if (eq === -1) out[s] = null;
    else out[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return out;
}

/**
 * The short port syntax `[[host_ip:]published:]target[/protocol]`, with ranges, or the long one.
 * A range becomes one port per number.
 */
export function parsePort(p: unknown, at: Pos): ComposePort[] {
  if (isObj(p)) {
    return [
      {
        target: Number(p.target),
        ...(p.published !== undefined ? { published: String(p.published) } : {}),
        ...(typeof p.host_ip === 'string' ? { host_ip: p.host_ip } : {}),
        protocol: typeof p.protocol === 'string' ? p.protocol : 'tcp',
        at,
      },
    ];
  }
  const s = String(p);
  const [spec = '', protocol = 'tcp'] = s.split('/');
  // An IPv6 host address is in brackets: [::1]:8080:80.
  let hostIp: string | undefined;
  let rest = spec;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(spec);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2] ?? '';
  }
  const parts = rest.split(':');
  if (!v6 && parts.length === 3) hostIp = parts.shift();
  const target = parts.pop() ?? '';
  const published = parts.pop();
  const [tLo = NaN, tHi = tLo] = target.split('-').map(Number);
  const [pLo, pHi] = published ? published.split('-').map(Number) : [undefined, undefined];
  const out: ComposePort[] = [];
  for (let t = tLo, i = 0; t <= tHi; t++, i++) {
    const pub =
      pLo === undefined || published === ''
        ? undefined
        : pHi !== undefined && tHi !== tLo
          ? String(pLo + i)
          : pHi !== undefined
            ? `${pLo}-${pHi}`
            : String(pLo);
    out.push({
      target: t,
      ...(pub !== undefined ? { published: pub } : {}),
      ...(hostIp ? { host_ip: hostIp } : {}),
      protocol,
      at,
    });
  }
  return out;
}

/**
 * A container path as Compose means it: `/data/` and `/data` are one mount point (docker-compose
 * config writes `/data`), so two spellings neither make two mounts nor escape an override.
 */
function containerPath(p: string): string {
  if (!p.startsWith('/')) return p;
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** The short volume syntax `source:target[:mode]` or `target`, or the long one. */
export function parseMount(m: unknown, dir: string, at: Pos): ComposeMount {
  const hostPath = (s: string) => (s.startsWith('~') ? s : path.isAbsolute(s) ? s : path.resolve(dir, s));
  const target = (t: string) => containerPath(t);
  if (isObj(m)) {
    const type = (typeof m.type === 'string' ? m.type : 'volume') as ComposeMount['type'];
    const source = typeof m.source === 'string' ? (type === 'bind' ? hostPath(m.source) : m.source) : undefined;
    return {
      type,
      ...(source ? { source } : {}),
      target: target(String(m.target)),
      read_only: m.read_only === true,
      at,
    };
  }
  const parts = String(m).split(':');
  if (parts.length === 1) return { type: 'volume', target: target(parts[0] ?? ''), read_only: false, at };
  const [source = '', inside = '', mode = ''] = parts;
  const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
  return {
    type: bind ? 'bind' : 'volume',
    source: bind ? hostPath(source) : source,
    target: target(inside),
    read_only: mode.split(',').includes('ro'),
    at,
  };
}

function readEnvFiles(svc: ComposeService, lookup: Lookup, out: Diagnostic[]): void {
  const ef = svc.other.env_file;
  if (!ef) return;
  const files = ef.value as { path: string; required: boolean }[];
  const fromFiles: Record<string, string> = {};
  for (const f of files) {
    if (!existsSync(f.path)) {
      if (f.required)
        out.push(
          diagnostic(
            ef.at,
            'io-error',
            `service \`${svc.name}\`: env_file ${f.path} does not exist`,
            'create the file, remove it from env_file, or mark it `required: false`',
          ),
        );
      continue;
    }
    for (const [k, v] of parseDotEnv(readFileSync(f.path, 'utf8'), lookup)) fromFiles[k] = v;
  }
  for (const [k, v] of Object.entries(fromFiles)) if (!(k in svc.environment)) svc.environment[k] = located(v, ef.at);
}

/** The spec's merge rules for one service defined again by a later file (or by extends). */
export function mergeService(a: ComposeService, b: ComposeService): ComposeService {
  const byTarget = <T extends { target: string }>(x: T[], y: T[]) => [
    ...x.filter((i) => !y.some((j) => j.target === i.target)),
    ...y,
  ];
  const portKey = (p: ComposePort) => `${p.host_ip ?? ''}:${p.published ?? ''}:${p.target}/${p.protocol}`;
  const other: Record<string, Located<unknown>> = { ...a.other };
  for (const [k, v] of Object.entries(b.other)) {
    const prev = other[k];
    if (prev && APPEND_UNIQUE.has(k) && Array.isArray(prev.value) && Array.isArray(v.value))
      other[k] = located([...new Set([...prev.value, ...v.value])], v.at);
    else if (prev && k === 'env_file' && Array.isArray(prev.value) && Array.isArray(v.value))
      other[k] = located([...prev.value, ...v.value], v.at);
    else if (prev && isObj(prev.value) && isObj(v.value)) other[k] = located(deepMerge(prev.value, v.value), v.at);
    else other[k] = v;
  }
  return {
    name: b.name,
    at: a.at,
    ...((b.image ?? a.image) ? { image: b.image ?? a.image } : {}),
    ...((b.build ?? a.build) ? { build: b.build ?? a.build } : {}),
    ...((b.command ?? a.command) ? { command: b.command ?? a.command } : {}),
    ...((b.entrypoint ?? a.entrypoint) ? { entrypoint: b.entrypoint ?? a.entrypoint } : {}),
    environment: { ...a.environment, ...b.environment },
    labels: { ...a.labels, ...b.labels },
    ports: [...a.ports.filter((p) => !b.ports.some((q) => portKey(q) === portKey(p))), ...b.ports],
    expose: [...a.expose.filter((p) => !b.expose.some((q) => q.value === p.value)), ...b.expose],
    volumes: byTarget(a.volumes, b.volumes),
    depends_on: { ...a.depends_on, ...b.depends_on },
    secrets: [...a.secrets.filter((s) => !b.secrets.some((t) => t.value.source === s.value.source)), ...b.secrets],
    profiles: b.profiles.length ? b.profiles : a.profiles,
    networks: { ...a.networks, ...b.networks },
    other,
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObj(prev) && isObj(v) ? deepMerge(prev, v) : v;
  }
  return out;
}
