/**
 * Which secrets (and which of their versions) each service uses. A service's spec carries
 * `secrets: { NAME: VERSION }` for the encrypted secrets its env references, so that a new
 * version is a change of exactly those services' specs: the plan shows it as an update of them
 * (a rollout), and no other service restarts. Secrets given by the environment or a plaintext
 * file have no version and are not in the spec (as before).
 */
import { findReferences } from '../config/references.js';
import type { StackConfig } from '../config/schema.js';
import type { Model } from '../model/build-model.js';
import type { JsonObject } from '../model/resource.js';

/** Names of the secrets referenced in a service's env, sorted, each once. */
export function secretsReferencedBy(env: Record<string, unknown>): string[] {
  const names = new Set<string>();
  for (const v of Object.values(env))
    if (typeof v === 'string') for (const m of findReferences(v)) if (m.ref?.kind === 'secret') names.add(m.ref.name);
  return [...names].sort();
}

/** Secret name → the services whose env references it (sorted). */
export function servicesUsingSecrets(config: Pick<StackConfig, 'services'>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [service, s] of Object.entries(config.services ?? {}))
    for (const name of secretsReferencedBy(s.env ?? {})) (out[name] ??= []).push(service);
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** The services of the model whose env references `secret` (sorted). */
export function servicesUsingSecretIn(model: Model, secret: string): string[] {
  return model.resources
    .filter((r) => {
      const env = r.spec.env;
      return (
        r.kind === 'service' &&
        secretsReferencedBy(env && typeof env === 'object' && !Array.isArray(env) ? env : {}).includes(secret)
      );
    })
    .map((r) => r.address.slice('service.'.length))
    .sort();
}

/** The model with each service's spec carrying the versions of the encrypted secrets it references. */
export function withSecretVersions(model: Model, versions: Readonly<Record<string, number>>): Model {
  if (Object.keys(versions).length === 0) return model;
  return {
    ...model,
    resources: model.resources.map((r) => {
      if (r.kind !== 'service') return r;
      const env = r.spec.env;
      const used = secretsReferencedBy(env && typeof env === 'object' && !Array.isArray(env) ? env : {});
      const mine: JsonObject = {};
      for (const n of used) {
        const v = versions[n];
        if (v !== undefined) mine[n] = v;
      }
      if (Object.keys(mine).length === 0) return r;
      return { ...r, spec: { ...r.spec, secrets: mine } };
    }),
  };
}

/** One secret's version change in a plan, with the services it rolls. */
export interface SecretChange {
  name: string;
  before: number | null;
  after: number | null;
  services: string[];
}

/** The secret version changes in plan steps (structurally typed: security does not import the engine). */
export function secretChangesOf(
  steps: readonly {
    address: string;
    kind: string;
    changes: readonly { path: string; before?: unknown; after?: unknown }[];
  }[],
): SecretChange[] {
  const byName = new Map<string, SecretChange>();
  for (const s of steps) {
    if (s.kind !== 'service') continue;
    for (const c of s.changes) {
      if (!c.path.startsWith('secrets.')) continue;
      const name = c.path.slice('secrets.'.length);
      const before = typeof c.before === 'number' ? c.before : null;
      const after = typeof c.after === 'number' ? c.after : null;
      const key = `${name} ${before} ${after}`;
      const entry = byName.get(key) ?? { name, before, after, services: [] };
      entry.services.push(s.address);
      byName.set(key, entry);
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** "secret db-password: version 3 → 4 (restarts service.web, service.worker)". */
export function describeSecretChange(c: SecretChange): string {
  const v = (n: number | null) => (n === null ? 'none' : `version ${n}`);
  const what =
    c.before === null
      ? `${v(c.after)} (was from the environment or a plaintext file)`
      : c.after === null
        ? `${v(c.before)} → environment or plaintext file`
        : `version ${c.before} → ${c.after}`;
  return `secret ${c.name}: ${what} (restarts ${c.services.join(', ')})`;
}
