import type { Json, JsonObject } from './json.js';

export const RESOURCE_KINDS = [
  'volume',
  'service',
  'route',
  'listener',
  'dns-zone',
  'dns-record',
  'check',
  'channel',
  'notify-policy',
  'alert',
  'maintenance',
  'person',
  'schedule',
  'escalation',
  'oncall-policy',
  'scrape',
  'metrics',
] as const;
export type ResourceKindName = (typeof RESOURCE_KINDS)[number];

/** `service.web`, `volume.data`, `route.0`, `dns-record.nas.A` (the name may contain dots). */
export type Address = string & { readonly __address: unique symbol };

export function address(kind: ResourceKindName, name: string): Address {
  return `${kind}.${name}` as Address;
}

export function kindOf(addr: Address): ResourceKindName {
  return addr.slice(0, addr.indexOf('.')) as ResourceKindName;
}

/** One resource as the stack file wants it. Spec holds no secret value, only references. */
export interface DesiredResource {
  address: Address;
  kind: ResourceKindName;
  name: string;
  spec: JsonObject;
  dependsOn: Address[];
}

export type { Json, JsonObject };
