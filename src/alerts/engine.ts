/**
 * Alert rules' state machine, with Prometheus's semantics for `for` and `keep_firing_for`:
 *
 *   condition true  → pending (activeAt) → firing once it has been true for `for`
 *   condition false → a pending alert is dropped; a firing one resolves once it has been false
 *                     for `keep_firing_for` (0: at once)
 *
 * Every state change that someone must hear about is saved together with its notification rows
 * (AlertStore.saveAlert: one transaction), so a crash can never record "firing" without queueing
 * the page, or queue a page for a state that was not recorded. Silences and maintenance windows
 * suppress sending, not state: the alert still fires and shows why nobody was told. When the
 * suppression ends while the alert still fires, the firing notification goes out then (as
 * Alertmanager does). A resolved notification is sent only for a firing that was sent.
 *
 * The engine does not know where conditions come from: the daemon feeds it check states, query
 * results and rollout events (`evaluate(rule, active)`), as often as they change.
 */
import { createHash } from 'node:crypto';
import type { AlertRow, AlertStore, OutboxEnqueue, SilenceRow } from '../store/store.js';
import type { Notification } from '../notify/notification.js';
import { outboxRows } from '../notify/outbox.js';
import type { Redactor } from '../security/redact.js';
import type { Clock } from '../util/clock.js';
import { activeMaintenance, type MaintenanceWindow } from './maintenance.js';
import { matches, type LabelMatcher } from './matchers.js';
import { expandTemplate } from './template.js';

export interface AlertRule {
  name: string;
  /** How long the condition must hold before the alert fires. */
  forMs: number;
  /** How long a firing alert stays firing after its condition stops (flapping guard). */
  keepFiringForMs: number;
  severity: string;
  labels: Record<string, string>;
  /** summary, description, runbook_url...; templates with {{ $labels.x }} and {{ $value }}. */
  annotations: Record<string, string>;
}

/**
 * Alertmanager's grouping on a route: alerts with the same values of `by` are sent together, one
 * notification per group carrying all its alerts (firing and resolved). The first notification
 * of a new group waits `waitMs` for more alerts; later ones go out at most every `intervalMs`
 * when the group changed (an alert joined or resolved); an unchanged group with an unacknowledged
 * firing alert is sent again after the route's repeat interval.
 */
export interface Grouping {
  /** Label names, or 'all' (Alertmanager's `['...']`): every label set is a group of its own. */
  by: readonly string[] | 'all';
  waitMs: number;
  intervalMs: number;
}

export interface AlertRoute {
  matchers: LabelMatcher[];
  channels: string[];
  /**
   * Absent: every alert is sent on its own, as soon as it fires or resolves (a page should not
   * wait; Alertmanager's default would group every alert of the route and wait 30 s).
   */
  grouping?: Grouping;
  /** Send again while firing and not acknowledged; 0: never. */
  repeatIntervalMs: number;
  /** Keep looking for further matching routes after this one. */
  continue: boolean;
}

/**
 * Alertmanager's inhibition: while an alert matching `sourceMatchers` fires, alerts matching
 * `targetMatchers` whose `equal` labels have the same values (a missing label is the empty string
 * on both sides) are not sent. An alert never inhibits itself.
 */
export interface InhibitRule {
  sourceMatchers: LabelMatcher[];
  targetMatchers: LabelMatcher[];
  equal: string[];
}

export interface ActiveSample {
  labels: Record<string, string>;
  value: number;
}

export interface AlertEngineOptions {
  store: AlertStore;
  clock: Clock;
  rules: readonly AlertRule[];
  /** First match wins (unless `continue`); an alert that matches none goes to `defaultChannels`. */
  routes: readonly AlertRoute[];
  defaultChannels: readonly string[];
  defaultRepeatIntervalMs: number;
  /** Grouping of alerts that match no route; absent: none. */
  defaultGrouping?: Grouping;
  maintenance: readonly MaintenanceWindow[];
  /** Default none. */
  inhibit?: readonly InhibitRule[];
  /** Base of the acknowledge and silence links, e.g. http://127.0.0.1:7070. */
  externalUrl: string;
  /**
   * Every notification payload goes through it before it enters the outbox: a secret value that
   * reached a label or an annotation (a query result, a templated summary) is replaced by
   * `[secret:NAME]` there, so it reaches neither the outbox table nor a receiver. Default: none.
   */
  redactor?: () => Redactor;
  /**
   * When each alert's condition last held, kept across engine rebuilds (the daemon rebuilds the
   * engine on every apply). The row's `lastActiveAt` is written at most every LAST_ACTIVE_SAVE_MS,
   * so this is what keep_firing_for counts from while the process lives.
   */
  lastActive?: Map<string, number>;
}

