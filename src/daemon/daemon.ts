/**
 * The daemon: the composition root of a running installation. It opens the installation once,
 * supervises instances, runs the data plane's configuration, and serves the HTTP API, whose
 * routes are thin adapters over core's operations. Stopping it (SIGINT/SIGTERM) leaves services
 * running; a restarted daemon adopts them from recorded state.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Installation } from '../core/installation.js';
import { LocalOperations } from '../core/local-operations.js';
import type { StatusView } from '../core/status.js';
import type { ApplyEvent } from '../engine/apply.js';
import type { Model } from '../model/build-model.js';
import { address, type Address } from '../model/resource.js';
import { tryServiceKind } from '../kinds/registry.js';
import { serviceOutputsOf, serviceSpecOf } from '../kinds/service/service-spec.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { tryProcessStartTicks } from '../runtime/process/proc.js';
import { systemClock, type Clock, type Timers } from '../util/clock.js';
import { CheckRunner } from '../observe/checks/check-runner.js';
import { Alerting } from '../core/alerting.js';
import { Oncall } from '../core/oncall.js';
import { isDiskFull, tryFreeBytes } from '../util/disk-space.js';
import { ApiError } from './api/api-error.js';
import { metricsFileOf } from '../core/metrics-query.js';
import { MetricsDb } from '../observe/tsdb/metrics-db.js';
import { DEFAULT_RETENTION } from '../observe/tsdb/retention.js';
import type { SampleSink } from '../observe/checks/sample-sink.js';
import { runnableChecks } from '../kinds/check/check-targets.js';
import { checkStatusesInStore, checkViews } from '../core/check-statuses.js';
import { DaemonMetrics } from '../core/metrics.js';
import type { Duration } from '../util/duration.js';
import { errorMessage } from '../util/error-message.js';
import { singleFlight } from '../util/single-flight.js';
import type { ResourceRow } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import { apiAccess, createApp } from './api/http-app.js';
import type { ApiEnv } from './api/api-env.js';
import { remoteOf } from './api/middleware/auth.js';
import { dashboard } from '../web/server/dashboard.js';
import { AuditLog } from '../security/audit.js';
import { StackUsers } from '../security/roles-stack-users.js';
import { Tokens } from '../security/tokens.js';
import { daemonInfoFile, tokenFile, type DaemonInfo } from './info.js';
import { LogIndex } from '../observe/log-files.js';
import { daemonRoutes } from './routes.js';
import { Supervisor } from './supervisor.js';
import { StackTraffic } from '../core/traffic.js';

export interface DaemonOptions {
  stackFile: string;
  stateDir: string;
  host: string;
  port: number;
  vars: Record<string, string>;
  env: Record<string, string | undefined>;
  clock: Clock;
  logger: Logger;
  /** Apply the stack at start (default true). */
  applyOnStart: boolean;
  /** The built-in proxy (or another DataPlane); without one, rollouts only replace instances. */
  dataPlane?: DataPlane;
  onApplyEvent?: (e: ApplyEvent) => void;
  /** Timers of the check runner (default the system clock). */
  timers?: Timers;
  /** Where check samples go (groundwork_check_up, _latency_seconds, _tls_days_left); none: not kept. */
  checkSamples?: SampleSink;
  /** How often host, instance, data-plane and daemon metrics are collected (default 15 s). */
  metricsInterval?: Duration;
}

export { daemonInfoFile, tokenFile, type DaemonInfo } from './info.js';

/** Reads the token, creating it (mode 0600) at first start. */
export function ensureToken(stateDir: string): string {
  const file = tokenFile(stateDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o711 });
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** The metrics store's size bound (the oldest data goes first). */
const METRICS_MAX_BYTES = 256 * 1024 * 1024;

/** How long stop() lets API answers in flight finish before it cuts their connections. */
const STOP_GRACE_MS = 2000;

