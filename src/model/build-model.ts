/**
 * From a validated stack config to typed desired resources and their dependency graph.
 * Variables are substituted here (they are inputs, and a changed value must show in the plan);
 * every other reference stays text until the runtime resolves it.
 */
import type { Diagnostic } from '../config/diagnostic.js';
import { envFileSpec, type EnvFileSpec } from '../config/env-file.js';
import { findReferences, referencedService, substitute } from '../config/references.js';
import type { DnsConfig, ServiceConfig, StackConfig } from '../config/schema.js';
import { alertingResources } from './alerting-resources.js';
import { dnsResources } from './dns-resources.js';
import { checkResources } from './check-resources.js';
import { oncallResources } from './oncall-resources.js';
import { scrapeResources } from './scrape-resources.js';
import { listenerTlsSpec } from './listener-tls-spec.js';
import { address, type Address, type DesiredResource, type Json, type JsonObject } from './resource.js';
import { topologicalOrder } from './graph.js';

export interface Model {
  stack: string;
  dir: string;
  configHash: string;
  /** In dependency order, ties by address. */
  resources: DesiredResource[];
  secrets: string[];
}

export interface VariableInputs {
  /** From --var k=v; wins over the environment. */
  cli: Record<string, string>;
  /** The process environment; GROUNDWORK_VAR_<name> is read from it. */
  env: Record<string, string | undefined>;
}

export function variableEnvName(name: string): string {
  return `GROUNDWORK_VAR_${name.replace(/-/g, '_')}`;
}

export function buildModel(
  config: StackConfig,
  meta: { dir: string; configHash: string; file: string },
  inputs: VariableInputs,
): { model?: Model; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const vars: Record<string, string> = {};
  for (const [name, v] of Object.entries(config.variables ?? {})) {
    const value =
      inputs.cli[name] ??
      inputs.env[variableEnvName(name)] ??
      (v.default === undefined ? undefined : String(v.default));
    if (value === undefined) {
      diagnostics.push({
        severity: 'error',
        code: 'missing-key',
        file: meta.file,
        line: 1,
        column: 1,
        path: `variables.${name}`,
        message: `variable \`${name}\` has no value`,
        fix: `pass --var ${name}=VALUE, set ${variableEnvName(name)}, or give it a default`,
      });
    } else vars[name] = value;
  }
  for (const name of Object.keys(inputs.cli)) {
    if (!(name in (config.variables ?? {}))) {
      diagnostics.push({
        severity: 'error',
        code: 'unknown-key',
        file: '--var',
        line: 1,
        column: 1,
        path: name,
        message: `--var ${name} sets a variable the stack does not declare`,
        fix: `declare it under variables, or remove --var ${name}`,
      });
    }
  }
  if (diagnostics.length) return { diagnostics };
  // Only variables are substituted here, and a variable reference contains `var`: most strings have none.
  const sub = (s: string) =>
    s.includes('var') ? substitute(s, (r) => (r.kind === 'var' ? vars[r.name] : undefined), { unescape: false }) : s;
  const deep = (v: unknown): Json => {
    if (typeof v === 'string') return sub(v);
    if (Array.isArray(v)) return v.map(deep);
    if (v && typeof v === 'object') {
      const o: JsonObject = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) o[k] = deep(x);
      }
      return o;
    }
    return (v ?? null) as Json;
  };

  const resources: DesiredResource[] = [];
  for (const [name, vol] of Object.entries(config.volumes ?? {})) {
    resources.push({
      address: address('volume', name),
      kind: 'volume',
      name,
      dependsOn: [],
      spec: deep({ path: vol.path, owner: vol.owner ?? null, mode: normaliseMode(vol.mode ?? '0755') }) as JsonObject,
    });
  }
  for (const [name, svc] of Object.entries(config.services ?? {})) {
    resources.push({
      address: address('service', name),
      kind: 'service',
      name,
      spec: deep(serviceSpec(svc, meta.dir)) as JsonObject,
      dependsOn: serviceDeps(svc),
    });
  }
  (config.routes ?? []).forEach((r, i) => {
    resources.push({
      address: address('route', String(i)),
      kind: 'route',
      name: String(i),
      dependsOn: [address('service', r.service)],
      spec: deep({
        host: r.match.host ?? null,
        path: r.match.path ?? '/',
        service: r.service,
        port: r.port,
        listener: r.listener ?? null,
        balance: r.balance ?? 'round-robin',
        max_body: r.max_body ?? '10MiB',
        // Recorded only when set, so routes recorded before it existed keep their spec.
        ...(r.redirect_https === undefined ? {} : { redirect_https: r.redirect_https }),
        timeouts: {
          connect: r.timeouts?.connect ?? '2s',
          idle: r.timeouts?.idle ?? '60s',
          total: r.timeouts?.total ?? '5m',
        },
      }) as JsonObject,
    });
  });
  for (const [name, l] of Object.entries(config.listeners ?? {})) {
    const protocol = l.protocol ?? 'http';
    resources.push({
      address: address('listener', name),
      kind: 'listener',
      name,
      dependsOn: l.service ? [address('service', l.service)] : [],
      spec: deep({
        port: l.port,
        address: l.address ?? '127.0.0.1',
        protocol,
        service: l.service ?? null,
        target_port: l.target_port ?? null,
        ...listenerTlsSpec(l, meta.dir),
      }) as JsonObject,
    });
  }
  if (config.dns) resources.push(...dnsResources(config.stack, config.dns as DnsConfig, deep));
  resources.push(...alertingResources(config.notify, config.alerts, config.maintenance, deep));
  if (config.checks) resources.push(...checkResources(config.checks, deep));
  resources.push(
    ...oncallResources(config.people, config.oncall, deep, { services: config.services, alerts: config.alerts }),
  );
  resources.push(...scrapeResources(config.scrape, deep));
  const ordered = topologicalOrder(resources);
  return {
    diagnostics,
    model: {
      stack: config.stack,
      dir: meta.dir,
      configHash: meta.configHash,
      resources: ordered,
      secrets: Object.keys(config.secrets ?? {}).sort(),
    },
  };
}

