/**
 * The API answers the routes, checks, metrics pages and the live service page read, beside
 * api-types.ts (kept apart so two people can add pages without editing one file);
 * test/web/explore-types.test.ts holds each assignable from the contract's own (schemas.ts).
 */

export interface ListenerView {
  name: string;
  protocol: string;
  tls: boolean;
  address: string;
  state: 'bound' | 'failed' | 'not-served';
  error: string | null;
  retryAt: string | null;
  service: string | null;
}

export interface RouteView {
  id: string;
  host: string | null;
  path: string;
  listener: string | null;
  service: string;
  port: string;
  readyBackends: number;
  instances: number;
}

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

/** The part of GET /v1/status these pages read. */
export interface TrafficStatus {
  stack: string;
  listeners: ListenerView[];
  routes: RouteView[];
  checks: CheckView[];
}

export interface DnsRecordView {
  name: string;
  type: string;
  ttl: number;
  value: string;
  origin: 'declared' | 'service';
}

export interface CertificateView {
  listener: string;
  hosts: string[];
  source: string;
  notAfter: string | null;
  renewAt: string | null;
  error: string | null;
}

/** GET /v1/network. */
export interface Network {
  dns: { zone: string; listen: string; records: DnsRecordView[]; problems: string[] } | null;
  certificates: CertificateView[];
}

/** One event of GET /v1/events/stream (server-sent events). */
export type StreamEvent =
  | { seq: number; at: string; type: 'instance'; service: string; instance: string; state: string; reason: string }
  | {
      seq: number;
      at: string;
      type: 'release';
      service: string;
      release: number | null;
      phase: 'started' | 'finished' | 'failed' | 'rolled-back';
      detail: string;
    }
  | {
      seq: number;
      at: string;
      type: 'progress';
      service: string;
      operation: 'deploy' | 'rollback' | 'restart';
      message: string;
      outcome: 'ok' | 'failed' | null;
    }
  | { seq: number; at: string; type: 'change'; changeId: number | null; kind: string; outcome: string; author: string }
  | { type: 'error'; error: { code: string; message: string } };
