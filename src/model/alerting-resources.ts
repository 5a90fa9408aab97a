/**
 * The `notify:`, `alerts:` and `maintenance:` sections as resources, so the plan shows a new
 * alert rule or a changed channel like any other change: `channel.NAME`, `alert.NAME`,
 * `maintenance.NAME` and one `notify-policy.default` (routes, default channels, repeat, links).
 * Specs keep `${secret.X}` references as written; the daemon resolves them when it builds a
 * channel, so no value reaches the plan or the state.
 */
import type { AlertConfig, MaintenanceConfig, NotifyConfig } from '../config/schema-alerting.js';
import { address, type DesiredResource, type Json, type JsonObject } from './resource.js';

const CHANNEL_TYPES = ['webhook', 'slack', 'ntfy', 'alertmanager', 'email'] as const;

interface GroupingConfig {
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
}

/**
 * Grouping in a spec only when group_by is given (so a stack without grouping plans as before),
 * with Alertmanager's defaults for the waits.
 */
function grouping(g: GroupingConfig): Record<string, unknown> {
  if (!g.group_by) return {};
  return { group_by: g.group_by, group_wait: g.group_wait ?? '30s', group_interval: g.group_interval ?? '5m' };
}

/**
 * How often an `expr:` rule is evaluated when the stack file does not say: 5 s, not Prometheus's
 * customary 15 s to 1 min, because the samples are in the daemon's memory (a query costs
 * microseconds) and the time from a failure to a page is what the alerts are for.
 */
export const DEFAULT_EXPR_INTERVAL = '5s';

export function alertingResources(
  notify: NotifyConfig | undefined,
  alerts: Record<string, AlertConfig> | undefined,
  maintenance: Record<string, MaintenanceConfig> | undefined,
  deep: (v: unknown) => Json,
): DesiredResource[] {
  const out: DesiredResource[] = [];
  const channels = notify?.channels ?? {};
  for (const [name, c] of Object.entries(channels)) {
    const type = CHANNEL_TYPES.find((t) => c[t] !== undefined);
    if (!type) continue; // a located diagnostic says so (config/alerting-checks.ts)
    out.push({
      address: address('channel', name),
      kind: 'channel',
      name,
      dependsOn: [],
      spec: deep({ type, settings: c[type] }) as JsonObject,
    });
  }
  const channelAddresses = Object.keys(channels).map((n) => address('channel', n));
  if (notify) {
    out.push({
      address: address('notify-policy', 'default'),
      kind: 'notify-policy',
      name: 'default',
      dependsOn: channelAddresses,
      spec: deep({
        routes: (notify.routes ?? []).map((r) => ({
          match: r.match ?? [],
          channels: r.channels,
          repeat_interval: r.repeat_interval ?? notify.repeat_interval ?? '4h',
          continue: r.continue ?? false,
          ...grouping(r),
        })),
        default: notify.default ?? Object.keys(channels),
        repeat_interval: notify.repeat_interval ?? '4h',
        ...grouping(notify),
        inhibit: (notify.inhibit ?? []).map((i) => ({
          source_matchers: i.source_matchers,
          target_matchers: i.target_matchers,
          equal: i.equal ?? [],
        })),
        external_url: notify.external_url ?? null,
      }) as JsonObject,
    });
  }
  for (const [name, a] of Object.entries(alerts ?? {})) {
    out.push({
      address: address('alert', name),
      kind: 'alert',
      name,
      dependsOn: [
        ...(a.service ? [address('service', a.service)] : []),
        ...(a.check ? [address('check', a.check)] : []),
        ...(a.logs && a.logs.service !== a.service ? [address('service', a.logs.service)] : []),
      ],
      spec: deep({
        check: a.check ?? null,
        event: a.event ?? null,
        expr: a.expr ?? null,
        // Only when given, so the specs of other rules plan as before.
        ...(a.logs
          ? {
              logs: {
                service: a.logs.service,
                pattern: a.logs.pattern,
                window: a.logs.window ?? '1m',
                threshold: a.logs.threshold ?? 1,
              },
            }
          : {}),
        interval: a.interval ?? DEFAULT_EXPR_INTERVAL,
        service: a.service ?? null,
        for: a.for ?? '0s',
        keep_firing_for: a.keep_firing_for ?? '0s',
        severity: a.severity ?? 'warning',
        labels: a.labels ?? {},
        summary: a.summary ?? null,
        description: a.description ?? null,
        runbook: a.runbook ?? null,
      }) as JsonObject,
    });
  }
  for (const [name, m] of Object.entries(maintenance ?? {})) {
    out.push({
      address: address('maintenance', name),
      kind: 'maintenance',
      name,
      dependsOn: [],
      spec: deep({
        match: m.match ?? [],
        once: m.once ?? null,
        weekly: m.weekly ? { ...m.weekly, timezone: m.weekly.timezone ?? 'UTC' } : null,
      }) as JsonObject,
    });
  }
  return out;
}
