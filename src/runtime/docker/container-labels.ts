/**
 * How Groundwork finds its own containers and swarm services again: names derived from the
 * instance id, and labels that carry everything a handle needs. A restarted daemon lists by
 * label (owner + stack), so it adopts what it started and never starts a duplicate.
 */
import { createHash } from 'node:crypto';
import type { Runtime } from '../../config/schema.js';

export const LABEL = {
  runtime: 'groundwork.runtime',
  /** The installation (state directory) that started it: two Groundworks on one engine never adopt each other's. */
  owner: 'groundwork.owner',
  stack: 'groundwork.stack',
  service: 'groundwork.service',
  instance: 'groundwork.instance',
  index: 'groundwork.index',
  specHash: 'groundwork.spec-hash',
  /** JSON of the instance's named host ports. */
  ports: 'groundwork.ports',
} as const;

export interface InstanceIdentity {
  runtime: Runtime;
  owner: string;
  stack: string;
  service: string;
  instance: string;
  index: number;
  specHash: string;
  ports: Record<string, number>;
}

export function identityLabels(id: InstanceIdentity, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...extra,
    [LABEL.runtime]: id.runtime,
    [LABEL.owner]: id.owner,
    [LABEL.stack]: id.stack,
    [LABEL.service]: id.service,
    [LABEL.instance]: id.instance,
    [LABEL.index]: String(id.index),
    [LABEL.specHash]: id.specHash,
    [LABEL.ports]: JSON.stringify(id.ports),
  };
}

/** Label filters (`key=value`) that select one owner's instances of one stack on one runtime. */
export function stackFilter(runtime: Runtime, owner: string, stack: string): string[] {
  return [`${LABEL.runtime}=${runtime}`, `${LABEL.owner}=${owner}`, `${LABEL.stack}=${stack}`];
}

/** The identity labels read back; undefined when they are not Groundwork's or are damaged. */
export function tryParseIdentity(
  labels: Record<string, string> | null | undefined,
): Omit<InstanceIdentity, 'runtime'> | undefined {
  if (!labels) return undefined;
  const get = (k: string) => labels[k];
  const [owner, stack, service, instance, index, specHash, ports] = [
    LABEL.owner,
    LABEL.stack,
    LABEL.service,
    LABEL.instance,
    LABEL.index,
    LABEL.specHash,
    LABEL.ports,
  ].map(get);
  if (
    owner === undefined ||
    stack === undefined ||
    service === undefined ||
    instance === undefined ||
    index === undefined ||
    specHash === undefined
  )
    return undefined;
  let parsedPorts: Record<string, number> = {};
  try {
    const p = JSON.parse(ports ?? '{}') as unknown;
    if (p && typeof p === 'object') parsedPorts = p as Record<string, number>;
  } catch {
    /* damaged label: no ports */
  }
  const n = Number(index);
  if (!Number.isInteger(n)) return undefined;
  return { owner, stack, service, instance, index: n, specHash, ports: parsedPorts };
}

/**
 * The engine-side name of an instance: `gw-<stack>-<id>`, limited to what both containers and
 * swarm services accept (letters, digits, `_.-`, at most 63 characters; longer names keep a
 * readable prefix and end in a hash of the whole).
 */
export function engineName(stack: string, id: string): string {
  const raw = `gw-${stack}-${id}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
  if (raw.length <= 63) return raw;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 10);
  return `${raw.slice(0, 52)}-${hash}`;
}