export class Daemon {
  private installation!: Installation;
  private ops!: LocalOperations;
  private server!: http.Server;
  private supervisor!: Supervisor;
  private checks: CheckRunner | undefined;
  /** Statuses the check runner loads and saves, in the checks' rows. */
  private readonly checkStatuses = checkStatusesInStore(
    { updateOutputs: (a, update) => this.installation.store.resources.updateOutputs(a, update) },
    (check, e) => this.opts.logger.log('error', 'could not save a check status', { check, error: errorMessage(e) }),
  );
  /** The notify policy's `external_url`, as last configured (links in notifications). */
  private externalUrl: string | undefined;
  private alerting: Alerting | undefined;
  private oncall: Oncall | undefined;
  private metrics: MetricsDb | undefined;
  private collector: DaemonMetrics | undefined;
  private readonly logIndex = new LogIndex();
  private housekeeping: NodeJS.Timeout | undefined;
  private info!: DaemonInfo;
  private readonly traffic: StackTraffic | undefined;
  /**
   * Pools are pushed only once the supervisor knows which instances are ready: an adopted data
   * plane keeps serving its pools until then, instead of getting empty ones at start.
   */
  private supervising = false;
  /** `down` asked the daemon to exit: the data plane stops with it (else it is only detached). */
  private downRequested = false;
  /** Resolves when the daemon should exit (after `down`). */
  readonly exited: Promise<void>;
  private exit!: () => void;

  constructor(private readonly opts: DaemonOptions) {
    this.exited = new Promise((r) => {
      this.exit = r;
    });
    this.traffic = opts.dataPlane ? new StackTraffic(opts.dataPlane, opts.logger) : undefined;
  }

  get url(): string {
    return this.info.url;
  }

  /** The operations this daemon serves (tests and the composition root call them directly). */
  get operations(): LocalOperations {
    return this.ops;
  }

  async loadModel(vars: Record<string, string>, varEnv: Record<string, string> = {}): Promise<Model> {
    return this.installation.loadModel({ vars, varEnv });
  }