/**
 * How stale a still-active alert's stored `lastActiveAt` may get before the row is written again.
 * Rows are saved only when something changed (state, value, notification, suppression), not on
 * every evaluation; this bounds what a restart can misjudge of keep_firing_for to a minute.
 */
export const LAST_ACTIVE_SAVE_MS = 60_000;

/** Whether `next` differs from the stored row in anything that must be written. */
function needsSave(prev: AlertRow | undefined, next: AlertRow, nowMs: number): boolean {
  if (!prev) return true;
  return (
    prev.state !== next.state ||
    prev.value !== next.value ||
    prev.activeAt !== next.activeAt ||
    prev.firedAt !== next.firedAt ||
    prev.resolvedAt !== next.resolvedAt ||
    prev.notifiedAt !== next.notifiedAt ||
    prev.notifications !== next.notifications ||
    prev.suppressedBy !== next.suppressedBy ||
    prev.ackedAt !== next.ackedAt ||
    (prev.lastActiveAt !== next.lastActiveAt && nowMs - Date.parse(prev.lastActiveAt) >= LAST_ACTIVE_SAVE_MS)
  );
}

export interface Transition {
  fingerprint: string;
  rule: string;
  from: AlertRow['state'] | 'inactive';
  to: AlertRow['state'] | 'inactive';
  /** Channels a notification was queued for (empty when suppressed or nobody was due). */
  notified: string[];
  suppressedBy: string | null;
  labels: Record<string, string>;
  /** The rule's summary, rendered for this alert. */
  summary: string;
}

export class UnknownRuleError extends Error {}

interface PendingGroup {
  /** `ROUTE:{label="value",...}`: Alertmanager's groupKey for the route and group labels. */
  key: string;
  labels: Record<string, string>;
  route: RouteChoice;
  grouping: Grouping;
  /** Firing and not suppressed: every notification of the group carries them. */
  firing: AlertRow[];
  /** Resolved since the group's last notification (their firing was sent). */
  resolved: AlertRow[];
}

/** A resolved alert whose firing was sent and whose resolution was not (see flushGroups). */
function resolvedUnsent(a: AlertRow): boolean {
  return a.state === 'resolved' && a.notifiedAt !== null && a.resolvedAt !== null && a.notifiedAt <= a.resolvedAt;
}

/** `now`, or 1 ms after `after` when that is not earlier (ISO timestamps compare as strings). */
function laterOf(now: string, after: string | null): string {
  if (after === null || now > after) return now;
  return new Date(Date.parse(after) + 1).toISOString();
}

function groupLabels(labels: Record<string, string>, by: Grouping['by']): Record<string, string> {
  if (by === 'all') return { ...labels };
  const out: Record<string, string> = {};
  for (const k of [...by].sort()) if (labels[k] !== undefined) out[k] = labels[k];
  return out;
}

function formatLabels(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;
}

/** ` for service=web, env=lab` (nothing for an empty set). */
function formatLabelsPlain(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length ? ` for ${parts.join(', ')}` : '';
}

interface RouteChoice {
  /** The first matching route's index, or `default`: part of the group key. */
  id: string;
  channels: string[];
  repeatIntervalMs: number;
  grouping: Grouping | undefined;
}

interface Suppressors {
  silences: SilenceRow[];
  /** Firing alerts (only read when there are inhibit rules). */
  firing: AlertRow[];
}

