import type { PromAnswer } from '../../core/metrics-query.js';
import type { Operations } from '../../core/operations.js';
import type { StatusView } from '../../core/status.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT } from '../io.js';
import { openOps } from '../open-ops.js';
import { colourEnabled, makeStyle } from '../style.js';
import { renderChecks } from './checks.js';
import { sparkline } from './query.js';
import { daysLeft, readCertificateStatus } from '../../tls/certificate-status.js';

function uptime(since: string | null, now: number): string {
  if (!since) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** The window of the traffic sparklines, and the step between their points (31 points). */
const TRAFFIC_WINDOW_S = 15 * 60;
const TRAFFIC_STEP_S = 30;

/** One service's request rate and p95 latency over the traffic window, oldest first (NaN: no data). */
export interface ServiceTraffic {
  service: string;
  rate: number[];
  p95Seconds: number[];
}

const TRAFFIC_QUERIES = {
  rate: 'sum by (service) (rate(groundwork_service_requests_total[1m]))',
  p95: 'histogram_quantile(0.95, sum by (service, le) (rate(groundwork_service_request_duration_seconds_bucket[1m])))',
} as const;

/** Points of each series of a range answer, keyed by its `service` label, on the window's steps. */
function pointsByService(answer: PromAnswer, startS: number, points: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const body = answer.body;
  if (answer.status !== 200 || body.status !== 'success' || body.data.resultType !== 'matrix') return out;
  for (const s of body.data.result) {
    const service = s.metric.service;
    if (!service) continue;
    const values = new Array<number>(points).fill(NaN);
    for (const [t, v] of s.values) {
      const i = Math.round((t - startS) / TRAFFIC_STEP_S);
      if (i >= 0 && i < points) values[i] = Number(v);
    }
    out.set(service, values);
  }
  return out;
}

/**
 * Request rate and p95 latency per service over the last 15 minutes, from the metrics store (the
 * daemon's, or the file when no daemon runs), `services` first in their order. Services without
 * requests in the window are left out;
 * a store that cannot answer gives an empty list, since the rest of `status` stands without it.
 */
export async function readTraffic(
  ops: Operations,
  services: readonly string[],
  nowMs: number,
): Promise<ServiceTraffic[]> {
  const endS = Math.floor(nowMs / 1000 / TRAFFIC_STEP_S) * TRAFFIC_STEP_S;
  const startS = endS - TRAFFIC_WINDOW_S;
  const points = TRAFFIC_WINDOW_S / TRAFFIC_STEP_S + 1;
  const params = (query: string) => ({ query, start: String(startS), end: String(endS), step: String(TRAFFIC_STEP_S) });
  const [rate, p95] = await Promise.all([
    ops.promQuery('query_range', params(TRAFFIC_QUERIES.rate)),
    ops.promQuery('query_range', params(TRAFFIC_QUERIES.p95)),
  ]);
  const rates = pointsByService(rate, startS, points);
  const p95s = pointsByService(p95, startS, points);
  const out: ServiceTraffic[] = [];
  // The stack's services in their order, then any other service the store saw in the window.
  const names = [...services, ...[...rates.keys()].filter((n) => !services.includes(n)).sort()];
  for (const service of names) {
    const r = rates.get(service);
    if (!r || !r.some((v) => v > 0)) continue;
    out.push({ service, rate: r, p95Seconds: p95s.get(service) ?? new Array<number>(points).fill(NaN) });
  }
  return out;
}

function lastFinite(values: readonly number[]): number | undefined {
  for (let i = values.length - 1; i >= 0; i--) if (Number.isFinite(values[i])) return values[i];
  return undefined;
}

function formatRate(v: number | undefined): string {
  if (v === undefined) return '-';
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}/s`;
}

function formatLatency(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  const ms = seconds * 1000;
  return `${ms >= 10 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}

/**
 * The TRAFFIC section: per service the latest request rate and p95 latency, each with a
 * sparkline of the last 15 minutes (one character per 30 s step). Empty when no service had
 * requests. Sparklines are characters, not colour, so NO_COLOR keeps them; a pipe or --json
 * does not get them (the caller decides).
 */
export function renderTraffic(traffic: readonly ServiceTraffic[]): string[] {
  if (traffic.length === 0) return [];
  const lines = [`${'TRAFFIC (15 min)'.padEnd(22)}${'REQUESTS'.padEnd(12)}${''.padEnd(33)}P95`];
  for (const t of traffic) {
    lines.push(
      `${t.service.padEnd(22)}${formatRate(lastFinite(t.rate)).padEnd(12)}${sparkline(t.rate).padEnd(33)}${formatLatency(lastFinite(t.p95Seconds)).padEnd(10)}${sparkline(t.p95Seconds)}`.trimEnd(),
    );
  }
  return lines;
}

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'Services and instances: state, pid, uptime, restarts, health, ports; listeners, routes and checks',
  usage: 'status [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    let s: StatusView;
    let traffic: ServiceTraffic[] = [];
    try {
      s = await ops.status();
      // Sparklines are for a person at a terminal; scripts get the numbers from `query --json`.
      if (io.isTty && !flags.json) {
        traffic = await readTraffic(
          ops,
          s.services.map((x) => x.name),
          Date.now(),
        ).catch(() => []);
      }
    } finally {
      await close();
    }
    // Written by the data plane that serves them (src/tls/certificate-status.ts), so it shows with or without a daemon.
    const tls = readCertificateStatus(s.storage.stateDir);
    if (flags.json) {
      io.stdout(`${JSON.stringify({ ...s, certificates: tls?.certificates ?? [] }, null, 2)}\n`);
      return EXIT.ok;
    }
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const now = Date.now();
    const lines = [
      `stack ${s.stack} (state serial ${s.serial}; ${s.daemon ? `daemon pid ${s.daemon.pid}, ${(s.daemon.rssBytes / 1024 / 1024).toFixed(0)} MiB, up ${uptime(s.daemon.startedAt, now)}` : 'no daemon runs: nothing is supervised; start it with `groundwork up`'})`,
      '',
    ];
    if (s.storage.full)
      lines.push(
        style.red(
          `The disk holding ${s.storage.stateDir} is full (${s.storage.freeBytes ?? 0} bytes free): changes are refused until space is freed; services are still supervised.`,
        ),
        '',
      );
    lines.push(
      `${'INSTANCE'.padEnd(22)}${'STATE'.padEnd(11)}${'PID'.padEnd(8)}${'UPTIME'.padEnd(9)}${'RESTARTS'.padEnd(10)}${'PORTS'.padEnd(18)}REASON`,
    );
    for (const svc of s.services) {
      const address = svc.address
        ? `; address ${Object.entries(svc.address.ports)
            .map(([k, v]) => `${k} ${svc.address?.host}:${v}`)
            .join(', ')}`
        : '';
      if (svc.release !== null || svc.standby || address)
        lines.push(
          style.dim(
            `# ${svc.name}: release v${svc.release ?? '-'} (${svc.strategy})${svc.standby ? `; standby v${svc.standby.release ?? '-'} (${svc.standby.instances} warm until ${svc.standby.until.slice(11, 19)})` : ''}${address}`,
          ),
        );
      if (svc.instances.length === 0)
        lines.push(
          `${`${svc.name}/-`.padEnd(22)}${style.dim('stopped'.padEnd(11))}${'-'.padEnd(8)}${'-'.padEnd(9)}${'0'.padEnd(10)}${'-'.padEnd(18)}no instances running (replicas: ${svc.replicas})`,
        );
      for (const i of svc.instances) {
        const colour = i.state === 'healthy' ? style.green : i.state === 'starting' ? style.yellow : style.red;
        const ports =
          Object.entries(i.ports)
            .map(([k, v]) => `${k}:${v}`)
            .join(',') || '-';
        lines.push(
          `${`${svc.name}/${i.index}`.padEnd(22)}${colour(i.state.padEnd(10))} ${String(i.pid ?? '-').padEnd(8)}${uptime(i.startedAt, now).padEnd(9)}${String(i.restarts).padEnd(10)}${ports.padEnd(18)}${i.reason}${i.limits && i.limits !== 'none requested' ? style.dim(` [limits: ${i.limits}]`) : ''}${i.logDroppedLines ? style.yellow(` [${i.logDroppedLines} log lines dropped over the rate limit]`) : ''}`,
        );
      }
    }
    if (s.listeners.length) {
      lines.push('', `${'LISTENER'.padEnd(22)}${'ADDRESS'.padEnd(22)}${'STATE'.padEnd(12)}DETAIL`);
      for (const l of s.listeners) {
        const state =
          l.state === 'bound'
            ? style.green('bound'.padEnd(12))
            : l.state === 'failed'
              ? style.red('failed'.padEnd(12))
              : style.yellow('not served'.padEnd(12));
        const detail =
          l.state === 'failed'
            ? `${l.error ?? ''}${l.retryAt ? `; retried at ${l.retryAt.slice(11, 19)}` : ''}`
            : l.state === 'not-served'
              ? 'no data plane serves it: start the daemon with `groundwork up`'
              : `${l.protocol}${l.tls ? ' (tls)' : ''}${l.service ? ` → ${l.service}` : ''}`;
        lines.push(`${l.name.padEnd(22)}${l.address.padEnd(22)}${state}${detail}`);
      }
    }
    if (s.routes.length) {
      lines.push('', `${'ROUTE'.padEnd(10)}${'MATCH'.padEnd(34)}${'SERVICE'.padEnd(18)}READY BACKENDS`);
      for (const r of s.routes) {
        const match = `${r.host ?? '*'}${r.path}${r.listener ? ` on ${r.listener}` : ''}`;
        const ready = `${r.readyBackends}/${r.instances}`;
        lines.push(
          `${r.id.replace(/^route\./, '').padEnd(10)}${match.padEnd(34)}${`${r.service}:${r.port}`.padEnd(18)}${r.readyBackends === 0 ? style.red(`${ready} (requests get 503)`) : ready}`,
        );
      }
    }
    const trafficLines = renderTraffic(traffic);
    if (trafficLines.length) lines.push('', ...trafficLines);
    const checks = renderChecks(s.checks, style, now);
    if (checks.length) lines.push('', ...checks);
    if (tls && tls.certificates.length) {
      lines.push('', `${'CERTIFICATE'.padEnd(34)}${'LISTENER'.padEnd(14)}${'SOURCE'.padEnd(10)}EXPIRES`);
      for (const c of tls.certificates) {
        const left = c.notAfter === null ? null : daysLeft(c.notAfter, new Date(now));
        const expires =
          c.notAfter === null
            ? style.red('not obtained yet')
            : (left as number) < 7
              ? style.red(`${c.notAfter} (${left} days left)`)
              : `${c.notAfter} (${left} days left${c.renewAt ? `; renewed from ${c.renewAt.slice(0, 10)}` : ''})`;
        lines.push(
          `${c.hosts.join(',').padEnd(34)}${c.listener.padEnd(14)}${c.source.padEnd(10)}${expires}${c.error ? style.red(` error: ${c.error}`) : ''}`,
        );
      }
    }
    io.stdout(`${lines.join('\n')}\n`);
    return EXIT.ok;
  },
});
