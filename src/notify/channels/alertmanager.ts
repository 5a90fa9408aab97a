/**
 * Alertmanager's webhook payload (version 4), so receivers written for Alertmanager
 * (alertmanager-webhook-logger, prometheus-msteams, custom bridges) work unchanged. One
 * notification is one group: a route with `group_by` queues one notification per group with all
 * its alerts (engine.ts groups before the outbox); without it, each alert is a group of one.
 */
import { postOrFail, type Channel, type DeliveryContext } from '../channel.js';
import type { Notification } from '../notification.js';

export interface AlertmanagerWebhookConfig {
  url: string;
  /** The `receiver` field receivers may switch on. */
  receiver?: string;
  /** Shown as `externalURL` (where the alert can be seen). */
  externalUrl?: string;
  timeoutMs?: number;
}

/** Alertmanager's zero time for an alert that has not ended. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function alertOf(n: Notification): Record<string, unknown> {
  const labels = { alertname: n.alert, severity: n.severity, ...n.labels };
  const annotations: Record<string, string> = { ...n.annotations };
  if (n.summary && annotations.summary === undefined) annotations.summary = n.summary;
  if (n.description && annotations.description === undefined) annotations.description = n.description;
  if (n.links.runbook && annotations.runbook_url === undefined) annotations.runbook_url = n.links.runbook;
  return {
    status: n.status,
    labels,
    annotations,
    startsAt: n.startsAt,
    endsAt: n.endsAt ?? ZERO_TIME,
    generatorURL: n.links.details ?? '',
    fingerprint: n.fingerprint,
  };
}

export function alertmanagerBody(n: Notification, cfg: AlertmanagerWebhookConfig): Record<string, unknown> {
  if (n.group) {
    return {
      version: '4',
      groupKey: n.group.key,
      truncatedAlerts: 0,
      status: n.status,
      receiver: cfg.receiver ?? 'groundwork',
      groupLabels: n.group.labels,
      commonLabels: n.group.commonLabels,
      commonAnnotations: n.group.commonAnnotations,
      externalURL: cfg.externalUrl ?? '',
      alerts: n.group.alerts.map(alertOf),
    };
  }
  const one = alertOf(n);
  return {
    version: '4',
    groupKey: `{}:{alertname="${n.alert}"}`,
    truncatedAlerts: 0,
    status: n.status,
    receiver: cfg.receiver ?? 'groundwork',
    groupLabels: { alertname: n.alert },
    commonLabels: one.labels,
    commonAnnotations: one.annotations,
    externalURL: cfg.externalUrl ?? '',
    alerts: [one],
  };
}

export class AlertmanagerChannel implements Channel {
  readonly type = 'alertmanager' as const;
  constructor(
    readonly name: string,
    private readonly config: AlertmanagerWebhookConfig,
  ) {}

  async deliver(n: Notification, ctx: DeliveryContext): Promise<void> {
    await postOrFail(
      {
        url: this.config.url,
        body: JSON.stringify(alertmanagerBody(n, this.config)),
        headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
        timeoutMs: this.config.timeoutMs ?? 10_000,
      },
      ctx,
    );
  }
}