/** Labels of the alert: the sample's, the rule's, and alertname/severity. */
function alertLabels(rule: AlertRule, sample: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...sample, ...rule.labels, alertname: rule.name, severity: rule.severity };
  delete out.__name__;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function fingerprintOf(labels: Record<string, string>): string {
  const canonical = Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0001');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export class AlertEngine {
  private readonly rules: Map<string, AlertRule>;
  private readonly lastActive: Map<string, number>;

  constructor(private readonly opts: AlertEngineOptions) {
    this.rules = new Map(opts.rules.map((r) => [r.name, r]));
    this.lastActive = opts.lastActive ?? new Map();
  }

  private nowIso(): string {
    return this.opts.clock.now().toISOString();
  }

  /** The silences in force now, and the firing alerts that may inhibit others. */
  private async activeSilences(): Promise<Suppressors> {
    const now = this.nowIso();
    const silences = (await this.opts.store.listSilences()).filter((s) => s.startsAt <= now && s.endsAt > now);
    const firing = this.opts.inhibit?.length ? await this.opts.store.listAlerts({ state: 'firing' }) : [];
    return { silences, firing };
  }

  private inhibitor(labels: Record<string, string>, firing: readonly AlertRow[]): AlertRow | undefined {
    const fp = fingerprintOf(labels);
    for (const rule of this.opts.inhibit ?? []) {
      if (!matches(labels, rule.targetMatchers)) continue;
      const source = firing.find(
        (a) =>
          a.fingerprint !== fp &&
          matches(a.labels, rule.sourceMatchers) &&
          rule.equal.every((k) => (a.labels[k] ?? '') === (labels[k] ?? '')),
      );
      if (source) return source;
    }
    return undefined;
  }

  private suppression(labels: Record<string, string>, { silences, firing }: Suppressors): string | null {
    const s = silences.find((x) => matches(labels, x.matchers));
    if (s) return `silence ${s.id}`;
    const source = this.inhibitor(labels, firing);
    if (source) return `inhibited by ${source.rule} ${source.fingerprint}`;
    const m = activeMaintenance(this.opts.maintenance, labels, this.opts.clock.now());
    return m ? `maintenance ${m}` : null;
  }

  /**
   * Channels are those of every matching route (first match, then the ones after a `continue`);
   * repeat interval and grouping are the first matching route's. (Alertmanager keeps a group per
   * matching route; one group per alert keeps one notification state per alert.)
   */
  private routeOf(labels: Record<string, string>): RouteChoice {
    const channels: string[] = [];
    let first: number | undefined;
    for (const [index, r] of this.opts.routes.entries()) {
      if (!matches(labels, r.matchers)) continue;
      for (const c of r.channels) if (!channels.includes(c)) channels.push(c);
      first ??= index;
      if (!r.continue) break;
    }
    if (first === undefined) {
      return {
        id: 'default',
        channels: [...this.opts.defaultChannels],
        repeatIntervalMs: this.opts.defaultRepeatIntervalMs,
        grouping: this.opts.defaultGrouping,
      };
    }
    const route = this.opts.routes[first];
    return { id: String(first), channels, repeatIntervalMs: route?.repeatIntervalMs ?? 0, grouping: route?.grouping };
  }

  private annotationsOf(a: AlertRow): Record<string, string> {
    const rule = this.rules.get(a.rule);
    const data = { labels: a.labels, value: a.value, externalUrl: this.opts.externalUrl };
    const ann: Record<string, string> = {};
    for (const [k, v] of Object.entries(rule?.annotations ?? {})) ann[k] = expandTemplate(v, data);
    return ann;
  }

  private summaryOf(a: AlertRow): string {
    return this.annotationsOf(a).summary ?? `${a.rule} is firing`;
  }

  private notificationOf(a: AlertRow): Notification {
    const ann = this.annotationsOf(a);
    const base = this.opts.externalUrl.replace(/\/+$/, '');
    const silenceQuery = Object.entries(a.labels)
      .filter(([k]) => k !== 'severity')
      .map(([k, v]) => `matcher=${encodeURIComponent(`${k}="${v}"`)}`)
      .join('&');
    return {
      alert: a.rule,
      fingerprint: a.fingerprint,
      status: a.state === 'resolved' ? 'resolved' : 'firing',
      severity: a.labels.severity ?? 'warning',
      summary: ann.summary ?? `${a.rule} is firing`,
      description: ann.description ?? '',
      labels: a.labels,
      annotations: ann,
      startsAt: a.firedAt ?? a.activeAt,
      endsAt: a.state === 'resolved' ? a.resolvedAt : null,
      links: {
        acknowledge: `${base}/v1/alerts/${a.fingerprint}/ack`,
        silence: `${base}/v1/silences/new?${silenceQuery}`,
        ...(ann.runbook_url !== undefined ? { runbook: ann.runbook_url } : {}),
        details: `${base}/v1/alerts/${a.fingerprint}`,
      },
    };
  }

  private redacted(rows: OutboxEnqueue[]): OutboxEnqueue[] {
    const redactor = this.opts.redactor?.();
    return redactor ? rows.map((r) => ({ ...r, payload: redactor.redactDeep(r.payload) })) : rows;
  }

  private notificationRows(a: AlertRow, eventKey: string, channels: string[]): OutboxEnqueue[] {
    return this.redacted(outboxRows(channels, eventKey, this.notificationOf(a)));
  }

  /**
   * Feeds one evaluation of a rule: the label sets for which its condition holds now. Label sets
   * not given are inactive. Returns what changed.
   *
   * It reads the rule's alerts, then writes them: its caller runs one evaluation (or tick, or
   * flush) at a time (core/alerting.ts does so with singleFlight), or two would overwrite each other.
   */
  async evaluate(ruleName: string, active: readonly ActiveSample[]): Promise<Transition[]> {
    const rule = this.rules.get(ruleName);
    if (!rule) throw new UnknownRuleError(`no alert rule named ${ruleName}`);
    const now = this.nowIso();
    const nowMs = this.opts.clock.now().getTime();
    const silences = await this.activeSilences();
    const known = new Map((await this.opts.store.listAlerts({ rule: ruleName })).map((a) => [a.fingerprint, a]));
    const seen = new Set<string>();
    const out: Transition[] = [];

    for (const sample of active) {
      const labels = alertLabels(rule, sample.labels);
      const fp = fingerprintOf(labels);
      seen.add(fp);
      this.lastActive.set(fp, nowMs);
      const prev = known.get(fp);
      const fresh = !prev || prev.state === 'resolved';
      let a: AlertRow = fresh
        ? {
            fingerprint: fp,
            rule: ruleName,
            labels,
            state: 'pending',
            activeAt: now,
            lastActiveAt: now,
            firedAt: null,
            resolvedAt: null,
            value: sample.value,
            notifiedAt: null,
            notifications: 0,
            suppressedBy: null,
            ackedAt: null,
            ackedBy: null,
          }
        : { ...prev, lastActiveAt: now, value: sample.value };
      const from: Transition['from'] = fresh ? 'inactive' : prev.state;
      if (a.state === 'pending' && nowMs - Date.parse(a.activeAt) >= rule.forMs)
        a = { ...a, state: 'firing', firedAt: now };
      const t = await this.settleFiring(a, from, silences, fresh ? undefined : prev);
      if (t) out.push(t);
    }

    for (const [fp, a] of known) {
      if (seen.has(fp) || a.state === 'resolved') continue;
      if (a.state === 'pending') {
        this.lastActive.delete(fp);
        await this.opts.store.deleteAlert(fp);
        out.push({
          fingerprint: fp,
          rule: ruleName,
          from: 'pending',
          to: 'inactive',
          notified: [],
          suppressedBy: null,
          labels: a.labels,
          summary: this.summaryOf(a),
        });
        continue;
      }
      const lastActiveMs = Math.max(this.lastActive.get(fp) ?? 0, Date.parse(a.lastActiveAt));
      if (nowMs - lastActiveMs < rule.keepFiringForMs) continue;
      this.lastActive.delete(fp);
      const resolved: AlertRow = {
        ...a,
        state: 'resolved',
        resolvedAt: now,
        lastActiveAt: new Date(lastActiveMs).toISOString(),
      };
      const route = this.routeOf(a.labels);
      // Grouped: the row, still carrying when its firing was sent, waits for its group's next
      // notification (flushGroups), which marks it sent.
      const channels = a.notifiedAt && !route.grouping ? route.channels : [];
      // Sent on its own: marked so (see resolvedUnsent), or a later change of the route to
      // grouped would send this resolution again with a group.
      const row = a.notifiedAt && !route.grouping ? { ...resolved, notifiedAt: laterOf(now, now) } : resolved;
      await this.opts.store.saveAlert(row, this.notificationRows(row, `resolved@${a.firedAt ?? a.activeAt}`, channels));
      out.push({
        fingerprint: fp,
        rule: ruleName,
        from: 'firing',
        to: 'resolved',
        notified: channels,
        suppressedBy: null,
        labels: a.labels,
        summary: this.summaryOf(a),
      });
    }
    return out;
  }

  /**
   * For every firing alert: send the firing notification once its suppression has ended, and
   * repeats while unacknowledged. The daemon calls this on a timer (and evaluate calls it per alert).
   */
  async tick(): Promise<Transition[]> {
    const silences = await this.activeSilences();
    const out: Transition[] = [];
    for (const a of await this.opts.store.listAlerts({ state: 'firing' })) {
      const t = await this.settleFiring(a, 'firing', silences, a);
      if (t) out.push(t);
    }
    return out;
  }

  /**
   * Saves an alert in pending or firing state when it differs from `stored` (the row as the store
   * has it; undefined for a new alert), queueing what is due; returns a transition if anything
   * changed.
   */
  private async settleFiring(
    a: AlertRow,
    from: Transition['from'],
    silences: Suppressors,
    stored: AlertRow | undefined,
  ): Promise<Transition | undefined> {
    const base = { fingerprint: a.fingerprint, rule: a.rule, from, to: a.state, labels: a.labels };
    const nowMs = this.opts.clock.now().getTime();
    if (a.state !== 'firing') {
      if (needsSave(stored, a, nowMs)) await this.opts.store.saveAlert(a, []);
      return from === a.state ? undefined : { ...base, notified: [], suppressedBy: null, summary: this.summaryOf(a) };
    }
    const suppressedBy = this.suppression(a.labels, silences);
    const { channels, repeatIntervalMs, grouping } = this.routeOf(a.labels);
    let eventKey: string | undefined;
    // A grouped alert is sent with its group (flushGroups); here only its state and why it would not be sent.
    const alone = grouping === undefined;
    if (alone && suppressedBy === null && a.notifiedAt === null) eventKey = `firing@${a.firedAt}`;
    else if (
      alone &&
      suppressedBy === null &&
      a.notifiedAt !== null &&
      a.ackedAt === null &&
      repeatIntervalMs > 0 &&
      nowMs - Date.parse(a.notifiedAt) >= repeatIntervalMs
    ) {
      eventKey = `firing@${a.firedAt}#${a.notifications}`;
    }
    const next: AlertRow = eventKey
      ? { ...a, suppressedBy: null, notifiedAt: this.nowIso(), notifications: a.notifications + 1 }
      : { ...a, suppressedBy };
    const changed = from !== 'firing' || eventKey !== undefined || a.suppressedBy !== suppressedBy;
    if (eventKey) await this.opts.store.saveAlert(next, this.notificationRows(next, eventKey, channels));
    else if (needsSave(stored, next, nowMs)) await this.opts.store.saveAlert(next, []);
    if (!changed) return undefined;
    return { ...base, notified: eventKey ? channels : [], suppressedBy, summary: this.summaryOf(a) };
  }

  /**
   * Queues the notification of every group that is due (see Grouping): one outbox row per
   * channel carrying the group's firing alerts and those resolved since its last notification.
   * The alerts are marked sent in the same transaction as the rows, so a restart neither loses
   * a group notification nor sends one twice. Returns how many rows were queued.
   */
  async flushGroups(): Promise<number> {
    const nowMs = this.opts.clock.now().getTime();
    const nowIso = this.nowIso();
    const groups = new Map<string, PendingGroup>();
    // Oldest first, then by name: the order alerts are listed in a group and groups are queued in.
    const order = (a: AlertRow): string => `${a.firedAt ?? a.activeAt}\u0000${a.rule}\u0000${a.fingerprint}`;
    const alerts = (await this.opts.store.listAlerts()).sort((x, y) =>
      order(x) < order(y) ? -1 : order(x) > order(y) ? 1 : 0,
    );
    for (const a of alerts) {
      const firing = a.state === 'firing' && a.suppressedBy === null;
      if (!firing && !resolvedUnsent(a)) continue;
      const route = this.routeOf(a.labels);
      if (!route.grouping) continue;
      const labels = groupLabels(a.labels, route.grouping.by);
      const key = `${route.id}:${formatLabels(labels)}`;
      let g = groups.get(key);
      if (!g) {
        g = { key, labels, route, grouping: route.grouping, firing: [], resolved: [] };
        groups.set(key, g);
      }
      (firing ? g.firing : g.resolved).push(a);
    }
    let queued = 0;
    for (const g of groups.values()) {
      if (!this.groupDue(g, nowMs)) continue;
      const sent: AlertRow[] = [
        ...g.firing.map((a) => ({ ...a, notifiedAt: nowIso, notifications: a.notifications + 1 })),
        // After resolvedAt, so that resolvedUnsent() is false from now on.
        ...g.resolved.map((a) => ({ ...a, notifiedAt: laterOf(nowIso, a.resolvedAt) })),
      ];
      const rows = this.groupRows(g, nowIso);
      await this.opts.store.saveAlerts(sent, rows);
      queued += rows.length;
    }
    return queued;
  }

  private groupDue(g: PendingGroup, nowMs: number): boolean {
    const fresh = g.firing.filter((a) => a.notifiedAt === null);
    const told = [...g.firing, ...g.resolved].flatMap((a) => (a.notifiedAt ? [Date.parse(a.notifiedAt)] : []));
    if (told.length === 0) {
      // A new group: its first notification waits group_wait from its first alert's firing.
      const first = Math.min(...fresh.map((a) => Date.parse(a.firedAt ?? a.activeAt)));
      return fresh.length > 0 && nowMs - first >= g.grouping.waitMs;
    }
    const last = Math.max(...told);
    if (fresh.length > 0 || g.resolved.length > 0) return nowMs - last >= g.grouping.intervalMs;
    const repeat = g.route.repeatIntervalMs;
    return repeat > 0 && nowMs - last >= repeat && g.firing.some((a) => a.ackedAt === null);
  }

  private groupRows(g: PendingGroup, nowIso: string): OutboxEnqueue[] {
    const members = [...g.firing, ...g.resolved].map((a) => this.notificationOf(a));
    const common = (pick: (n: Notification) => Record<string, string>): Record<string, string> => {
      const [head, ...rest] = members.map(pick);
      return Object.fromEntries(Object.entries(head ?? {}).filter(([k, v]) => rest.every((r) => r[k] === v)));
    };
    const commonLabels = common((n) => n.labels);
    const commonAnnotations = common((n) => n.annotations);
    const status = g.firing.length > 0 ? 'firing' : 'resolved';
    const counts = [
      g.firing.length ? `${g.firing.length} firing` : '',
      g.resolved.length ? `${g.resolved.length} resolved` : '',
    ].filter(Boolean);
    const groupId = createHash('sha256').update(g.key).digest('hex').slice(0, 16);
    const base = this.opts.externalUrl.replace(/\/+$/, '');
    const silenceQuery = Object.entries(g.labels)
      .map(([k, v]) => `matcher=${encodeURIComponent(`${k}="${v}"`)}`)
      .join('&');
    const n: Notification = {
      alert: commonLabels.alertname ?? g.labels.alertname ?? 'alerts',
      fingerprint: groupId,
      status,
      severity: commonLabels.severity ?? members.find((m) => m.status === 'firing')?.severity ?? 'warning',
      summary: `${counts.join(', ')}${formatLabelsPlain(g.labels)}`,
      description: '',
      labels: commonLabels,
      annotations: commonAnnotations,
      startsAt: members.map((m) => m.startsAt).sort()[0] ?? nowIso,
      endsAt: status === 'resolved' ? nowIso : null,
      links: {
        details: `${base}/v1/alerts`,
        ...(silenceQuery ? { silence: `${base}/v1/silences/new?${silenceQuery}` } : {}),
      },
      group: { key: g.key, labels: g.labels, commonLabels, commonAnnotations, alerts: members },
    };
    // What the group says (each alert and its status) and when: unique per notification, the
    // same on every attempt and after a restart (the row is the notification).
    const content = members.map((m) => `${m.fingerprint}:${m.status}`).join(',');
    const seq = createHash('sha256').update(content).digest('hex').slice(0, 8);
    return this.redacted(
      outboxRows(g.route.channels, `${nowIso}/${seq}`, n).map((r) => ({
        ...r,
        stream: `group:${groupId}`,
        dedupKey: `group:${groupId}/${nowIso}/${seq}`,
      })),
    );
  }

  /** Stops repeats of a firing alert; false when there is no such firing alert. */
  async acknowledge(fingerprint: string, by: string): Promise<boolean> {
    const a = await this.opts.store.tryGetAlert(fingerprint);
    if (!a || a.state !== 'firing') return false;
    await this.opts.store.saveAlert({ ...a, ackedAt: this.nowIso(), ackedBy: by }, []);
    return true;
  }
}
