/**
 * The `checks:` section as resources: one `check.<name>` each, its spec with every default
 * written out (so writing a default is not a change) and the type-specific part under `target`.
 * A check depends on the services its targets name, so it is applied after them.
 */
import { findReferences, referencedService } from '../config/references.js';
import { CHECK_DEFAULTS, CHECK_TYPES, type CheckConfig, type CheckTypeName } from '../config/schema.js';
import { Duration } from '../util/duration.js';
import { address, type Address, type DesiredResource, type Json, type JsonObject } from './resource.js';

function typeOf(c: CheckConfig): Exclude<CheckTypeName, 'icmp'> | undefined {
  const t = CHECK_TYPES.find((k) => c[k] !== undefined);
  return t === 'icmp' ? undefined : t;
}

function target(c: CheckConfig): JsonObject {
  if (c.http)
    return {
      url: c.http.url,
      method: c.http.method ?? 'GET',
      status: c.http.status ?? '200-399',
      body: c.http.body ?? null,
      body_regex: c.http.body_regex ?? null,
      max_latency: c.http.max_latency ?? null,
    };
  if (c.tcp !== undefined) return { address: c.tcp };
  if (c.dns)
    return {
      name: c.dns.name,
      record: c.dns.type ?? 'A',
      server: c.dns.server ?? null,
      expect: [...(c.dns.expect ?? [])].sort(),
    };
  if (c.tls)
    return {
      address: c.tls.address,
      servername: c.tls.servername ?? null,
      min_days: c.tls.min_days ?? 14,
      verify: c.tls.verify ?? true,
    };
  if (c.exec) return { command: c.exec.command ?? null, shell: c.exec.shell ?? null };
  return { grace: c.push?.grace ?? c.interval ?? CHECK_DEFAULTS.interval };
}

export function checkResources(checks: Record<string, CheckConfig>, deep: (v: unknown) => Json): DesiredResource[] {
  const out: DesiredResource[] = [];
  for (const [name, c] of Object.entries(checks)) {
    const type = typeOf(c);
    if (!type) continue; // config diagnostics already refused it
    const interval = c.interval ?? CHECK_DEFAULTS.interval;
    const push = type === 'push';
    // A timeout longer than the interval would overlap runs; the default follows a short interval.
    const timeout = c.timeout ?? Duration.parse(CHECK_DEFAULTS.timeout).min(Duration.parse(interval)).toString();
    const t = target(c);
    const deps = new Set<Address>();
    for (const v of Object.values(t))
      for (const s of Array.isArray(v) ? v : [v])
        if (typeof s === 'string')
          for (const m of findReferences(s)) {
            const svc = referencedService(m.ref);
            if (svc !== undefined) deps.add(address('service', svc));
          }
    out.push({
      address: address('check', name),
      kind: 'check',
      name,
      dependsOn: [...deps].sort(),
      spec: deep({
        type,
        interval,
        timeout,
        // A missed heartbeat is already interval + grace of silence: one is enough by default.
        failures: c.failures ?? (push ? 1 : CHECK_DEFAULTS.failures),
        successes: c.successes ?? (push ? 1 : CHECK_DEFAULTS.successes),
        target: t,
      }) as JsonObject,
    });
  }
  return out;
}
