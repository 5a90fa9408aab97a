/**
 * What `groundwork alerts` and `groundwork silence` read and change: alert instances with who was
 * told (the outbox rows of each), silences, and acknowledgements. Reads the store directly, so it
 * works with or without a daemon.
 */
import { MatcherSyntaxError, formatMatcher, parseMatcher } from '../alerts/matchers.js';
import type { JsonObject } from '../model/resource.js';
import type { AlertStore, OutboxStore, ResourceStore, SilenceRow } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { Duration } from '../util/duration.js';
import { OperationError } from './errors.js';

export interface AlertDelivery {
  channel: string;
  status: string;
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
  /** firing or resolved. */
  kind: string;
}

export interface AlertView {
  rule: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: string;
  activeAt: string;
  firedAt: string | null;
  resolvedAt: string | null;
  value: number | null;
  suppressedBy: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
  deliveries: AlertDelivery[];
}

export interface SilenceView {
  id: number;
  matchers: string[];
  startsAt: string;
  endsAt: string;
  author: string;
  comment: string;
  active: boolean;
}

/** A notification channel the daemon could not build: nothing reaches it until this is fixed. */
export interface ChannelProblemView {
  channel: string;
  /** What is wrong and how to fix it (e.g. the secret without a value and how to set it). */
  problem: string;
}

export interface AlertsView {
  alerts: AlertView[];
  silences: SilenceView[];
  /** Channels that cannot deliver (empty when every channel was built). */
  channelProblems: ChannelProblemView[];
}

export interface SilenceInput {
  matchers: string[];
  /** How long from now (e.g. 2h); default 1h. */
  duration?: string;
  comment?: string;
  author?: string;
}

function silenceView(s: SilenceRow, now: string): SilenceView {
  return {
    id: s.id,
    matchers: s.matchers.map(formatMatcher),
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    author: s.author,
    comment: s.comment,
    active: s.startsAt <= now && s.endsAt > now,
  };
}

/** The alert's status in a group notification's payload; undefined when the alert is not in it. */
function groupMemberStatus(payload: JsonObject, fingerprint: string): string | undefined {
  const group = payload.group;
  if (typeof group !== 'object' || group === null || Array.isArray(group)) return undefined;
  const alerts = group.alerts;
  if (!Array.isArray(alerts)) return undefined;
  for (const m of alerts) {
    if (typeof m === 'object' && m !== null && !Array.isArray(m) && m.fingerprint === fingerprint)
      return String(m.status ?? '');
  }
  return undefined;
}

/** Firing and pending alerts, and resolved ones of the last day, newest last; silences not yet ended. */
export async function alertsView(
  store: { alerts: AlertStore; outbox: OutboxStore; resources: Pick<ResourceStore, 'listResources'> },
  clock: Clock,
): Promise<AlertsView> {
  const now = clock.now();
  const dayAgo = new Date(now.getTime() - 24 * 3_600_000).toISOString();
  const rows = await store.outbox.listOutbox({ limit: 1000 });
  const alerts = (await store.alerts.listAlerts())
    .filter((a) => a.state !== 'resolved' || (a.resolvedAt ?? '') >= dayAgo)
    .map((a) => ({
      rule: a.rule,
      fingerprint: a.fingerprint,
      labels: a.labels,
      state: a.state,
      activeAt: a.activeAt,
      firedAt: a.firedAt,
      resolvedAt: a.resolvedAt,
      value: a.value,
      suppressedBy: a.suppressedBy,
      ackedAt: a.ackedAt,
      ackedBy: a.ackedBy,
      deliveries: rows.flatMap((r) => {
        // A group notification (a route with group_by) carries this alert among others.
        const kind = r.stream === a.fingerprint ? r.payload.status : groupMemberStatus(r.payload, a.fingerprint);
        if (kind === undefined) return [];
        return [
          {
            channel: r.channel,
            status: r.status,
            attempts: r.attempts,
            lastError: r.lastError,
            deliveredAt: r.deliveredAt,
            kind: String(kind ?? ''),
          },
        ];
      }),
    }));
  const iso = now.toISOString();
  const silences = (await store.alerts.listSilences()).filter((s) => s.endsAt > iso).map((s) => silenceView(s, iso));
  // Recorded by the daemon's alerting when it builds channels (core/alerting.ts).
  const channelProblems = (await store.resources.listResources())
    .filter((r) => r.kind === 'channel' && typeof r.outputs.problem === 'string')
    .map((r) => ({ channel: r.address.slice('channel.'.length), problem: String(r.outputs.problem) }));
  return { alerts, silences, channelProblems };
}

export async function acknowledgeAlert(
  store: { alerts: AlertStore },
  clock: Clock,
  fingerprint: string,
  by: string,
): Promise<void> {
  const a = await store.alerts.tryGetAlert(fingerprint);
  if (!a) {
    throw new OperationError('not-found', `no alert ${fingerprint}`, 'see the fingerprints in `groundwork alerts`');
  }
  if (a.state !== 'firing') {
    throw new OperationError(
      'refused',
      `alert ${fingerprint} (${a.rule}) is ${a.state}, not firing`,
      'only a firing alert can be acknowledged',
    );
  }
  await store.alerts.saveAlert({ ...a, ackedAt: clock.now().toISOString(), ackedBy: by }, []);
}

export async function addSilence(
  store: { alerts: AlertStore },
  clock: Clock,
  input: SilenceInput,
): Promise<SilenceView> {
  if (input.matchers.length === 0) {
    throw new OperationError(
      'bad-request',
      'a silence needs at least one matcher',
      'e.g. groundwork silence add service=web --for 2h',
    );
  }
  let matchers;
  try {
    matchers = input.matchers.map(parseMatcher);
  } catch (e) {
    if (e instanceof MatcherSyntaxError)
      throw new OperationError('bad-request', e.message, 'write NAME="value", e.g. service="web"');
    throw e;
  }
  const d = Duration.tryParse(input.duration ?? '1h');
  if (!d)
    throw new OperationError(
      'bad-request',
      `cannot read the duration '${input.duration}'`,
      'write a duration such as 30m, 2h or 1d',
    );
  const ms = d.toMilliseconds();
  if (ms <= 0) throw new OperationError('bad-request', 'a silence must last longer than 0s', 'e.g. --for 2h');
  const now = clock.now();
  const row = {
    matchers,
    startsAt: now.toISOString(),
    endsAt: new Date(now.getTime() + ms).toISOString(),
    author: input.author ?? 'unknown',
    comment: input.comment ?? '',
  };
  const id = await store.alerts.addSilence(row);
  return silenceView({ ...row, id, createdAt: row.startsAt }, now.toISOString());
}

export async function expireSilence(store: { alerts: AlertStore }, id: number): Promise<void> {
  if (!(await store.alerts.expireSilence(id))) {
    throw new OperationError('not-found', `no silence ${id} in force`, 'see `groundwork silence list`');
  }
}
