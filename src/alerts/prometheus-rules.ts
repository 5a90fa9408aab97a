/**
 * The stack file's alert rules as a Prometheus rule file (`groundwork alerts export --prometheus`),
 * for people who also run Prometheus or move to it. `expr:` rules go as written (the PromQL subset
 * Groundwork evaluates is Prometheus's syntax); a `check:` rule becomes the series the daemon
 * records for it, `groundwork_check_up{check="NAME"} == 0` (Prometheus must scrape or remote-read
 * those series for it to fire). `event:` rules have no series and are listed as skipped, with why.
 * Rules are grouped by evaluation interval, because a Prometheus rule group has one interval.
 */
import { CHECK_METRICS } from '../observe/checks/sample-sink.js';

export interface ExportableRule {
  name: string;
  check: string | null;
  expr: string | null;
  event: string | null;
  /** A log-pattern rule's service (the rule has no series). */
  logsService?: string | null;
  /** Durations as the stack file writes them (Prometheus reads the same syntax). */
  for: string;
  keepFiringFor: string;
  /** The expr rule's evaluation interval. */
  interval: string;
  severity: string;
  labels: Record<string, string>;
  summary: string | null;
  description: string | null;
  runbook: string | null;
}

export interface PrometheusRule {
  alert: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PrometheusRuleGroup {
  name: string;
  interval?: string;
  rules: PrometheusRule[];
}

export interface PrometheusExport {
  groups: PrometheusRuleGroup[];
  /** Rules with no Prometheus equivalent, and why. */
  skipped: { alert: string; reason: string }[];
}

const ZERO = /^0+(ms|s|m|h|d|w|y)?$/;

/** A PromQL string literal (double quotes, backslash escapes). */
function quoted(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function prometheusRules(stack: string, rules: readonly ExportableRule[]): PrometheusExport {
  const groups = new Map<string, PrometheusRuleGroup>();
  const skipped: PrometheusExport['skipped'] = [];
  for (const r of rules) {
    let expr: string;
    let interval: string | undefined;
    if (r.expr !== null) {
      expr = r.expr;
      interval = r.interval;
    } else if (r.check !== null) {
      expr = `${CHECK_METRICS.up}{check=${quoted(r.check)}} == 0`;
    } else if (r.logsService) {
      skipped.push({
        alert: r.name,
        reason: `log rules count lines of ${r.logsService}'s log, which Prometheus has no series for (Loki's ruler does this in a Prometheus setup)`,
      });
      continue;
    } else {
      skipped.push({
        alert: r.name,
        reason: `event rules (${r.event ?? 'unknown'}) come from the daemon's own events, which Prometheus has no series for`,
      });
      continue;
    }
    const annotations: Record<string, string> = {};
    if (r.summary !== null) annotations.summary = r.summary;
    if (r.description !== null) annotations.description = r.description;
    if (r.runbook !== null) annotations.runbook_url = r.runbook;
    const rule: PrometheusRule = {
      alert: r.name,
      expr,
      ...(ZERO.test(r.for) ? {} : { for: r.for }),
      ...(ZERO.test(r.keepFiringFor) ? {} : { keep_firing_for: r.keepFiringFor }),
      labels: { ...r.labels, severity: r.severity },
      ...(Object.keys(annotations).length ? { annotations } : {}),
    };
    const key = interval ?? '';
    let g = groups.get(key);
    if (!g) {
      g = { name: interval ? `${stack}-every-${interval}` : stack, ...(interval ? { interval } : {}), rules: [] };
      groups.set(key, g);
    }
    g.rules.push(rule);
  }
  return { groups: [...groups.values()], skipped };
}
