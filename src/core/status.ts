/** What `status` reports: services, their instances, listeners and routes, and the daemon when one runs. */
import { readListenerStatus } from '../proxy/process/listener-status-file.js';

export const INSTANCE_STATES = [
  'starting',
  'healthy',
  'unhealthy',
  'crashloop',
  'stopped',
  'exited',
  'running',
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

export interface InstanceView {
  service: string;
  index: number;
  id: string | null;
  pid: number | null;
  /** Supervised instances go through starting → healthy/unhealthy/crashloop; without a daemon an
   *  instance is only `running` or `exited` (nobody probes it). */
  state: InstanceState;
  reason: string;
  since: string;
  startedAt: string | null;
  restarts: number;
  ports: Record<string, number>;
  ready: boolean;
  lastProbe: string | null;
  limits: string | null;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  /** Lines its log writer dropped over the service's log rate limit (process instances; null: none known). */
  logDroppedLines: number | null;
}

export interface ServiceStatus {
  name: string;
  replicas: number;
  runtime: string;
  restart: string;
  strategy: string;
  release: number | null;
  standby: { release: number | null; until: string; instances: number } | null;
  /** The stable address callers use (served by the data plane); null for services without one. */
  address: { host: string; ports: Record<string, number> } | null;
  instances: InstanceView[];
}

/** A check's latest verdict (observe/checks/check-status.ts), as recorded in state. */
export interface CheckView {
  name: string;
  type: string;
  state: 'pending' | 'up' | 'down';
  since: string | null;
  lastRunAt: string | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  tlsDaysLeft: number | null;
  lastPingAt: string | null;
}

export interface StatusView {
  stack: string;
  serial: number;
  services: ServiceStatus[];
  /** Checks of the stack, with their last recorded verdict (the daemon runs them). */
  checks: CheckView[];
  /** The stack's listeners (and failing service-address listeners) as the data plane serves them. */
  listeners: ListenerView[];
  routes: RouteView[];
  /** Where state lives and how much room is left; `full` means changes are refused. */
  storage: { stateDir: string; freeBytes: number | null; full: boolean };
  /** Present when a daemon answered; absent when the CLI read the state itself. */
  daemon: { pid: number; startedAt: string; url: string; rssBytes: number } | null;
}

/** A listener of the stack as the data plane serves it. */
export interface ListenerView {
  name: string;
  protocol: 'http' | 'tcp';
  tls: boolean;
  /** Declared `address:port`. */
  address: string;
  /**
   * bound: accepting connections; failed: could not bind and is retried (see `error`);
   * not-served: no data plane runs, or it has not been given this listener yet.
   */
  state: 'bound' | 'failed' | 'not-served';
  error: string | null;
  /** When the data plane tries to bind a failed listener again. */
  retryAt: string | null;
  /** TCP listeners forward to a service port. */
  service: string | null;
}

/** A route: what it matches, where it sends it, and how many instances are there to take it. */
export interface RouteView {
  id: string;
  host: string | null;
  path: string;
  listener: string | null;
  service: string;
  port: string;
  /** Instances of the service in its pool now (ready), and all its instances. */
  readyBackends: number;
  instances: number;
}

interface RecordedRow {
  address: string;
  kind: string;
  spec: Record<string, unknown>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Listeners and routes from recorded state, with what the data-plane process last reported about
 * its listeners (its file in the state directory) when that process is still alive. Service
 * address listeners show only when they fail: the service lines already show where they are.
 */
export function trafficViews(
  rows: readonly RecordedRow[],
  services: readonly ServiceStatus[],
  stateDir: string,
): { listeners: ListenerView[]; routes: RouteView[] } {
  const reported = readListenerStatus(stateDir);
  const served = reported !== null && pidAlive(reported.pid) ? reported.listeners : [];
  const byName = new Map(served.map((l) => [l.name, l]));
  const listeners: ListenerView[] = [];
  for (const r of rows.filter((x) => x.kind === 'listener')) {
    const name = r.address.slice('listener.'.length);
    const s = r.spec as {
      port: number;
      address: string;
      protocol: 'http' | 'tcp';
      service: string | null;
      tls?: unknown;
    };
    const seen = byName.get(name);
    listeners.push({
      name,
      protocol: s.protocol,
      tls: s.tls !== undefined && s.tls !== null,
      address: `${s.address}:${s.port}`,
      state: seen?.state ?? 'not-served',
      error: seen?.state === 'failed' ? seen.error : null,
      retryAt: seen?.state === 'failed' ? seen.retryAt : null,
      service: s.service ?? null,
    });
  }
  for (const l of served) {
    if (l.state !== 'failed' || !l.name.startsWith('service.')) continue;
    listeners.push({
      name: l.name,
      protocol: l.protocol,
      tls: l.tls,
      address: `${l.host}:${l.port}`,
      state: 'failed',
      error: l.error,
      retryAt: l.retryAt,
      service: l.name.slice('service.'.length).split(':')[0] ?? null,
    });
  }
  const routes: RouteView[] = rows
    .filter((x) => x.kind === 'route')
    .map((r) => {
      const s = r.spec as { host: string | null; path: string; service: string; port: string; listener: string | null };
      const svc = services.find((x) => x.name === s.service);
      const withPort = (svc?.instances ?? []).filter((i) => Object.keys(i.ports).length === 0 || s.port in i.ports);
      return {
        id: r.address,
        host: s.host ?? null,
        path: s.path ?? '/',
        listener: s.listener ?? null,
        service: s.service,
        port: s.port,
        readyBackends: withPort.filter((i) => i.ready).length,
        instances: withPort.length,
      };
    });
  return { listeners, routes };
}
