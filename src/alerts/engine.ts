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

export interface AlertRoute {
  matchers: LabelMatcher[];
  channels: string[];
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
  private activeSilences(): Suppressors {
    const now = this.nowIso();
    const silences = this.opts.store.listSilences().filter((s) => s.startsAt <= now && s.endsAt > now);
    const firing = this.opts.inhibit?.length ? this.opts.store.listAlerts({ state: 'firing' }) : [];
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

  private routeOf(labels: Record<string, string>): { channels: string[]; repeatIntervalMs: number } {
    const channels: string[] = [];
    let repeat: number | undefined;
    for (const r of this.opts.routes) {
      if (!matches(labels, r.matchers)) continue;
      for (const c of r.channels) if (!channels.includes(c)) channels.push(c);
      repeat ??= r.repeatIntervalMs;
      if (!r.continue) break;
    }
    if (repeat === undefined)
      return { channels: [...this.opts.defaultChannels], repeatIntervalMs: this.opts.defaultRepeatIntervalMs };
    return { channels, repeatIntervalMs: repeat };
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

  private notificationRows(a: AlertRow, eventKey: string, channels: string[]): OutboxEnqueue[] {
    const ann = this.annotationsOf(a);
    const base = this.opts.externalUrl.replace(/\/+$/, '');
    const silenceQuery = Object.entries(a.labels)
      .filter(([k]) => k !== 'severity')
      .map(([k, v]) => `matcher=${encodeURIComponent(`${k}="${v}"`)}`)
      .join('&');
    const rows = outboxRows(channels, eventKey, {
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
        runbook: ann.runbook_url,
        details: `${base}/v1/alerts/${a.fingerprint}`,
      },
    });
    const redactor = this.opts.redactor?.();
    return redactor ? rows.map((r) => ({ ...r, payload: redactor.redactDeep(r.payload) })) : rows;
  }

  /**
   * Feeds one evaluation of a rule: the label sets for which its condition holds now. Label sets
   * not given are inactive. Returns what changed.
   */
  evaluate(ruleName: string, active: readonly ActiveSample[]): Transition[] {
    const rule = this.rules.get(ruleName);
    if (!rule) throw new UnknownRuleError(`no alert rule named ${ruleName}`);
    const now = this.nowIso();
    const nowMs = this.opts.clock.now().getTime();
    const silences = this.activeSilences();
    const known = new Map(this.opts.store.listAlerts({ rule: ruleName }).map((a) => [a.fingerprint, a]));
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
      const t = this.settleFiring(a, from, silences, fresh ? undefined : prev);
      if (t) out.push(t);
    }

    for (const [fp, a] of known) {
      if (seen.has(fp) || a.state === 'resolved') continue;
      if (a.state === 'pending') {
        this.lastActive.delete(fp);
        this.opts.store.deleteAlert(fp);
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
      const channels = a.notifiedAt ? this.routeOf(a.labels).channels : [];
      this.opts.store.saveAlert(
        resolved,
        this.notificationRows(resolved, `resolved@${a.firedAt ?? a.activeAt}`, channels),
      );
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
  tick(): Transition[] {
    const silences = this.activeSilences();
    const out: Transition[] = [];
    for (const a of this.opts.store.listAlerts({ state: 'firing' })) {
      const t = this.settleFiring(a, 'firing', silences, a);
      if (t) out.push(t);
    }
    return out;
  }

  /**
   * Saves an alert in pending or firing state when it differs from `stored` (the row as the store
   * has it; undefined for a new alert), queueing what is due; returns a transition if anything
   * changed.
   */
  private settleFiring(
    a: AlertRow,
    from: Transition['from'],
    silences: Suppressors,
    stored: AlertRow | undefined,
  ): Transition | undefined {
    const base = { fingerprint: a.fingerprint, rule: a.rule, from, to: a.state, labels: a.labels };
    const nowMs = this.opts.clock.now().getTime();
    if (a.state !== 'firing') {
      if (needsSave(stored, a, nowMs)) this.opts.store.saveAlert(a, []);
      return from === a.state ? undefined : { ...base, notified: [], suppressedBy: null, summary: this.summaryOf(a) };
    }
    const suppressedBy = this.suppression(a.labels, silences);
    const { channels, repeatIntervalMs } = this.routeOf(a.labels);
    let eventKey: string | undefined;
    if (suppressedBy === null && a.notifiedAt === null) eventKey = `firing@${a.firedAt}`;
    else if (
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
    if (eventKey) this.opts.store.saveAlert(next, this.notificationRows(next, eventKey, channels));
    else if (needsSave(stored, next, nowMs)) this.opts.store.saveAlert(next, []);
    if (!changed) return undefined;
    return { ...base, notified: eventKey ? channels : [], suppressedBy, summary: this.summaryOf(a) };
  }

  /** Stops repeats of a firing alert; false when there is no such firing alert. */
  acknowledge(fingerprint: string, by: string): boolean {
    const a = this.opts.store.tryGetAlert(fingerprint);
    if (!a || a.state !== 'firing') return false;
    this.opts.store.saveAlert({ ...a, ackedAt: this.nowIso(), ackedBy: by }, []);
    return true;
  }
}
