/**
 * The daemon owns the runtime: it hosts the engine (plan/apply), supervises instances, and
 * serves the HTTP API that the CLI uses. Stopping it (SIGINT/SIGTERM) leaves services running;
 * a restarted daemon adopts them from recorded state.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadStack } from '../config/load.js';
import { applyPlan, type ApplyEvent, type ApplyResult } from '../engine/apply.js';
import { withLease } from '../engine/lock.js';
import { makePlan, type Plan } from '../engine/plan.js';
import { refresh } from '../engine/refresh.js';
import { buildModel, type Model } from '../model/build-model.js';
import { address as addr, type Address } from '../model/resource.js';
import { defaultKinds, type KindRegistry } from '../kinds/registry.js';
import type { KindContext } from '../kinds/resource-kind.js';
import { PortAllocator, portRangeOf, recordedPorts } from '../kinds/service/port-allocator.js';
import type { ServiceKind } from '../kinds/service/service-kind.js';
import { asServiceOutputs, asServiceSpec } from '../kinds/service/service-spec.js';
import type { ProcessDriver } from '../runtime/process/process-driver.js';
import { makeDrivers, type Drivers } from '../runtime/drivers.js';
import { EnvFileSecretSource } from '../security/secret-source.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { Duration } from '../util/duration.js';
import type { Logger } from '../util/logger.js';
import { ApiError, createApp, type Route } from './api/http-app.js';
import { openApiDocument } from './api/openapi.js';
import {
  ApplyRequest,
  DeployRequest,
  DownRequest,
  PlanRequest,
  RestartRequest,
  RollbackRequest,
  StatusResponse,
  type DownRequest as DownBody,
  type ApplyRequest as ApplyBody,
  type PlanRequest as PlanBody,
  type DeployRequest as DeployBody,
  type RollbackRequest as RollbackBody,
} from './api/schemas.js';
import { DEFAULT_ROTATION, LogIndex, readFrom, rotateIfLarge, type RotationSettings } from './log-files.js';
import { Supervisor, type InstanceView } from './supervisor.js';
import { DaemonTraffic } from './traffic.js';
import type { DataPlane } from '../proxy/data-plane.js';
import { Deployer, UnknownServiceError } from '../deploy/deployer.js';
import { handleOf } from '../kinds/service/service-kind.js';
import { toJson, type InstanceOutput } from '../kinds/service/service-spec.js';
import { tryProcessStartTicks } from '../runtime/process/proc.js';
import { stalePlanReason } from '../engine/stale-plan.js';
import { planShapeProblem } from '../engine/plan-schema.js';

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
  rotation?: RotationSettings;
  /** The built-in proxy (or another DataPlane); without one, rollouts only replace instances. */
  dataPlane?: DataPlane;
  onApplyEvent?: (e: ApplyEvent) => void;
}

export interface DaemonInfo {
  pid: number;
  startTicks?: number;
  url: string;
  startedAt: string;
  stackFile: string;
}

export function daemonInfoFile(stateDir: string): string {
  return path.join(stateDir, 'daemon.json');
}
export function tokenFile(stateDir: string): string {
  return path.join(stateDir, 'daemon.token');
}

