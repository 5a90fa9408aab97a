/**
 * The change policy of a stack (`changes:` in the stack file) and the pure decision it makes about
 * one change: how many approvals it needs and whether a freeze window covers it now. No I/O, so
 * every case is a unit test (test/change/change-policy.test.ts).
 */
import { windowActive, type TimeWindow } from '../alerts/maintenance.js';
import type { ChangesConfig } from '../config/schema-change.js';
import { WEEKDAYS } from '../config/schema-alerting.js';

export interface ApprovalRule {
  name: string;
  /** null: every change. */
  services: readonly string[] | null;
  approvals: number;
}

export interface Freeze {
  name: string;
  /** null: every change. */
  services: readonly string[] | null;
  windows: TimeWindow[];
}

export interface ChangePolicy {
  approvals: ApprovalRule[];
  freezes: Freeze[];
  /** Channels told of a break-glass change. */
  notify: string[];
}

export const NO_POLICY: ChangePolicy = { approvals: [], freezes: [], notify: [] };

/** What a change touches: the services it changes, and whether it changes anything else too. */
export interface ChangeScope {
  services: readonly string[];
  /** It changes resources that belong to no service (routes, DNS, alerts...). */
  other: boolean;
}

export interface Gate {
  /** The most approvals any covering rule asks, with the rules that ask it; 0 when none covers it. */
  approvals: number;
  rules: string[];
  /** The freeze window in force for it now, if any. */
  freeze: string | undefined;
}

function minuteOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** The policy from the validated `changes:` section (absent: nothing is gated). */
export function changePolicyOf(config: ChangesConfig | undefined): ChangePolicy {
  if (!config) return NO_POLICY;
  const approvals = Object.entries(config.approvals ?? {}).map(([name, r]) => ({
    name,
    services: r.services ?? null,
    approvals: r.approvals,
  }));
  const freezes = Object.entries(config.freezes ?? {}).map(([name, f]) => {
    const windows: TimeWindow[] = [];
    if (f.once) windows.push({ kind: 'once', start: new Date(f.once.start), end: new Date(f.once.end) });
    if (f.weekly)
      windows.push({
        kind: 'weekly',
        // alerts/maintenance.ts counts from Sunday (0); the stack file lists mon..sun.
        days: f.weekly.days.map((d) => (WEEKDAYS.indexOf(d) + 1) % 7),
        fromMinute: minuteOf(f.weekly.from),
        toMinute: minuteOf(f.weekly.to),
        timeZone: f.weekly.timezone ?? 'UTC',
      });
    return { name, services: f.services ?? null, windows };
  });
  return { approvals, freezes, notify: config.notify ?? [] };
}

function covers(services: readonly string[] | null, scope: ChangeScope): boolean {
  if (services === null) return scope.services.length > 0 || scope.other;
  return scope.services.some((s) => services.includes(s));
}

/** What the policy asks of a change with this scope at `at`. */
export function gateFor(policy: ChangePolicy, scope: ChangeScope, at: Date): Gate {
  let approvals = 0;
  let rules: string[] = [];
  for (const r of policy.approvals) {
    if (!covers(r.services, scope)) continue;
    if (r.approvals > approvals) {
      approvals = r.approvals;
      rules = [r.name];
    } else if (r.approvals === approvals) rules.push(r.name);
  }
  const freeze = policy.freezes.find((f) => covers(f.services, scope) && f.windows.some((w) => windowActive(w, at)));
  return { approvals, rules, freeze: freeze?.name };
}

/** The scope of a plan: the services its steps change, and whether it changes anything else. */
export function scopeOfAddresses(addresses: readonly string[]): ChangeScope {
  const services = new Set<string>();
  let other = false;
  for (const a of addresses) {
    if (a.startsWith('service.')) services.add(a.slice('service.'.length));
    else other = true;
  }
  return { services: [...services].sort(), other };
}
