/** What `status` reports: services, their instances, and the daemon when one runs. */
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
  /** Where state lives and how much room is left; `full` means changes are refused. */
  storage: { stateDir: string; freeBytes: number | null; full: boolean };
  /** Present when a daemon answered; absent when the CLI read the state itself. */
  daemon: { pid: number; startedAt: string; url: string; rssBytes: number } | null;
}