/** Reads the token, creating it (mode 0600) at first start. */
export function ensureToken(stateDir: string): string {
  const file = tokenFile(stateDir);
  mkdirSync(stateDir, { recursive: true });
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export class Daemon {
  private store!: Store;
  private server!: http.Server;
  private supervisor!: Supervisor;
  private readonly kinds: KindRegistry = defaultKinds();
  private readonly driver: ProcessDriver;
  private readonly drivers: Drivers;
  private readonly logIndex = new LogIndex();
  private housekeeping: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private info!: DaemonInfo;
  private readonly traffic: DaemonTraffic | undefined;
  private deployer!: Deployer;
  private stack = '';
  private stackDir = '';
  /** Resolves when the daemon should exit (after `down`). */
  readonly exited: Promise<void>;
  private exit!: () => void;

  constructor(private readonly opts: DaemonOptions) {
    this.drivers = makeDrivers(opts.stateDir, opts.env);
    this.driver = this.drivers.process;
    this.exited = new Promise((r) => {
      this.exit = r;
    });
    this.traffic = opts.dataPlane ? new DaemonTraffic(opts.dataPlane) : undefined;
  }

  get url(): string {
    return this.info.url;
  }

  /** One engine operation at a time inside the daemon; the lease guards against other processes. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private baseContext(): Omit<KindContext, 'outputsOf' | 'progress' | 'ports'> {
    return {
      stack: this.stack,
      dir: this.stackDir,
      stateDir: this.opts.stateDir,
      drivers: this.drivers.drivers,
      cluster: this.drivers.cluster,
      secrets: new EnvFileSecretSource(this.opts.env, path.join(this.opts.stateDir, 'secrets')),
      clock: this.opts.clock,
      logger: this.opts.logger,
      releases: this.store,
      traffic: this.traffic,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
  }

  private restartContext(): KindContext {
    const rows = this.store.listResources();
    return {
      ...this.baseContext(),
      ports: new PortAllocator(recordedPorts(rows), portRangeOf(this.opts.env)),
      outputsOf: (a) => this.store.tryGetResource(a)?.outputs,
      progress: () => undefined,
    };
  }

  async loadModel(vars: Record<string, string>, varEnv: Record<string, string> = {}): Promise<Model> {
    const loaded = await loadStack(this.opts.stackFile);
    if (!loaded.config) {
      throw new ApiError(
        422,
        'invalid-stack',
        `the stack file has ${loaded.diagnostics.length} problem(s):\n${loaded.diagnostics.map(formatDiagnostic).join('\n')}`,
        'run `groundwork validate` and fix the stack file',
      );
    }
    const { model, diagnostics } = buildModel(
      loaded.config,
      { dir: loaded.dir, configHash: loaded.configHash, file: loaded.file },
      { cli: { ...this.opts.vars, ...vars }, env: { ...this.opts.env, ...varEnv } },
    );
    if (!model)
      throw new ApiError(422, 'invalid-stack', diagnostics.map((d) => d.message).join('; '), diagnostics[0]?.fix);
    this.stack = model.stack;
    this.stackDir = model.dir;
    return model;
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.stateDir, { recursive: true });
    this.store = SqliteStore.open(path.join(this.opts.stateDir, 'state.db'), this.opts.clock);
    const token = ensureToken(this.opts.stateDir);
    const loaded = await loadStack(this.opts.stackFile);
    this.stack = loaded.config?.stack ?? path.basename(path.dirname(this.opts.stackFile));
    this.stackDir = loaded.dir;
    this.supervisor = new Supervisor({
      store: this.store,
      kind: this.kinds.service as ServiceKind,
      context: () => this.restartContext(),
      drivers: this.drivers.drivers,
      stack: () => ({ name: this.stack, dir: this.stackDir }),
      clock: this.opts.clock,
      logger: this.opts.logger,
      onChange: (a) => this.syncTraffic(a),
    });
    this.deployer = new Deployer({
      store: this.store,
      kind: this.kinds.service as ServiceKind,
      stateDir: this.opts.stateDir,
      context: (progress) => ({ ...this.restartContext(), progress: (_a, m) => progress(m) }),
      hooks: { beforeStep: (a) => this.supervisor.pause(a), afterStep: (a) => this.supervisor.resume(a) },
    });
    await this.configureTraffic();
    this.supervisor.start();
    this.server = http.createServer(createApp(this.routes(), token, this.opts.logger));
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.info = {
      pid: process.pid,
      startTicks: tryProcessStartTicks(process.pid),
      url: `http://${host}:${a.port}`,
      startedAt: this.opts.clock.now().toISOString(),
      stackFile: this.opts.stackFile,
    };
    writeFileSync(daemonInfoFile(this.opts.stateDir), `${JSON.stringify(this.info, null, 2)}\n`, { mode: 0o600 });
    this.housekeeping = setInterval(() => this.houseKeep(), 2000);
    this.houseKeep();
    if (this.opts.applyOnStart) {
      try {
        await this.apply({ message: 'groundwork up' }, (e) => this.opts.onApplyEvent?.(e));
      } catch (e) {
        this.opts.logger.log('error', 'apply at start failed', { error: (e as Error).message });
        this.opts.onApplyEvent?.({
          seq: 0,
          type: 'progress',
          address: 'stack',
          message: `apply at start failed: ${(e as Error).message}`,
        });
      }
    }
  }

  /** Listeners, routes and pools from recorded state. */
  private async configureTraffic(): Promise<void> {
    if (!this.traffic) return;
    const rows = this.store.listResources();
    for (const r of rows.filter((x) => x.kind === 'service'))
      this.traffic.setServicePorts(r.address.slice(8), Object.keys(asServiceSpec(r.spec).ports));
    try {
      await this.traffic.configure(rows);
    } catch (e) {
      this.opts.logger.log('error', 'could not configure the proxy', { error: (e as Error).message });
      this.opts.onApplyEvent?.({
        seq: 0,
        type: 'progress',
        address: 'proxy',
        message: `could not configure the proxy: ${(e as Error).message}`,
      });
    }
    for (const r of rows.filter((x) => x.kind === 'service')) this.syncTraffic(r.address);
  }

  private syncTraffic(a: Address): void {
    if (!this.traffic || !this.supervisor) return;
    this.traffic.sync(a.slice('service.'.length), this.supervisor.readyInstances(a));
  }

  private houseKeep(): void {
    const now = this.opts.clock.now().getTime();
    this.reapStandby(now);
    for (const row of this.store.listResources()) {
      if (row.kind !== 'service') continue;
      if (asServiceSpec(row.spec).runtime !== 'process') continue;
      for (const i of asServiceOutputs(row.outputs).instances) {
        if (rotateIfLarge(i.logFile, this.opts.rotation ?? DEFAULT_ROTATION))
          this.opts.logger.log('info', 'rotated log', { file: i.logFile });
        this.logIndex.sample(i.logFile, now);
      }
    }
  }

  /** Stops blue-green standby sets whose warm period is over. */
  private reapStandby(now: number): void {
    for (const row of this.store.listResources()) {
      if (row.kind !== 'service') continue;
      const outs = asServiceOutputs(row.outputs);
      if (!outs.standby || Date.parse(outs.standby.until) > now) continue;
      const standby = outs.standby.instances;
      this.store.recordRuntimeOutputs(row.address, toJson({ ...outs, standby: null }));
      const spec = asServiceSpec(row.spec);
      const driver = this.drivers.drivers[spec.runtime];
      if (!driver) continue;
      void this.serial(async () => {
        for (const i of standby) {
          const h = handleOf(i, row.address.slice(8));
          await driver.stop(h, Duration.parse(spec.stop_grace));
          await driver.forget(h);
        }
        this.store.recordEvent({
          address: row.address,
          instance: `${row.address.slice(8)}/standby`,
          type: 'stopped',
          reason: 'blue-green standby period over',
        });
      });
    }
  }

  /** Stops the daemon; services keep running. */
  async stop(): Promise<void> {
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.supervisor?.close();
    await this.opts.dataPlane?.close().catch(() => undefined);
    await new Promise<void>((r) => {
      this.server?.close(() => r());
      this.server?.closeAllConnections?.();
    });
    await this.queue.catch(() => undefined);
    try {
      const cur = JSON.parse(readFileSync(daemonInfoFile(this.opts.stateDir), 'utf8')) as DaemonInfo;
      if (cur.pid === process.pid) rmSync(daemonInfoFile(this.opts.stateDir), { force: true });
    } catch {
      /* already gone */
    }
    this.store?.close();
  }

  async plan(body: PlanBody): Promise<Plan> {
    const model = await this.loadModel(body.vars ?? {}, body.varEnv ?? {});
    return makePlan(model, this.store.listResources(), this.store.serial(), this.kinds);
  }

  apply(
    body: ApplyBody,
    onEvent: (e: ApplyEvent) => void,
    onPlan?: (p: Plan) => void,
  ): Promise<ApplyResult & { plan: Plan }> {
    return this.serial(async () => {
      const model = await this.loadModel(body.vars ?? {}, body.varEnv ?? {});
      return withLease(this.store, 'groundwork daemon apply', async () => {
        let plan: Plan;
        if (body.plan) {
          const problem = planShapeProblem(body.plan);
          if (problem)
            throw new ApiError(
              400,
              'bad-request',
              `the saved plan is malformed: ${problem}`,
              'make a new one with `groundwork plan --out FILE`',
            );
          plan = body.plan as unknown as Plan;
          const stale = stalePlanReason(plan, this.store, model.configHash);
          if (stale) throw new ApiError(409, 'conflict', `refusing the saved plan: ${stale}`);
        } else plan = makePlan(model, this.store.listResources(), this.store.serial(), this.kinds);
        onPlan?.(plan);
        const result = await applyPlan(plan, {
          store: this.store,
          kinds: this.kinds,
          context: this.baseContext(),
          parallelism: body.parallelism ?? 8,
          portRange: portRangeOf(this.opts.env),
          author: body.author ?? 'daemon',
          message: body.message ?? '',
          onEvent,
          hooks: {
            beforeStep: (a) => this.supervisor.pause(a),
            afterStep: (a) => this.supervisor.resume(a),
          },
        });
        await this.configureTraffic();
        return { ...result, plan };
      });
    });
  }

  status() {
    const views = this.supervisor.view();
    const services = this.store
      .listResources()
      .filter((r) => r.kind === 'service')
      .map((r) => {
        const spec = asServiceSpec(r.spec);
        const name = r.address.slice('service.'.length);
        const outs = asServiceOutputs(r.outputs);
        return {
          name,
          replicas: spec.replicas,
          runtime: spec.runtime,
          restart: spec.restart,
          strategy: spec.deploy.strategy,
          release: outs.release?.seq ?? null,
          standby: outs.standby
            ? { release: outs.standby.release, until: outs.standby.until, instances: outs.standby.instances.length }
            : null,
          instances:
            spec.runtime === 'swarm' ? swarmViews(name, outs.instances) : views.filter((v) => v.service === name),
        };
      });
    return {
      stack: this.stack,
      serial: this.store.serial(),
      services,
      daemon: {
        pid: process.pid,
        startedAt: this.info.startedAt,
        url: this.info.url,
        rssBytes: process.memoryUsage().rss,
      },
    };
  }

  private serviceAddress(name: string): Address {
    const a = addr('service', name);
    if (!this.store.tryGetResource(a)) {
      const known = this.store
        .listResources()
        .filter((r) => r.kind === 'service')
        .map((r) => r.address.slice(8));
      throw new ApiError(
        404,
        'not-found',
        `there is no applied service \`${name}\``,
        known.length ? `known services: ${known.join(', ')}` : 'apply the stack first',
      );
    }
    return a;
  }

  private routes(): Route[] {
    const routes: Route[] = [
      {
        method: 'GET',
        path: '/v1/status',
        summary: 'Services and instances with state, pid, uptime, restarts, health, ports',
        response: StatusResponse,
        handler: async () => ({ status: 200, json: this.status() }),
      },
      {
        method: 'POST',
        path: '/v1/plan',
        summary: 'Plan the stack file against recorded state',
        body: PlanRequest,
        handler: async (ctx) => ({ status: 200, json: await this.plan(ctx.body as PlanBody) }),
      },
      {
        method: 'POST',
        path: '/v1/apply',
        summary: 'Apply the stack file (or a saved plan); streams apply events',
        body: ApplyRequest,
        streams: 'ndjson',
        handler: async (ctx) => {
          const result = await this.apply(
            ctx.body as ApplyBody,
            (e) => ctx.stream(e),
            (plan) => ctx.stream({ type: 'plan', plan }),
          );
          ctx.stream({ type: 'result', result: { ...result, plan: undefined } });
          return { streamed: true };
        },
      },
      {
        method: 'POST',
        path: '/v1/refresh',
        summary: 'Read the world and record drift',
        body: PlanRequest,
        handler: async () => ({
          status: 200,
          json: await this.serial(() =>
            refresh(this.store, this.kinds, this.baseContext(), { author: 'daemon', record: true }),
          ),
        }),
      },
      {
        method: 'GET',
        path: '/v1/history',
        summary: 'Recorded changes, newest first',
        handler: async (ctx) => ({
          status: 200,
          json: this.store.listChanges(intParam(ctx.query, 'limit', 20, 1, 1000)),
        }),
      },
      {
        method: 'GET',
        path: '/v1/changes/:id',
        summary: 'One change with its journal',
        handler: async (ctx) => {
          const id = Number(ctx.params.id);
          const c = Number.isInteger(id) ? this.store.tryGetChange(id) : undefined;
          if (!c) throw new ApiError(404, 'not-found', `there is no change #${ctx.params.id}`);
          return { status: 200, json: { ...c, steps: this.store.journal(id) } };
        },
      },
      {
        method: 'GET',
        path: '/v1/events',
        summary: 'Instance events (state changes, exits, restarts)',
        handler: async (ctx) => {
          const service = ctx.query.get('service');
          return {
            status: 200,
            json: this.store.listEvents(
              service ? this.serviceAddress(service) : undefined,
              intParam(ctx.query, 'limit', 100, 1, 10000),
            ),
          };
        },
      },
      {
        method: 'GET',
        path: '/v1/services/:name/logs',
        summary: 'Logs of a service (?instance=N&lines=N&since=10m&follow=1)',
        streams: 'text',
        handler: async (ctx) => this.logs(ctx.params.name as string, ctx.query, (t) => ctx.stream(t), ctx.req),
      },
      {
        method: 'POST',
        path: '/v1/services/:name/restart',
        summary: 'Restart a service one instance at a time',
        body: RestartRequest,
        streams: 'ndjson',
        handler: async (ctx) => {
          const a = this.serviceAddress(ctx.params.name as string);
          await this.serial(() =>
            this.supervisor.restartService(a, (message) => ctx.stream({ type: 'progress', address: a, message })),
          );
          ctx.stream({ type: 'result', ok: true });
          return { streamed: true };
        },
      },
      {
        method: 'POST',
        path: '/v1/down',
        summary: 'Stop every service (and the daemon unless exit is false)',
        body: DownRequest,
        streams: 'ndjson',
        handler: async (ctx) => {
          const body = ctx.body as DownBody;
          await this.serial(() => this.supervisor.stopAll((message) => ctx.stream({ type: 'progress', message })));
          ctx.stream({ type: 'result', ok: true });
          if (body.exit !== false) setImmediate(() => this.exit());
          return { streamed: true };
        },
      },
    ];
    routes.push(
      {
        method: 'POST',
        path: '/v1/services/:name/deploy',
        summary: 'Build a release (git ref or working tree) and roll it out; streams progress',
        body: DeployRequest,
        streams: 'ndjson',
        handler: async (ctx) => {
          const body = ctx.body as DeployBody;
          const name = ctx.params.name as string;
          const result = await this.serial(async () => {
            const model = await this.loadModel(body.vars ?? {}, body.varEnv ?? {});
            return withLease(this.store, 'groundwork deploy', () =>
              this.deployer.deploy(
                model,
                name,
                {
                  ...(body.ref ? { ref: body.ref } : {}),
                  message: body.message ?? '',
                  author: body.author ?? 'daemon',
                },
                (message) => ctx.stream({ type: 'progress', message }),
              ),
            );
          }).catch((e: Error) => {
            if (e instanceof UnknownServiceError) throw new ApiError(404, 'not-found', e.message);
            throw e;
          });
          await this.configureTraffic();
          ctx.stream({ type: 'result', result });
          return { streamed: true };
        },
      },
      {
        method: 'POST',
        path: '/v1/services/:name/rollback',
        summary: 'Roll back to the previous release (or `to`): code and config; streams progress',
        body: RollbackRequest,
        streams: 'ndjson',
        handler: async (ctx) => {
          const body = ctx.body as RollbackBody;
          const name = ctx.params.name as string;
          const result = await this.serial(() =>
            withLease(this.store, 'groundwork rollback', () =>
              this.deployer.rollback(
                name,
                {
                  ...(body.to !== undefined ? { to: body.to } : {}),
                  message: body.message ?? '',
                  author: body.author ?? 'daemon',
                },
                (message) => ctx.stream({ type: 'progress', message }),
              ),
            ),
          ).catch((e: Error) => {
            if (e instanceof UnknownServiceError) throw new ApiError(404, 'not-found', e.message);
            throw e;
          });
          await this.configureTraffic();
          ctx.stream({ type: 'result', result });
          return { streamed: true };
        },
      },
      {
        method: 'GET',
        path: '/v1/services/:name/releases',
        summary: 'Releases of a service, newest first',
        handler: async (ctx) => {
          const name = ctx.params.name as string;
          this.serviceAddress(name);
          const current =
            asServiceOutputs(this.store.tryGetResource(addr('service', name))?.outputs ?? {}).release?.seq ?? null;
          return {
            status: 200,
            json: {
              service: name,
              current,
              releases: this.store.listReleases(name, intParam(ctx.query, 'limit', 50, 1, 1000)),
            },
          };
        },
      },
      {
        method: 'GET',
        path: '/v1/proxy/metrics',
        summary: 'Per-route and per-backend traffic metrics of the built-in proxy',
        handler: async () => ({
          status: 200,
          json: this.opts.dataPlane?.metrics() ?? { routes: {}, backends: {}, listeners: {} },
        }),
      },
    );
    routes.push({
      method: 'GET',
      path: '/v1/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      handler: async () => ({ status: 200, json: openApiDocument(routes) }),
    });
    return routes;
  }

  private async logs(
    name: string,
    q: URLSearchParams,
    write: (t: string) => void,
    req: http.IncomingMessage,
  ): Promise<{ streamed: true }> {
    const a = this.serviceAddress(name);
    const row = this.store.tryGetResource(a);
    const wanted = q.get('instance');
    const instanceIdx = wanted === null ? undefined : intParam(q, 'instance', 0, 0, 1000);
    const lines = intParam(q, 'lines', 200, 1, 100_000);
    const sinceText = q.get('since');
    let since: number | undefined;
    if (sinceText) {
      const d = Duration.tryParse(sinceText);
      const t = d
        ? this.opts.clock.now().getTime() - d.toMilliseconds()
        : /^\d{4}-\d{2}-\d{2}/.test(sinceText)
          ? Date.parse(sinceText)
          : NaN;
      if (!Number.isFinite(t))
        throw new ApiError(400, 'bad-request', `since must be a duration (10m) or a timestamp, found "${sinceText}"`);
      since = t;
    }
    const instances = asServiceOutputs(row?.outputs ?? {}).instances.filter(
      (i) => instanceIdx === undefined || i.index === instanceIdx,
    );
    const spec = row ? asServiceSpec(row.spec) : undefined;
    if (spec && spec.runtime !== 'process') {
      // Containers: the engine keeps (and rotates) the logs.
      const driver = this.drivers.drivers[spec.runtime];
      if (q.get('follow') === '1' || q.get('follow') === 'true')
        throw new ApiError(
          400,
          'bad-request',
          `following logs of a ${spec.runtime} service is not supported yet`,
          'use `docker logs -f CONTAINER` (see `groundwork status --json` for instance ids)',
        );
      for (const i of instances) {
        const text = driver ? await driver.logs(handleOf(i, name), { lines }) : '';
        for (const l of text.split('\n').filter((x) => x !== ''))
          write(`${instances.length > 1 ? `[${name}/${i.index}] ` : ''}${l}\n`);
      }
      write('');
      return { streamed: true };
    }
    const files = [...new Set(instances.map((i) => i.logFile))];
    if (instanceIdx !== undefined && files.length === 0) {
      // A stopped instance still has its log file.
      files.push(this.driver.logFileFor(name, instanceIdx));
    }
    const offsets = new Map<string, number>();
    const prefix = (f: string) => (files.length > 1 ? `[${name}/${path.basename(f, '.log')}] ` : '');
    for (const f of files) {
      const start = since !== undefined ? this.logIndex.offsetAt(f, since) : 0;
      const { text, next } = readFrom(f, start);
      const all = text.split('\n');
      if (all[all.length - 1] === '') all.pop();
      const tail = since !== undefined ? all : all.slice(-lines);
      for (const l of tail) write(`${prefix(f)}${l}\n`);
      offsets.set(f, next);
    }
    if (q.get('follow') !== '1' && q.get('follow') !== 'true') {
      write('');
      return { streamed: true };
    }
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (const f of files) {
          const { text, next } = readFrom(f, offsets.get(f) ?? 0);
          if (text)
            for (const l of text.split('\n').filter((x, i, arr) => i < arr.length - 1 || x !== ''))
              write(`${prefix(f)}${l}\n`);
          offsets.set(f, next);
        }
      }, 250);
      req.socket.once('close', () => {
        clearInterval(timer);
        resolve();
      });
    });
    return { streamed: true };
  }
}

/** Swarm tasks as status rows: the cluster supervises them, we report what was last seen. */
function swarmViews(service: string, instances: InstanceOutput[]): InstanceView[] {
  return instances.map((i) => {
    const task = i as InstanceOutput & { taskState?: string; node?: string };
    return {
      service,
      index: i.index,
      id: i.id,
      pid: i.pid || null,
      state: i.gone ? 'exited' : 'healthy',
      reason: `swarm task ${task.taskState ?? 'running'}${task.node ? ` on ${task.node}` : ''} (managed by Swarm)`,
      since: i.startedAt,
      startedAt: i.startedAt,
      restarts: 0,
      ports: i.ports,
      ready: !i.gone,
      lastProbe: null,
      limits: i.limits || null,
      lastExit: null,
    };
  });
}

function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ApiError(400, 'bad-request', `${name} must be a whole number from ${min} to ${max}, found "${v}"`);
  return n;
}
