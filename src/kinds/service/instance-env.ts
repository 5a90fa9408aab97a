/**
 * Resolves a service's references for one instance. The only place secret values are read;
 * they go into the returned env and nowhere else.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { findReferences, referencedService, substitute, type Reference } from '../../config/references.js';
import { address } from '../../model/resource.js';
import type { KindContext } from '../resource-kind.js';
import { serviceOutputsShape, type ServiceSpec } from './service-spec.js';
import { formatAddress } from './service-address.js';
import { readEnvFiles } from '../../config/env-file.js';
import type { NamedSecretValue } from '../../security/redact.js';

export interface ResolvedInstance {
  /** Empty for a container that runs its image's own command. */
  command: string;
  args: string[] | null;
  cwd: string;
  env: Record<string, string>;
  /** The secret values put into env, by name: what the instance's log is redacted of. */
  secrets: NamedSecretValue[];
}

export class ReferenceError extends Error {}

/**
 * "is in a file others can read, which is ignored" when the plain secret file
 * (`<state>/secrets/NAME`, see security/secret-vault.ts) exists with group or other bits: the
 * value is there but refused on purpose, and "has no value" would send people looking elsewhere.
 */
function tooOpenSecretFile(stateDir: string, name: string): string | undefined {
  try {
    const mode = statSync(path.join(stateDir, 'secrets', name)).mode & 0o777;
    if ((mode & 0o077) === 0) return undefined;
    return `is in a file with mode ${mode.toString(8).padStart(4, '0')}, readable by others, which is ignored`;
  } catch {
    return undefined;
  }
}

export function resolveInstance(
  ctx: KindContext,
  service: string,
  spec: ServiceSpec,
  ports: Record<string, number>,
  baseEnv: Record<string, string>,
  codeDir: string,
): ResolvedInstance {
  const secrets: NamedSecretValue[] = [];
  const resolve = (ref: Reference, allowSecret: boolean): string => {
    switch (ref.kind) {
      case 'port': {
        const p = ports[ref.name];
        if (p === undefined) throw new ReferenceError(`service ${service}: port \`${ref.name}\` is not allocated`);
        return String(p);
      }
      case 'secret': {
        if (!allowSecret) throw new ReferenceError(`service ${service}: secrets may only be used in env`);
        const version = spec.secrets?.[ref.name];
        const v = ctx.secrets.tryGet(ref.name, version);
        if (v === undefined)
          throw new ReferenceError(
            `secret \`${ref.name}\` ${tooOpenSecretFile(ctx.stateDir, ref.name) ?? 'has no value'}${version === undefined ? '' : ` (version ${version}, for service ${service})`}; ${ctx.secrets.howToSet(ref.name, version)}`,
          );
        secrets.push({ name: ref.name, value: v });
        return v;
      }
      case 'volume': {
        const out = ctx.outputsOf(address('volume', ref.name));
        if (!out || typeof out.path !== 'string')
          throw new ReferenceError(`service ${service}: volume \`${ref.name}\` has not been created`);
        return out.path;
      }
      case 'service-port':
      case 'service-address':
      case 'service-host': {
        const v = resolveServiceRef(ctx, ref);
        if (v === undefined)
          throw new ReferenceError(
            `service ${service}: service \`${ref.service}\` has no stable address${ref.kind === 'service-host' ? '' : ` for port \`${ref.port}\``} yet; apply it first`,
          );
        return v;
      }
      case 'var':
        throw new ReferenceError(`service ${service}: variable \`${ref.name}\` was not substituted`);
    }
  };
  const sub = (s: string, allowSecret: boolean) => substitute(s, (r) => resolve(r, allowSecret), { unescape: true });
  // Compose's order: the env files, then `env:` over them; Groundwork's own variables are not overridden by a file.
  const env: Record<string, string> = { ...(spec.env_file ? readEnvFiles(service, spec.env_file) : {}), ...baseEnv };
  for (const [k, v] of Object.entries(spec.env)) env[k] = sub(v, true);
  return {
    command: spec.command === null ? '' : sub(spec.command, false),
    args: spec.args ? spec.args.map((a) => sub(a, false)) : null,
    cwd: path.resolve(codeDir, sub(spec.cwd, false)),
    env,
    secrets,
  };
}

/** Identifies what an instance was started from, without secret values (only their names). */
export function instanceSpecHash(
  spec: ServiceSpec,
  ports: Record<string, number>,
  deps: Record<string, string>,
  codeDir: string,
): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      command: spec.command,
      args: spec.args,
      cwd: spec.cwd,
      env: spec.env,
      user: spec.user,
      resources: spec.resources,
      image: spec.image,
      mounts: spec.mounts,
      ports,
      deps,
      codeDir,
      // Only when present, so the hash of a service without encrypted secrets is what it was.
      ...(spec.secrets ? { secrets: spec.secrets } : {}),
    }),
  );
  return h.digest('hex').slice(0, 16);
}

/** Values of the non-secret references the instance depends on (other services' ports, volume paths). */
export function dependencyValues(ctx: KindContext, spec: ServiceSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of [
    spec.command ?? '',
    spec.cwd,
    ...(spec.args ?? []),
    ...Object.values(spec.env),
    ...Object.values(spec.mounts ?? {}),
  ]) {
    for (const m of findReferences(t)) {
      if (referencedService(m.ref) !== undefined || m.ref?.kind === 'volume') {
        try {
          out[m.text] = substitute(m.text, (r) => resolveNonSecret(ctx, r), { unescape: true });
        } catch {
          out[m.text] = '?';
        }
      }
    }
  }
  return out;
}

function resolveNonSecret(ctx: KindContext, r: Reference): string | undefined {
  if (r.kind === 'volume') {
    const p = ctx.outputsOf(address('volume', r.name))?.path;
    return typeof p === 'string' ? p : undefined;
  }
  if (r.kind === 'service-port' || r.kind === 'service-address' || r.kind === 'service-host')
    return resolveServiceRef(ctx, r);
  return undefined;
}

/** A reference into another service's stable address (recorded in its outputs). */
function resolveServiceRef(
  ctx: KindContext,
  r: Extract<Reference, { kind: 'service-port' | 'service-address' | 'service-host' }>,
): string | undefined {
  const other = address('service', r.service);
  const outs = serviceOutputsShape.read(ctx.outputsOf(other) ?? {}, other);
  const a = outs.address;
  if (!a) {
    // A Swarm service has no stable address here: its port block stays with it, so slot 1's port.
    if (r.kind !== 'service-port') return undefined;
    const p = outs.instances.find((i) => !i.gone)?.ports[r.port];
    return p === undefined ? undefined : String(p);
  }
  switch (r.kind) {
    case 'service-host':
      return a.host;
    case 'service-port': {
      const p = a.ports[r.port];
      return p === undefined ? undefined : String(p);
    }
    case 'service-address':
      return formatAddress(a, r.port, r.form);
  }
}