function normaliseMode(mode: string): string {
  return mode.length === 3 ? `0${mode}` : mode;
}

/** Defaults filled in, so that writing a default explicitly is not a change. */
function serviceSpec(s: ServiceConfig, dir: string): Record<string, unknown> {
  let envFiles: EnvFileSpec[] | undefined;
  try {
    envFiles = envFileSpec(s.env_file, dir);
  } catch {
    envFiles = undefined; // validate reported the unreadable file (config/semantic-checks.ts)
  }
  const probe = (p: ServiceConfig['health']) =>
    p && {
      ...p,
      interval: p.interval ?? '2s',
      timeout: p.timeout ?? '1s',
      start_period: p.start_period ?? '0s',
      healthy: p.healthy ?? 1,
      unhealthy: p.unhealthy ?? 3,
      ...(p.http ? { http: { ...p.http, status: p.http.status ?? '200-399' } } : {}),
    };
  return {
    runtime: s.runtime ?? 'process',
    command: s.command ?? null,
    image: s.image ?? null,
    dockerfile: s.dockerfile ?? null,
    mounts: s.mounts ?? {},
    build: s.build ? { command: s.build.command, cwd: s.build.cwd ?? '.', timeout: s.build.timeout ?? '10m' } : null,
    source: s.source?.path ?? null,
    args: s.args ?? null,
    cwd: s.cwd ?? '.',
    env: Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, String(v)])),
    ...(envFiles ? { env_file: envFiles } : {}),
    replicas: s.replicas ?? 1,
    ports: s.ports ?? {},
    health: probe(s.health) ?? null,
    liveness: probe(s.liveness) ?? null,
    restart: s.restart ?? 'always',
    stop_grace: s.stop_grace ?? '10s',
    deploy: {
      strategy: s.deploy?.strategy ?? 'rolling',
      max_surge: s.deploy?.max_surge ?? 1,
      max_unavailable: s.deploy?.max_unavailable ?? 0,
      auto_rollback: s.deploy?.auto_rollback ?? true,
      progress_deadline: s.deploy?.progress_deadline ?? '60s',
      keep_releases: s.deploy?.keep_releases ?? 10,
      drain_timeout: s.deploy?.drain_timeout ?? '30s',
      monitor: s.deploy?.monitor ?? '2s',
      blue_green: { keep_old_for: s.deploy?.blue_green?.keep_old_for ?? '5m' },
      canary: {
        steps: s.deploy?.canary?.steps?.map((st) => ({ weight: st.weight, pause: st.pause ?? '30s' })) ?? [
          { weight: 10, pause: '30s' },
          { weight: 50, pause: '30s' },
        ],
        max_error_rate: s.deploy?.canary?.max_error_rate ?? 0.05,
        max_p95_ratio: s.deploy?.canary?.max_p95_ratio ?? 2,
        min_requests: s.deploy?.canary?.min_requests ?? 20,
      },
    },
    user: s.user ?? null,
    resources: s.resources ?? null,
    depends_on: [...(s.depends_on ?? [])].sort(),
    ...(s.logs ? { logs: s.logs } : {}),
  };
}

function serviceDeps(s: ServiceConfig): Address[] {
  const deps = new Set<Address>((s.depends_on ?? []).map((d) => address('service', d)));
  const texts = [s.command ?? '', s.cwd ?? '', ...(s.args ?? []), ...Object.values(s.env ?? {}).map(String)];
  for (const src of Object.values(s.mounts ?? {})) if (!src.startsWith('/')) deps.add(address('volume', src));
  for (const t of texts) {
    for (const m of findReferences(t)) {
      const svc = referencedService(m.ref);
      if (svc !== undefined) deps.add(address('service', svc));
      if (m.ref?.kind === 'volume') deps.add(address('volume', m.ref.name));
    }
  }
  return [...deps].sort();
}
