/** The latest verdict of a check, as kept in state and shown by `status` and `checks`. */
import type { CheckState, CheckType } from './check-spec.js';

export interface CheckStatus {
  name: string;
  type: CheckType;
  state: CheckState;
  /** When the state last changed (ISO); null before the first verdict. */
  since: string | null;
  lastRunAt: string | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  /** tls checks: days until the certificate expires. */
  tlsDaysLeft: number | null;
  /** Consecutive results of the current streak, and whether they were successes. */
  streak: number;
  streakOk: boolean;
  /** push checks: the last ping (ISO). */
  lastPingAt: string | null;
}

export function initialCheckStatus(name: string, type: CheckType): CheckStatus {
  return {
    name,
    type,
    state: 'pending',
    since: null,
    lastRunAt: null,
    lastError: null,
    lastLatencyMs: null,
    tlsDaysLeft: null,
    streak: 0,
    streakOk: true,
    lastPingAt: null,
  };
}

const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A recorded status (JSON from state), or the initial one when it is missing or malformed. */
export function readCheckStatus(name: string, type: CheckType, raw: unknown): CheckStatus {
  const s = initialCheckStatus(name, type);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return s;
  const o = raw as Record<string, unknown>;
  const state = o.state === 'up' || o.state === 'down' ? o.state : 'pending';
  return {
    ...s,
    state,
    since: strOrNull(o.since),
    lastRunAt: strOrNull(o.lastRunAt),
    lastError: strOrNull(o.lastError),
    lastLatencyMs: numOrNull(o.lastLatencyMs),
    tlsDaysLeft: numOrNull(o.tlsDaysLeft),
    streak: typeof o.streak === 'number' && o.streak >= 0 ? Math.floor(o.streak) : 0,
    streakOk: o.streakOk !== false,
    lastPingAt: strOrNull(o.lastPingAt),
  };
}
