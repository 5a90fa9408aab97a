/**
 * Postmortem drafts written from an incident's timeline, and the response figures (time to
 * acknowledge, time to resolve) per service and month. The draft fills in what the record knows
 * and leaves root cause, impact in words and lessons to the people who were there.
 */
import type { ActionItem, IncidentEvent, IncidentRow } from '../store/store.js';

export interface ChangeInWindow {
  at: string;
  /** e.g. `deploy web v7 (applied) by ana: "fix pool size"`. */
  text: string;
}

function minutes(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}

function between(a: string | null, b: string | null): number | undefined {
  return a && b ? Date.parse(b) - Date.parse(a) : undefined;
}

/** Markdown table cells cannot hold a bare pipe or a newline. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function postmortemMarkdown(
  inc: IncidentRow,
  timeline: readonly IncidentEvent[],
  changes: readonly ChangeInWindow[],
  actionItems: readonly ActionItem[],
): string {
  const firstAlert = timeline.find((e) => e.kind === 'alert');
  const firstPage = timeline.find((e) => e.kind === 'notified');
  const tta = between(inc.createdAt, inc.ackedAt);
  const ttr = between(inc.createdAt, inc.resolvedAt);
  const out: string[] = [];
  out.push(`# Postmortem: incident #${inc.id}: ${inc.title}`, '');
  out.push('_Draft written by Groundwork from the incident record. Complete the sections marked TODO._', '');
  out.push('## Summary', '');
  out.push(`- Service: ${inc.service ?? '(none)'}`);
  out.push(`- Severity: ${inc.severity}`);
  out.push(`- Status: ${inc.status}${inc.resolvedBy ? ` (resolved by ${inc.resolvedBy})` : ''}`);
  out.push(
    `- Impact window: ${inc.createdAt} to ${inc.resolvedAt ?? 'ongoing'}${ttr !== undefined ? ` (${minutes(ttr)})` : ''}`,
  );
  out.push(`- Detected: ${firstAlert ? `${firstAlert.at} by an alert (${firstAlert.text})` : inc.createdAt}`);
  out.push(`- First page: ${firstPage ? `${firstPage.at}: ${firstPage.text}` : 'nobody was paged'}`);
  out.push(`- Time to acknowledge: ${tta !== undefined ? `${minutes(tta)} (by ${inc.ackedBy})` : 'not acknowledged'}`);
  out.push(`- Time to resolve: ${ttr !== undefined ? minutes(ttr) : 'not resolved'}`);
  out.push('', '## Impact', '', 'TODO: who noticed what, and for how long.', '');
  out.push('## Changes in the window', '');
  if (changes.length === 0) out.push('No deploy, rollback or apply between the start and the end of the incident.');
  for (const c of changes) out.push(`- ${c.at}: ${c.text}`);
  out.push('', '## Timeline', '', '| time (UTC) | event | by | what |', '|---|---|---|---|');
  for (const e of timeline) out.push(`| ${e.at} | ${e.kind} | ${cell(e.actor)} | ${cell(e.text)} |`);
  out.push('', '## Root cause', '', 'TODO', '', '## What went well, what did not', '', 'TODO', '');
  out.push('## Action items', '');
  if (actionItems.length === 0)
    out.push('- [ ] TODO (add with `groundwork incident action add N -m TEXT --owner NAME --due DATE`)');
  for (const a of actionItems)
    out.push(`- [${a.done ? 'x' : ' '}] ${a.text} (owner: ${a.owner}${a.due ? `, due ${a.due}` : ''})`);
  return out.join('\n') + '\n';
}

export interface IncidentStatsRow {
  service: string;
  /** YYYY-MM of the incident's start. */
  month: string;
  incidents: number;
  acknowledged: number;
  resolved: number;
  /** Mean time to acknowledge and to resolve, in seconds; null when none was. */
  mttaSeconds: number | null;
  mttrSeconds: number | null;
}

export function incidentStats(incidents: readonly IncidentRow[]): IncidentStatsRow[] {
  const groups = new Map<string, IncidentRow[]>();
  for (const i of incidents) {
    const k = `${i.service ?? '(none)'}\u0000${i.createdAt.slice(0, 7)}`;
    groups.set(k, [...(groups.get(k) ?? []), i]);
  }
  const mean = (xs: number[]): number | null =>
    xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length / 1000) : null;
  return [...groups.entries()]
    .map(([k, list]) => {
      const [service, month] = k.split('\u0000') as [string, string];
      const ttas = list.map((i) => between(i.createdAt, i.ackedAt)).filter((x): x is number => x !== undefined);
      const ttrs = list.map((i) => between(i.createdAt, i.resolvedAt)).filter((x): x is number => x !== undefined);
      return {
        service,
        month,
        incidents: list.length,
        acknowledged: ttas.length,
        resolved: ttrs.length,
        mttaSeconds: mean(ttas),
        mttrSeconds: mean(ttrs),
      };
    })
    .sort((a, b) => (a.month === b.month ? a.service.localeCompare(b.service) : a.month < b.month ? -1 : 1));
}
