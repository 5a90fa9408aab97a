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
