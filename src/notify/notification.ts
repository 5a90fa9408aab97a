/**
 * What a notification says, independent of the channel that carries it. Alerts (and later
 * incidents) build these; each channel renders them in its own format.
 */
import type { JsonObject } from '../model/resource.js';

export type NotificationStatus = 'firing' | 'resolved';

export interface NotificationLinks {
  /** Acknowledges the alert (stops repeats and escalation). */
  acknowledge?: string;
  /** Resolves the incident (pages of incidents). */
  resolve?: string;
  /** Opens a silence prefilled with the alert's labels. */
  silence?: string;
  runbook?: string;
  /** Where the alert is shown (dashboard or API). */
  details?: string;
}

export interface Notification {
  /** The rule's name, e.g. `web-down`. */
  alert: string;
  /** Identifies the alert instance (rule + labels); stable across firing and resolving. */
  fingerprint: string;
  status: NotificationStatus;
  severity: string;
  summary: string;
  description: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** Set when resolved. */
  endsAt: string | null;
  links: NotificationLinks;
  /**
   * Set when the notification carries a group of alerts (a route with `group_by`): the fields
   * above then describe the group (its common labels, a count as the summary) and `alerts` lists
   * every alert it carries, firing and resolved, each with its own links.
   */
  group?: NotificationGroup;
}

export interface NotificationGroup {
  /** Identifies the group (route and the values of its group_by labels), as Alertmanager's groupKey. */
  key: string;
  /** The group_by labels' values. */
  labels: Record<string, string>;
  /** Labels and annotations every alert of the group has with the same value. */
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  alerts: Notification[];
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

export function notificationToJson(n: Notification): JsonObject {
  const links: JsonObject = {};
  for (const [k, v] of Object.entries(n.links)) if (typeof v === 'string') links[k] = v;
  const group: JsonObject = n.group
    ? {
        group: {
          key: n.group.key,
          labels: { ...n.group.labels },
          commonLabels: { ...n.group.commonLabels },
          commonAnnotations: { ...n.group.commonAnnotations },
          alerts: n.group.alerts.map(notificationToJson),
        },
      }
    : {};
  return {
    alert: n.alert,
    fingerprint: n.fingerprint,
    status: n.status,
    severity: n.severity,
    summary: n.summary,
    description: n.description,
    labels: { ...n.labels },
    annotations: { ...n.annotations },
    startsAt: n.startsAt,
    endsAt: n.endsAt,
    links,
    ...group,
  };
}

const groupField = (group: NotificationGroup | undefined): { group?: NotificationGroup } => (group ? { group } : {});

function groupFromJson(v: unknown): NotificationGroup | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const g = v as JsonObject;
  const alerts = Array.isArray(g.alerts) ? g.alerts : [];
  return {
    key: str(g.key),
    labels: stringRecord(g.labels),
    commonLabels: stringRecord(g.commonLabels),
    commonAnnotations: stringRecord(g.commonAnnotations),
    alerts: alerts
      .filter((a): a is JsonObject => typeof a === 'object' && a !== null && !Array.isArray(a))
      .map(notificationFromJson),
  };
}

/** The outbox keeps payloads as JSON; this reads one back (unknown fields are ignored). */
export function notificationFromJson(j: JsonObject): Notification {
  return {
    alert: str(j.alert),
    fingerprint: str(j.fingerprint),
    status: j.status === 'resolved' ? 'resolved' : 'firing',
    severity: str(j.severity, 'warning'),
    summary: str(j.summary),
    description: str(j.description),
    labels: stringRecord(j.labels),
    annotations: stringRecord(j.annotations),
    startsAt: str(j.startsAt),
    endsAt: typeof j.endsAt === 'string' ? j.endsAt : null,
    links: stringRecord(j.links),
    ...groupField(groupFromJson(j.group)),
  };
}

/** `[FIRING] web-down: web answers 503` — the one-line form used as a subject or title. */
export function headline(n: Notification): string {
  return `[${n.status.toUpperCase()}] ${n.alert}: ${n.summary || n.alert}`;
}

/** Plain-text body shared by the text channels (email text part, ntfy message, Slack fallback). */
export function plainText(n: Notification): string {
  const lines = [headline(n), ''];
  if (n.description) lines.push(n.description, '');
  lines.push(`severity: ${n.severity}`);
  lines.push(`since: ${n.startsAt}${n.endsAt ? `, resolved ${n.endsAt}` : ''}`);
  const labels = Object.entries(n.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (labels) lines.push(`labels: ${labels}`);
  for (const [label, url] of labelledLinks(n)) lines.push(`${label.toLowerCase()}: ${url}`);
  for (const a of n.group?.alerts ?? []) {
    lines.push('', `- ${headline(a)}`);
    const labels = Object.entries(a.labels)
      .filter(([k]) => n.group?.commonLabels[k] === undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    if (labels) lines.push(`  labels: ${labels}`);
    for (const [label, url] of labelledLinks(a, ['acknowledge', 'silence', 'runbook'])) {
      lines.push(`  ${label.toLowerCase()}: ${url}`);
    }
  }
  return lines.join('\n') + '\n';
}

const LINK_LABELS: [keyof NotificationLinks, string][] = [
  ['acknowledge', 'Acknowledge'],
  ['resolve', 'Resolve'],
  ['silence', 'Silence'],
  ['runbook', 'Runbook'],
  ['details', 'Details'],
];

/** The links that are set, with their button labels, in a fixed order. */
export function labelledLinks(n: Notification, only?: (keyof NotificationLinks)[]): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, label] of LINK_LABELS) {
    const url = n.links[key];
    if (url && (!only || only.includes(key))) out.push([label, url]);
  }
  return out;
}
