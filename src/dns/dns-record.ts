/**
 * The records a Groundwork zone serves, as plain values (no wire types): what the stack file
 * declares and what service addresses produce. Names are absolute, lowercase, without the
 * trailing dot (`api.homelab.internal`).
 */

import type { DnsRecordTypeName } from '../config/schema.js';

export type DnsRecordType = DnsRecordTypeName;

/** Default TTL of a record that does not say (seconds). */
export const DEFAULT_RECORD_TTL = 300;

interface Base {
  /** Absolute owner name, lowercase, no trailing dot. */
  name: string;
  /** Seconds. */
  ttl: number;
}

export type DnsRecord =
  | (Base & { type: 'A'; address: string })
  | (Base & { type: 'AAAA'; address: string })
  | (Base & { type: 'CNAME'; target: string })
  | (Base & { type: 'TXT'; text: string })
  | (Base & { type: 'SRV'; priority: number; weight: number; port: number; target: string })
  | (Base & { type: 'MX'; priority: number; exchange: string });

/** `Api.Homelab.Internal.` → `api.homelab.internal`; the root is the empty string. */
export function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** True when `name` is `zone` or below it (both normalised). */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}