  async start(): Promise<void> {
    const o = this.opts;
    const token = ensureToken(o.stateDir);
    this.installation = Installation.open({
      stackFile: o.stackFile,
      stateDir: o.stateDir,
      env: o.env,
      vars: o.vars,
      clock: o.clock,
      logger: o.logger,
      checkStore: true,
    });
    this.installation.traffic = this.traffic;
    await this.installation.loadModel({}).catch(() => undefined);
    const service = tryServiceKind(this.installation.kinds);
    if (!service) throw new Error('the service kind of this installation is not the built-in one');
    this.supervisor = new Supervisor({
      store: this.installation.store,
      kind: service,
      context: () => this.installation.kindContext(),
      drivers: this.installation.drivers.drivers,
      stack: () => ({ name: this.installation.stack, dir: this.installation.dir }),
      clock: o.clock,
      logger: o.logger,
      publish: (e) => this.installation.bus.publish(e),
      onChange: (a) => this.syncTraffic(a),
    });
    // Samples (check results today) go to the embedded time-series store beside the state, bounded
    // by age (raw 2 days, 1-minute 30 days, 1-hour 2 years) and by size.
    this.metrics = MetricsDb.open({
      path: metricsFileOf(o.stateDir),
      retention: { ...DEFAULT_RETENTION, maxBytes: METRICS_MAX_BYTES },
      timers: o.timers ?? systemClock,
    });
    this.ops = new LocalOperations(this.installation, {
      metrics: this.metrics,
      supervision: this.supervisor,
      afterChange: async () => {
        await this.configureTraffic();
        const rows = await this.installation.store.resources.listResources();
        this.configureChecks(rows);
        this.alerting?.configure(rows);
        await this.oncall?.configure(rows);
        this.collector?.configure(rows);
      },
      logIndex: this.logIndex,
      daemon: () => ({
        pid: process.pid,
        startedAt: this.info.startedAt,
        url: this.info.url,
        rssBytes: process.memoryUsage().rss,
      }),
    });
    await this.configureTraffic();
    try {
      await this.ops.recover((message) => {
        o.logger.log('warn', message);
        o.onApplyEvent?.({ seq: 0, type: 'progress', address: 'recover', message });
      });
    } catch (e) {
      o.logger.log('error', 'recovery at start failed', { error: errorMessage(e) });
    }
    await this.supervisor.start();
    this.supervising = true;
    await this.configureTraffic();
    this.checks = new CheckRunner({
      clock: o.timers ?? systemClock,
      logger: o.logger,
      statuses: this.checkStatuses,
      cwd: this.installation.dir,
      samples: o.checkSamples ?? this.metrics,
      onTransition: (t) =>
        this.installation.bus.publish({
          type: 'check',
          address: `check.${t.check}`,
          check: t.check,
          checkType: t.type,
          from: t.from,
          to: t.to,
          error: t.error,
        }),
    });
    const rows = await this.installation.store.resources.listResources();
    this.configureChecks(rows);
    this.alerting = new Alerting({
      store: this.installation.store,
      bus: this.installation.bus,
      clock: o.timers ?? systemClock,
      logger: o.logger,
      secrets: () => this.installation.secrets,
      daemonUrl: () => (this.info as DaemonInfo | undefined)?.url ?? `http://${o.host}:${o.port}`,
      instances: async () => (await this.ops.supervisedStatus()).services.flatMap((sv) => sv.instances),
      metrics: () => this.metrics,
    });
    this.alerting.configure(rows);
    this.alerting.start();
    // Incidents and escalation: fed by alert transitions on the bus, ticked every second.
    this.oncall = new Oncall({
      store: this.installation.store,
      bus: this.installation.bus,
      clock: o.timers ?? systemClock,
      logger: o.logger,
      stateDir: o.stateDir,
      lock: this.installation.incidentsLock,
      redact: (text) => this.installation.secrets.redactor?.().redact(text) ?? text,
      externalUrl: () => {
        const url = this.externalUrl;
        return typeof url === 'string'
          ? url
          : ((this.info as DaemonInfo | undefined)?.url ?? `http://${o.host}:${o.port}`);
      },
    });
    await this.oncall.configure(rows);
    this.oncall.start();
    const metrics = this.metrics;
    const plane = o.dataPlane;
    this.collector = new DaemonMetrics({
      sink: metrics,
      timers: o.timers ?? systemClock,
      logger: o.logger,
      ...(o.metricsInterval ? { interval: o.metricsInterval } : {}),
      instances: () => this.supervisor.view(),
      ...(plane ? { traffic: () => plane.refreshMetrics?.() ?? Promise.resolve(plane.metrics()) } : {}),
      checks: async () => checkViews(await this.installation.store.resources.listResources()),
      storeStats: () => metrics.stats(),
    });
    this.collector.configure(rows);
    this.collector.start();
    const routes = daemonRoutes({
      ops: this.ops,
      ...(o.dataPlane ? { dataPlane: o.dataPlane } : {}),
      leaving: () => this.withdrawInfo(),
      push: (token, report) => this.checks?.push(token, report) ?? false,
      metricsText: () => this.collector?.exposition() ?? Promise.resolve(''),
      exit: () => {
        this.downRequested = true;
        this.exit();
      },
    });
    // Tokens and audit live in the store; people come from the stack file, re-read when it changes.
    const tokens = new Tokens(this.installation.store.tokens, o.clock, new StackUsers(o.stackFile), token);
    const audit = new AuditLog(this.installation.store.audit, o.clock);
    const access = apiAccess(
      (header) => tokens.authenticate(header),
      // A path or reason may carry a secret value a caller typed (a mistaken URL): the log keeps it redacted.
      async (entry) => {
        const r = this.installation.secrets.redactor();
        try {
          await audit.append({
            ...entry,
            path: r.redact(entry.path),
            service: entry.service === null ? null : r.redact(entry.service),
            ...(entry.reason !== undefined ? { reason: r.redact(entry.reason) } : {}),
          });
        } catch (e) {
          // An unrecorded change is refused (fail closed); on a full disk, say so as the operations do.
          if (!isDiskFull(e)) throw e;
          throw new ApiError(
            503,
            'unavailable',
            `the disk holding ${o.stateDir} is full: ${tryFreeBytes(o.stateDir) ?? 'unknown'} bytes free; the change cannot be recorded in the audit log, so nothing was changed`,
            'free space on that disk, or move the state with --state-dir; running services are still supervised',
          );
        }
      },
    );
    // The dashboard: its login checks a token as the API does; a refused login is audited alike.
    const ui = dashboard<ApiEnv>({
      authenticate: (h) => tokens.authenticate(h),
      record: access.record,
      remote: remoteOf,
    });
    this.server = http.createServer(
      createApp(routes, access, o.logger, () => this.installation.secrets.redactor(), ui),
    );
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(o.port, o.host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.info = {
      pid: process.pid,
      startTicks: tryProcessStartTicks(process.pid),
      url: `http://${host}:${a.port}`,
      startedAt: o.clock.now().toISOString(),
      stackFile: o.stackFile,
    };
    writeFileSync(daemonInfoFile(o.stateDir), `${JSON.stringify(this.info, null, 2)}\n`, { mode: 0o600 });
    this.housekeeping = setInterval(() => this.housekeepingRun.trigger(), 2000);
    this.housekeepingRun.trigger();
    if (o.applyOnStart) {
      try {
        await this.ops.apply({ message: 'groundwork up', author: 'daemon' }, { onEvent: (e) => o.onApplyEvent?.(e) });
      } catch (e) {
        o.logger.log('error', 'apply at start failed', { error: errorMessage(e) });
        o.onApplyEvent?.({
          seq: 0,
          type: 'progress',
          address: 'stack',
          message: `apply at start failed: ${errorMessage(e)}`,
        });
      }
    }
  }

  /** Listeners, routes and pools from recorded state. */
  private async configureTraffic(): Promise<void> {
    if (!this.traffic) return;
    const rows = await this.installation.store.resources.listResources();
    for (const r of rows.filter((x) => x.kind === 'service'))
      this.traffic.setServicePorts(r.address.slice(8), Object.keys(serviceSpecOf(r).ports));
    try {
      await this.traffic.configure(rows);
    } catch (e) {
      this.opts.logger.log('error', 'could not configure the proxy', { error: errorMessage(e) });
      this.opts.onApplyEvent?.({
        seq: 0,
        type: 'progress',
        address: 'proxy',
        message: `could not configure the proxy: ${errorMessage(e)}`,
      });
    }
    for (const r of rows.filter((x) => x.kind === 'service')) this.syncTraffic(r.address);
  }

  /**
   * The check runner runs what state records. The rows are also what the checks' saved statuses
   * load from, and where notifications' external URL comes from (both read synchronously).
   */
  private configureChecks(rows: readonly ResourceRow[]): void {
    this.checkStatuses.use(rows);
    const policy = rows.find((r) => r.address === address('notify-policy', 'default'));
    const url = policy?.spec.external_url;
    this.externalUrl = typeof url === 'string' ? url : undefined;
    try {
      this.checks?.configure(runnableChecks(rows));
    } catch (e) {
      this.opts.logger.log('error', 'could not configure the checks', { error: errorMessage(e) });
    }
  }

  private syncTraffic(a: Address): void {
    if (!this.traffic || !this.supervising) return;
    this.traffic.sync(a.slice('service.'.length), this.supervisor.readyInstances(a));
  }

  /** Housekeeping reads the store: a tick while a run still waits on it books one more run. */
  private readonly housekeepingRun = singleFlight(
    () => this.houseKeep(),
    (e) => this.opts.logger.log('error', 'housekeeping failed', { error: errorMessage(e) }),
  );

  private async houseKeep(): Promise<void> {
    const now = this.opts.clock.now().getTime();
    void this.ops
      .expireStandby()
      .catch((e: unknown) =>
        this.opts.logger.log('error', 'could not stop an expired standby set', { error: errorMessage(e) }),
      );
    for (const row of await this.installation.store.resources.listResources()) {
      if (row.kind !== 'service') continue;
      if (serviceSpecOf(row).runtime !== 'process') continue;
      // Each instance's log writer rotates its log (runtime/process/log-writer.ts); only the time index is kept here.
      for (const i of serviceOutputsOf(row).instances) this.logIndex.sample(i.logFile, now);
    }
  }

  /** Stops the daemon; services keep running. */
  async stop(): Promise<void> {
    if (this.housekeeping) clearInterval(this.housekeeping);
    await this.housekeepingRun.idle();
    this.checks?.stop();
    await this.oncall?.stop();
    await this.alerting?.stop();
    await this.collector?.stop();
    this.metrics?.close();
    this.supervisor?.close();
    // A data plane in its own process keeps serving through a daemon restart; `down` stops it.
    const plane = this.opts.dataPlane;
    if (plane?.detach && !this.downRequested) await plane.detach().catch(() => undefined);
    else await plane?.close().catch(() => undefined);
    // A daemon that failed to start has no server: nothing to wait for (waiting hung `up` before).
    const server = this.server as http.Server | undefined;
    // Answers in flight (the `down` that asked for this stop) finish first; a follow stream that
    // never ends is cut after a grace period.
    if (server)
      await new Promise<void>((r) => {
        const force = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          r();
        });
        server.closeIdleConnections();
      });
    await this.ops?.idle();
    // Bus subscribers that write to the store (the event log) finish before the store closes.
    await this.installation?.bus.drain();
    this.withdrawInfo();
    await this.installation?.close();
  }

  /** Removes daemon.json if it is ours, so clients stop finding this daemon. */
  private withdrawInfo(): void {
    try {
      const cur = JSON.parse(readFileSync(daemonInfoFile(this.opts.stateDir), 'utf8')) as DaemonInfo;
      if (cur.pid === process.pid) rmSync(daemonInfoFile(this.opts.stateDir), { force: true });
    } catch {
      /* already gone */
    }
  }

  status(): Promise<StatusView> {
    return this.ops.supervisedStatus();
  }
}
