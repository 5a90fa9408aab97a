/**
 * The operations, run on an opened installation. The daemon's API routes and the CLI (when no
 * daemon runs) both call these; see core/operations.ts.
 */
import { applyPlan, type ApplyResult } from '../engine/apply.js';
import { LeaseHeldError, withLease } from '../engine/lock.js';
import { planShapeProblem } from '../engine/plan-schema.js';
import { makePlan, type Plan } from '../engine/plan.js';
import { refresh, type RefreshResult } from '../engine/refresh.js';
import { stalePlanReason } from '../engine/stale-plan.js';
import { handleOf, type ServiceKind } from '../kinds/service/service-kind.js';
import { tryServiceKind } from '../kinds/registry.js';
import {
  describeInstance,
  instanceLabel,
  recordServiceOutputs,
  serviceOutputsOf,
  serviceSpecOf,
  type InstanceOutput,
  type ServiceOutputs,
  type ServiceSpec,
} from '../kinds/service/service-spec.js';
import { address as addr, type Address, type JsonObject } from '../model/resource.js';
import type { Model } from '../model/build-model.js';
import { sourceDirOf } from '../deploy/release-builder.js';
import { PartialFailure } from '../kinds/resource-kind.js';
import type { IncidentStatsRow } from '../incidents/postmortem.js';
import type {
  ActionItem,
  ChangeRecord,
  ChangeRequestRow,
  IncidentRow,
  IncidentStatus,
  InstanceEvent,
  OverrideRow,
  ResourceRow,
} from '../store/store.js';
import type { Runtime } from '../config/schema.js';
import { Duration } from '../util/duration.js';
import { errorMessage } from '../util/error-message.js';
import { isDiskFull, tryFreeBytes } from '../util/disk-space.js';
import { droppedLines } from '../observe/log-files.js';
import { Deployer, type DeployResult } from './deployer.js';
import { readServiceLogs, type LogsQuery } from './service-logs.js';
import { OperationError } from './errors.js';
import type { Installation, StackInputs } from './installation.js';
import type {
  ApplyInput,
  ApplyListener,
  Attribution,
  Refusal,
  ChangeView,
  DeployInput,
  Operations,
  Progress,
  ReleasesView,
  RollbackInput,
  ScaleInput,
} from './operations.js';
import { trafficViews, type InstanceView, type ServiceStatus, type StatusView } from './status.js';
import { checkViews } from './check-statuses.js';
import { newPushToken, pushPath, pushTokenHash } from '../observe/checks/push-token.js';
import {
  acknowledgeAlert,
  addSilence,
  alertsView,
  expireSilence,
  type AlertsView,
  type SilenceInput,
  type SilenceView,
} from './alerts-view.js';
import {
  IncidentsService,
  type ActionItemInput,
  type IncidentActionInput,
  type IncidentDetail,
  type OncallQuery,
  type OncallView,
  type OverrideInput,
} from './incidents-view.js';
import {
  promQuery,
  promQueryOnDisk,
  type PromAnswer,
  type PromQueryKind,
  type PromQueryParams,
} from './metrics-query.js';
import type { OperationsRuntime } from './supervision.js';
import { TestKillHook } from './test-kill-point.js';
import { ChangeControl, type Admission, type ChangeAttempt } from '../change/change-control.js';
import { scopeOfAddresses } from '../change/change-policy.js';
import { ChangeRefused } from '../change/change-refused.js';
import type { DecisionDocument, DecisionRecord } from '../change/decisions.js';
import { movedNote, pinForCarryOut, pinRef, tryPinRef, type DeployPin } from '../change/deploy-pin.js';
import { subjectHash, type ChangeRequestView } from '../change/change-requests.js';
import type { ChangeRequestInput } from './operations.js';
import { recordRotation } from '../change/record-rotation.js';
import { rolloutSubject, rotationOfRequest } from '../change/rotation-rollout.js';
import { servicesUsingSecretIn } from '../security/secret-versions.js';
import { AuditLog, type AuditRecord, type AuditVerification } from '../security/audit.js';
import { FixedUsers } from '../security/roles-stack-users.js';
import { TokenRequestError, Tokens, type TokenView } from '../security/tokens.js';

const DEFAULT_PARALLELISM = 8;
/** As `replicas` in the stack file's schema (config/schema.ts). */
const MAX_REPLICAS = 64;

export class LocalOperations implements Operations {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly deployer: Deployer;
  private readonly service: ServiceKind;
  /** Approvals, freeze windows, break-glass, decisions (change/). */
  private readonly changes: ChangeControl;
  /** The fault tests' kill points (inert unless GROUNDWORK_TEST_KILL_AT is set). */
  private readonly killHook: TestKillHook;

  constructor(
    readonly installation: Installation,
    private readonly runtime: OperationsRuntime = {},
  ) {
    this.service = serviceKindOf(installation);
    this.killHook = new TestKillHook(installation.env);
    this.changes = new ChangeControl({
      store: installation.store,
      clock: installation.clock,
      stackFile: installation.stackFile,
    });
    const sup = runtime.supervision;
    this.deployer = new Deployer({
      store: installation.store,
      kind: this.service,
      stateDir: installation.stateDir,
      context: (progress) => installation.kindContext((_a, m) => progress(m)),
      publish: (e) => installation.bus.publish(e),
      killHook: this.killHook,
      ...(sup ? { hooks: { beforeStep: (a: Address) => sup.pause(a), afterStep: (a: Address) => sup.resume(a) } } : {}),
    });
  }

  /** The recorded rows and the serial they belong to, read together: what a plan is made from. */
  private async planState(): Promise<[rows: ResourceRow[], serial: number]> {
    const { rows, serial } = await this.store.resources.readState();
    return [rows, serial];
  }

  private get store() {
    return this.installation.store;
  }

  /** Operations that change the world run one at a time in this process; the lease guards against others. */
  private exclusive<T>(command: string, fn: () => Promise<T>, opts: { movesTraffic?: boolean } = {}): Promise<T> {
    const traffic = this.runtime.traffic;
    const body = opts.movesTraffic && traffic ? () => traffic.around(fn) : fn;
    const run = async () => {
      try {
        // A change on a full disk would fail half-way: refuse it before it starts.
        const full = this.diskFull();
        if (full) throw full;
        return await withLease(this.store, command, body, undefined, this.installation.logger);
      } catch (e) {
        if (isDiskFull(e)) throw this.diskFull(true) ?? e;
        if (e instanceof LeaseHeldError)
          throw new OperationError('refused', e.message, 'wait for it, or run `groundwork unlock` if it is gone');
        throw e;
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Below this, changes are refused: SQLite needs room for its journal and a backup. */
  static readonly MIN_FREE_BYTES = 1024 * 1024;

  /** The refusal for a full disk, or undefined while there is room (`force`: it just failed). */
  private diskFull(force = false): OperationError | undefined {
    const dir = this.installation.stateDir;
    const free = tryFreeBytes(dir);
    if (!force && (free === undefined || free >= LocalOperations.MIN_FREE_BYTES)) return undefined;
    return new OperationError(
      'unavailable',
      force
        ? `the disk holding ${dir} is full (${free ?? 'unknown'} bytes free): the operation stopped part-way; what it finished is recorded`
        : `the disk holding ${dir} is full: ${free ?? 'unknown'} bytes free; nothing was changed`,
      'free space on that disk, or move the state with --state-dir; running services are still supervised',
    );
  }

  /** Runs after the operations in flight, without the lease (housekeeping inside the daemon). */
  private queued<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Stops blue-green standby sets whose warm period is over. */
  async expireStandby(): Promise<void> {
    const now = this.installation.clock.now().getTime();
    for (const row of await this.store.resources.listResources()) {
      if (row.kind !== 'service') continue;
      const outs = serviceOutputsOf(row);
      if (!outs.standby || Date.parse(outs.standby.until) > now) continue;
      const standby = outs.standby.instances;
      await recordServiceOutputs(this.store.resources, row.address, { ...outs, standby: null });
      const spec = serviceSpecOf(row);
      const service = row.address.slice('service.'.length);
      const driver = this.installation.drivers.drivers[spec.runtime];
      if (!driver) continue;
      await this.queued(async () => {
        for (const i of standby) {
          const h = handleOf(i, service);
          await driver.stop(h, Duration.parse(spec.stop_grace));
          await driver.forget(h);
        }
        this.installation.bus.publish({
          type: 'instance',
          address: row.address,
          instance: `${service}/standby`,
          state: 'stopped',
          reason: 'blue-green standby period over',
        });
      });
    }
  }

  /**
   * After a crash or kill of whoever ran an operation (the daemon at start calls this), state as
   * recorded wins: the journal steps and changes it left open are marked interrupted; the release
   * state records as running is the `active` one (an operation killed between marking its new
   * release active and recording the rollout left them the other way round); releases left
   * `building`/`deploying` are marked failed; and instances that the drivers know for this stack
   * but no recorded resource claims (the surge or green instances of an interrupted rollout) are
   * stopped. The supervisor then restarts recorded instances the rollout had already stopped.
   */
  recover(progress: Progress = () => undefined): Promise<{ releases: string[]; stopped: string[] }> {
    return this.exclusive('groundwork recover', async () => {
      for (const j of await this.store.journal.recoverInterrupted())
        progress(`change #${j.changeId} (${j.action} of ${j.address}) was interrupted; state keeps what it recorded`);
      const releases: string[] = [];
      const now = () => this.installation.clock.now().toISOString();
      for (const { name, outs } of serviceRowsOf(await this.store.resources.listResources())) {
        const recorded = outs.release?.seq ?? null;
        const all = await this.store.releases.listReleases(name, 1000);
        const runs = all.find((r) => r.seq === recorded);
        // Only statuses an interrupted operation leaves on what still runs; a failed rollout without
        // auto_rollback legitimately records a `failed` release as running.
        const misMarked =
          runs !== undefined && ['superseded', 'rolled-back', 'deploying', 'building'].includes(runs.status);
        for (const r of all) {
          if (r.seq === recorded) {
            if (!misMarked) continue;
            await this.store.releases.updateRelease(name, r.seq, {
              status: 'active',
              detail: `an interrupted operation left it ${r.status}; state records it as running`,
            });
            progress(`release v${r.seq} of ${name} runs (state records it) but was left ${r.status}: marked active`);
            continue;
          }
          const interrupted = r.status === 'deploying' || r.status === 'building';
          if (!interrupted && !(misMarked && r.status === 'active')) continue;
          await this.store.releases.updateRelease(name, r.seq, {
            status: 'failed',
            detail: `interrupted while ${interrupted ? r.status : 'being rolled out'}: whoever ran it stopped before it was recorded; the service runs v${recorded ?? '?'}, as state records`,
            finishedAt: now(),
          });
          this.installation.bus.publish({
            type: 'release',
            service: name,
            seq: r.seq,
            phase: 'failed',
            detail: 'interrupted',
          });
          releases.push(`${name} v${r.seq}`);
          progress(
            `release v${r.seq} of ${name} was left ${r.status} by an interrupted operation: marked failed (v${recorded ?? '?'} runs)`,
          );
        }
      }
      const stopped = await this.stopUnrecorded(progress);
      return { releases, stopped };
    });
  }

  /** Stops instances of this stack that the drivers know and no recorded resource claims. */
  private async stopUnrecorded(progress: Progress): Promise<string[]> {
    await this.installation.loadModel({}).catch(() => undefined);
    const claimed = new Set<string>();
    const graceOf = new Map<string, Duration>();
    for (const { name, spec, outs } of serviceRowsOf(await this.store.resources.listResources())) {
      for (const i of [...outs.instances, ...(outs.standby?.instances ?? [])]) claimed.add(i.id);
      graceOf.set(name, Duration.parse(spec.stop_grace));
    }
    const stopped: string[] = [];
    // Swarm services are the cluster's; process and docker instances are this machine's.
    for (const runtime of ['process', 'docker'] as const) {
      const driver = this.installation.drivers.drivers[runtime];
      if (!driver) continue;
      let handles;
      try {
        handles = await driver.list(this.installation.stack);
      } catch (e) {
        // No Docker engine here: nothing of ours can run on it either.
        this.installation.logger.log('debug', 'cannot list instances', { runtime, error: errorMessage(e) });
        continue;
      }
      for (const h of handles) {
        if (claimed.has(h.id)) continue;
        progress(`stopping ${h.service}/${h.index} (${h.id}): not recorded in state, left by an interrupted operation`);
        await driver.stop(h, graceOf.get(h.service) ?? Duration.seconds(10));
        await driver.forget(h);
        this.installation.bus.publish({
          type: 'instance',
          address: `service.${h.service}`,
          instance: `${h.service}/${h.index}`,
          state: 'stopped',
          reason: `not recorded in state (${h.id}): left by an interrupted operation`,
        });
        stopped.push(h.id);
      }
    }
    return stopped;
  }

  /** Waits for the operations in flight (the daemon calls this when it stops). */
  async idle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  async plan(input: StackInputs): Promise<Plan> {
    const model = await this.installation.loadModel(input);
    return makePlan(model, ...(await this.planState()), this.installation.kinds);
  }

  apply(input: ApplyInput, listener: ApplyListener = {}): Promise<ApplyResult> {
    return this.exclusive(
      'groundwork apply',
      async () => {
        // An approved rotation's request rolls its new version out (change/rotation-rollout.ts).
        const rotation = input.request === undefined ? undefined : await this.rotationRequest(input.request);
        if (rotation) return this.rollout(rotation, input, listener);
        const model = await this.installation.loadModel(input);
        let plan: Plan;
        const approved = input.request === undefined ? undefined : await this.approvedPlan(input.request);
        const saved = approved ?? input.plan;
        if (saved !== undefined) {
          const problem = planShapeProblem(saved);
          if (problem)
            throw new OperationError(
              'bad-request',
              `the saved plan is malformed: ${problem}`,
              'make a new one with `groundwork plan --out FILE`',
            );
          // planShapeProblem checked it against the plan's schema.
          plan = saved as Plan;
          const stale = await stalePlanReason(plan, this.store, model.configHash);
          if (stale)
            throw new OperationError(
              'refused',
              input.request !== undefined
                ? `change request #${input.request} is not what would run now: ${stale}`
                : stale,
              input.request !== undefined
                ? 'request the change again (`groundwork change request apply`) and have it approved'
                : 'make a new plan with `groundwork plan --out FILE`',
            );
        } else plan = makePlan(model, ...(await this.planState()), this.installation.kinds);
        // A saved plan that someone approved carries its request with it (`groundwork apply FILE`).
        const request =
          input.request ?? (input.plan !== undefined ? await this.openRequestFor({ plan: planJson(plan) }) : undefined);
        const admission = plan.steps.length
          ? await this.admit({
              kind: 'apply',
              service: null,
              scope: scopeOfAddresses(plan.steps.map((st) => st.address)),
              author: input.author ?? 'unknown',
              subject: { plan: planJson(plan) },
              request,
              breakGlass: input.breakGlass,
              decisions: input.decisions,
            })
          : undefined;
        const result = await this.runPlan(plan, input, listener);
        if (admission) await this.changes.record(result.changeId, admission);
        return result;
      },
      { movesTraffic: true },
    );
  }

  scale(service: string, input: ScaleInput, listener: ApplyListener = {}): Promise<ApplyResult> {
    return this.exclusive(
      'groundwork scale',
      async () => {
        const { replicas } = input;
        if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS)
          throw new OperationError(
            'bad-request',
            `replicas must be a whole number from 0 to ${MAX_REPLICAS}, found ${replicas}`,
            'e.g. `groundwork scale web 3`',
          );
        const address = await this.serviceAddress(service);
        const model = await this.installation.loadModel(input);
        const desired = model.resources.find((r) => r.address === address);
        if (!desired)
          throw new OperationError(
            'refused',
            `service \`${service}\` is applied but no longer in the stack file`,
            'apply the stack file (it removes the service) or put the service back',
          );
        const scaled = {
          ...model,
          resources: model.resources.map((r) => (r === desired ? { ...r, spec: { ...r.spec, replicas } } : r)),
        };
        const plan = makePlan(scaled, ...(await this.planState()), this.installation.kinds);
        // Only this service's replicas (and the instance count that follows them) may change.
        const pending = plan.steps.filter(
          (s) => s.address !== address || s.changes.some((c) => c.path !== 'replicas' && c.path !== 'instances'),
        );
        if (pending.length)
          throw new OperationError(
            'refused',
            `the stack file has changes besides this scale: ${pending.map((s) => `${s.action} ${s.address}`).join(', ')}`,
            '`groundwork plan` shows them; `groundwork apply` applies them, then scale',
          );
        return this.runPlan(plan, { ...input, message: input.message || `scale ${service} to ${replicas}` }, listener);
      },
      { movesTraffic: true },
    );
  }

  /**
   * The rollout of an approved rotation, whose new version `secret rotate --change ID` has just
   * written: the restart of exactly the services using the secret, recorded with the rotation as
   * one change of kind `rotate` carrying the request (refused when anything else would run).
   */
  private async rollout(r: ChangeRequestRow, input: ApplyInput, listener: ApplyListener): Promise<ApplyResult> {
    const model = await this.installation.loadModel(input);
    const plan = makePlan(model, ...(await this.planState()), this.installation.kinds);
    const { secret } = this.governedSync(() => rotationOfRequest(r));
    const version = this.installation.secrets.versions()[secret];
    const services = servicesUsingSecretIn(model, secret);
    const subject = this.governedSync(() => rolloutSubject(r, version, services, plan.steps));
    const author = input.author ?? 'unknown';
    const admission = await this.admit({
      kind: 'rotate',
      service: null,
      scope: { services, other: false },
      author,
      subject,
      request: r.id,
      breakGlass: input.breakGlass,
      decisions: input.decisions,
    });
    const message = input.message || r.message || `rotate secret ${secret} to version ${version ?? '?'}`;
    let result: ApplyResult;
    if (plan.steps.length) result = await this.runPlan(plan, { ...input, message }, listener, 'rotate');
    else {
      // No applied service uses it yet: the rotation alone is the change.
      const changeId = await recordRotation(this.store.journal, { secret, version: version ?? 0, author, message });
      result = {
        changeId,
        outcome: 'applied',
        applied: [],
        failed: [],
        skipped: [],
        serial: await this.store.resources.serial(),
      };
    }
    await this.changes.record(result.changeId, admission);
    await this.changes.auditRotation(
      {
        secret,
        version: version ?? 0,
        author,
        services: result.applied.map((a) => a.slice('service.'.length)),
        changeId: result.changeId,
      },
      admission,
    );
    return result;
  }

  /** Request `id` when it is a rotation's (undefined for other kinds; not-found when there is none). */
  private async rotationRequest(id: number): Promise<ChangeRequestRow | undefined> {
    const r = await this.governed(() => this.changes.requestOf(id));
    return r.kind === 'rotate' ? r : undefined;
  }

  /** Applies `plan` (journaled, with the supervisor paused per step) and publishes the change. */
  private async runPlan(
    plan: Plan,
    input: ApplyInput,
    listener: ApplyListener,
    changeKind: 'apply' | 'rotate' = 'apply',
  ): Promise<ApplyResult> {
    listener.onPlan?.(plan);
    const sup = this.runtime.supervision;
    const author = input.author ?? 'unknown';
    const killPoints = this.killHook.points('apply');
    const result = await applyPlan(plan, {
      store: this.store,
      kinds: this.installation.kinds,
      context: this.installation.baseContext(),
      parallelism: input.parallelism ?? DEFAULT_PARALLELISM,
      portRange: this.installation.portRange,
      author,
      message: input.message ?? '',
      changeKind,
      onEvent: (e) => {
        listener.onEvent?.(e);
        if (e.type === 'step-end' && e.status === 'applied') killPoints.pass(`${e.address} applied`);
      },
      ...(sup ? { hooks: { beforeStep: (a: Address) => sup.pause(a), afterStep: (a: Address) => sup.resume(a) } } : {}),
    });
    killPoints.end();
    this.installation.bus.publish({
      type: 'change',
      changeId: result.changeId,
      kind: changeKind,
      outcome: result.outcome,
      author,
    });
    await this.runtime.afterChange?.();
    return result;
  }

  refresh(input: Attribution): Promise<RefreshResult> {
    return this.exclusive('groundwork refresh', async () => {
      // The stack name goes into instance ids; an invalid stack file must not stop a refresh of what runs.
      await this.installation.loadModel({}).catch(() => undefined);
      return refresh(this.store, this.installation.kinds, this.installation.baseContext(), {
        author: input.author ?? 'unknown',
        record: true,
      });
    });
  }

  deploy(service: string, input: DeployInput, caller: Progress): Promise<DeployResult> {
    const live = this.published(service, 'deploy', caller);
    return live.outcome(this.deployNow(service, input, live.progress));
  }

  private deployNow(service: string, input: DeployInput, progress: Progress): Promise<DeployResult> {
    return this.exclusive(
      'groundwork deploy',
      async () => {
        const model = await this.installation.loadModel(input);
        // A request carries out the commit it pinned (deploy-pin.ts); a deploy without one takes
        // the ref as it is now, and the deployer reports a ref that names no commit.
        const request = input.request;
        const pin =
          request === undefined
            ? tryPinRef(this.sourceDir(model, service), input.ref)
            : await this.governed(async () =>
                pinForCarryOut(request, (await this.changes.requestOf(request)).subject, input.ref),
              );
        const ref = request !== undefined && pin ? pin.commit : input.ref;
        const opts = {
          ...(ref ? { ref } : {}),
          // The release reads as the ref requested and the commit deployed, not as a bare hash.
          ...(request !== undefined && pin ? { pinned: { ref: pin.ref, request } } : {}),
          message: input.message ?? '',
          author: input.author ?? 'unknown',
        };
        const admission = await this.admit({
          kind: 'deploy',
          service,
          scope: { services: [service], other: false },
          author: opts.author,
          subject: await this.deploySubject(service, pin, model.configHash),
          request: input.request,
          breakGlass: input.breakGlass,
          decisions: input.decisions,
        });
        const moved =
          pin && input.request !== undefined
            ? movedNote(input.request, pin, this.sourceDir(model, service))
            : undefined;
        if (moved) progress(moved);
        const result = await this.deployer.deploy(model, service, opts, progress);
        await this.changes.record(result.changeId, admission);
        await this.runtime.afterChange?.();
        return result;
      },
      { movesTraffic: true },
    );
  }

  rollback(service: string, input: RollbackInput, caller: Progress): Promise<DeployResult> {
    const live = this.published(service, 'rollback', caller);
    return live.outcome(this.rollbackNow(service, input, live.progress));
  }

  private rollbackNow(service: string, input: RollbackInput, progress: Progress): Promise<DeployResult> {
    return this.exclusive(
      'groundwork rollback',
      async () => {
        await this.installation.loadModel({}).catch(() => undefined);
        const opts = {
          ...(input.to !== undefined ? { to: input.to } : {}),
          message: input.message ?? '',
          author: input.author ?? 'unknown',
        };
        const admission = await this.admit({
          kind: 'rollback',
          service,
          scope: { services: [service], other: false },
          author: opts.author,
          subject: await this.rollbackSubject(service, input.to),
          request: input.request,
          breakGlass: input.breakGlass,
          decisions: input.decisions,
        });
        const result = await this.deployer.rollback(service, opts, progress);
        await this.changes.record(result.changeId, admission);
        await this.runtime.afterChange?.();
        return result;
      },
      { movesTraffic: true },
    );
  }

  /**
   * The caller's progress, also published on the bus with the operation's outcome at its end:
   * whoever follows the service's events (the dashboard) sees the steps of a rollout started
   * elsewhere, as they happen, and when it ended.
   */
  private published(
    service: string,
    operation: 'deploy' | 'rollback' | 'restart',
    caller: Progress,
  ): { progress: Progress; outcome<T>(run: Promise<T>): Promise<T> } {
    const publish = (message: string, outcome: 'ok' | 'failed' | null) =>
      this.installation.bus.publish({ type: 'progress', service, operation, message, outcome });
    return {
      progress: (message) => {
        caller(message);
        publish(message, null);
      },
      outcome: (run) =>
        run.then(
          (v) => {
            // A deploy or rollback that rolled back answers (ok: false) instead of throwing.
            const ok = typeof v !== 'object' || v === null || !('ok' in v) || v.ok !== false;
            publish(`${operation} ${ok ? 'finished' : 'failed'}`, ok ? 'ok' : 'failed');
            return v;
          },
          (e: unknown) => {
            publish(`${operation} failed: ${errorMessage(e)}`, 'failed');
            throw e;
          },
        ),
    };
  }

  /** Rolling restart: one instance at a time, each ready before the next. */
  restart(service: string, input: Attribution, caller: Progress): Promise<void> {
    const live = this.published(service, 'restart', caller);
    return live.outcome(this.restartNow(service, input, live.progress));
  }

  private restartNow(service: string, input: Attribution, progress: Progress): Promise<void> {
    return this.exclusive(
      'groundwork restart',
      async () => {
        // Restarted instances take the secret versions their spec names: decrypt them (no model is loaded here).
        await this.installation.secrets.refresh();
        const address = await this.serviceAddress(service);
        const row = await this.requireRow(address);
        const spec = serviceSpecOf(row);
        if (!this.service.backendFor(spec).supervised)
          throw new OperationError(
            'bad-request',
            `service \`${service}\` runs on Docker Swarm, which restarts its tasks itself`,
            'use `docker service update --force` for a forced restart',
          );
        const sup = this.runtime.supervision;
        await sup?.pause(address);
        try {
          const driver = this.driverOf(service, spec.runtime);
          for (const inst of serviceOutputsOf(row).instances) {
            progress(`restarting instance ${inst.index} (${instanceLabel(inst)})`);
            const h = handleOf(inst, service);
            await driver.stop(h, Duration.parse(spec.stop_grace));
            await driver.forget(h);
            const ctx = await this.installation.kindContext();
            const next = await this.service.startOne(
              ctx,
              address,
              spec,
              inst.index,
              inst.ports,
              inst.codeDir ?? ctx.dir,
              inst.release ?? null,
            );
            const cur = serviceOutputsOf(await this.store.resources.tryGetResource(address));
            const instances = [
              ...cur.instances.filter((i) => i.index !== inst.index),
              { ...next, restarts: inst.restarts ?? 0 },
            ].sort((a, b) => a.index - b.index);
            await recordServiceOutputs(this.store.resources, address, { ...cur, instances });
            this.installation.bus.publish({
              type: 'instance',
              address,
              instance: `${service}/${inst.index}`,
              state: 'restarted',
              reason: `by request of ${input.author ?? 'unknown'}, ${instanceLabel(next)}`,
            });
            progress(`instance ${inst.index} ready (${instanceLabel(next)})`);
          }
        } finally {
          await sup?.resume(address);
        }
      },
      { movesTraffic: true },
    );
  }

  /** Stops what the stack runs on every runtime (Swarm services are removed from the cluster); state keeps the services. */
  down(input: Attribution, progress: Progress): Promise<void> {
    return this.exclusive('groundwork down', async () => {
      const rows = (await this.store.resources.listResources()).filter((r) => r.kind === 'service');
      const sup = this.runtime.supervision;
      for (const r of rows) if (this.service.backendFor(serviceSpecOf(r)).supervised) await sup?.pause(r.address);
      const ctx = await this.installation.kindContext((a, m) => progress(`${a}: ${m}`));
      const failures: string[] = [];
      await Promise.all(
        rows.map(async (row) => {
          const service = row.address.slice('service.'.length);
          let next: ServiceOutputs;
          try {
            next = await this.service.stop(ctx, row.address, serviceSpecOf(row), serviceOutputsOf(row));
          } catch (e) {
            failures.push(`${service}: ${errorMessage(e)}`);
            if (!(e instanceof PartialFailure)) return;
            next = serviceOutputsOf({ address: row.address, outputs: e.outputs });
          }
          await recordServiceOutputs(this.store.resources, row.address, next);
          this.installation.bus.publish({
            type: 'instance',
            address: row.address,
            instance: `${service}/*`,
            state: 'stopped',
            reason: `groundwork down by ${input.author ?? 'unknown'}`,
          });
          sup?.forget(row.address);
        }),
      );
      await this.stopUnrecorded(progress);
      if (failures.length)
        throw new OperationError(
          'unavailable',
          `could not stop everything: ${failures.join('; ')}`,
          'run `groundwork down` again; `groundwork status` shows what still runs',
        );
    });
  }

  async releases(service: string, limit: number): Promise<ReleasesView> {
    const row = await this.requireRow(await this.serviceAddress(service));
    return {
      service,
      current: serviceOutputsOf(row).release?.seq ?? null,
      releases: await this.store.releases.listReleases(service, limit),
    };
  }

  async promQuery(kind: PromQueryKind, params: PromQueryParams): Promise<PromAnswer> {
    const now = this.installation.clock.now().getTime();
    const m = this.runtime.metrics;
    return m ? promQuery(m, kind, params, now) : promQueryOnDisk(this.installation.stateDir, kind, params, now);
  }

  async alerts(): Promise<AlertsView> {
    return await alertsView(this.store, this.installation.clock);
  }

  async acknowledgeAlert(fingerprint: string, by: string): Promise<void> {
    await acknowledgeAlert(this.store, this.installation.clock, fingerprint, by);
  }

  async addSilence(input: SilenceInput): Promise<SilenceView> {
    const s = await addSilence(this.store, this.installation.clock, input);
    // The daemon's alerting takes it at its next evaluation (within a second).
    return s;
  }

  async expireSilence(id: number): Promise<void> {
    await expireSilence(this.store, id);
  }

  private get incidentsService(): IncidentsService {
    return new IncidentsService(
      this.store,
      this.installation.clock,
      this.installation.stateDir,
      this.installation.incidentsLock,
    );
  }

  async incidents(filter: { status?: IncidentStatus; limit?: number }): Promise<IncidentRow[]> {
    return this.incidentsService.list(filter);
  }

  async incident(id: number): Promise<IncidentDetail> {
    return this.incidentsService.detail(id);
  }

  async incidentAction(id: number, input: IncidentActionInput): Promise<IncidentRow> {
    return this.incidentsService.act(id, input);
  }

  async incidentByLink(
    id: number,
    action: 'ack' | 'resolve',
    sig: string,
    confirmed: boolean,
  ): Promise<{ incident: IncidentRow; done: boolean }> {
    return this.incidentsService.actByLink(id, action, sig, confirmed);
  }

  async postmortem(id: number): Promise<string> {
    return this.incidentsService.postmortem(id);
  }

  async oncall(query: OncallQuery): Promise<OncallView> {
    return this.incidentsService.oncall(query);
  }

  async addOverride(input: OverrideInput): Promise<OverrideRow> {
    // The daemon's escalation sees it at its next tick (it watches the overrides).
    return this.incidentsService.addOverride(input);
  }

  async incidentStats(): Promise<IncidentStatsRow[]> {
    return this.incidentsService.stats();
  }

  async addActionItem(incidentId: number, input: ActionItemInput): Promise<ActionItem> {
    return this.incidentsService.addActionItem(incidentId, input);
  }

  async setActionItemDone(itemId: number, done: boolean, by: string): Promise<ActionItem> {
    return this.incidentsService.setActionItemDone(itemId, done, by);
  }

  async removeOverride(id: number): Promise<void> {
    await this.incidentsService.removeOverride(id);
  }

  async newPushToken(check: string): Promise<{ check: string; path: string }> {
    const row = await this.store.resources.tryGetResource(addr('check', check));
    if (!row)
      throw new OperationError(
        'not-found',
        `no check \`${check}\` is applied`,
        'declare it under checks: with `push: {}` and run `groundwork apply`',
      );
    if (row.spec.type !== 'push')
      throw new OperationError(
        'bad-request',
        `check \`${check}\` is a ${String(row.spec.type)} check; only push checks have a token`,
        'name a check declared with `push:`',
      );
    const token = newPushToken();
    await this.store.resources.recordRuntimeOutputs(row.address, { ...row.outputs, token_hash: pushTokenHash(token) });
    // The daemon's runner takes the new hash (the old token stops working).
    await this.runtime.afterChange?.();
    return { check, path: pushPath(token) };
  }

  async status(): Promise<StatusView> {
    if (this.runtime.supervision) return this.supervisedStatus();
    return this.statusWith(async (name, runtime, instances) => this.unsupervisedViews(name, runtime, instances));
  }

  /** Status from the supervisor's live view (nothing is inspected; one read of the store). */
  async supervisedStatus(): Promise<StatusView> {
    const views = this.runtime.supervision?.view() ?? [];
    const { rows, serial } = await this.store.resources.readState();
    const services = serviceRowsOf(rows).map(({ name, spec, outs }) =>
      serviceStatus(
        name,
        spec,
        outs,
        !this.service.backendFor(spec).supervised
          ? swarmViews(name, outs.instances)
          : views.filter((v) => v.service === name),
      ),
    );
    return {
      stack: this.installation.stack,
      serial,
      services,
      checks: checkViews(rows),
      ...trafficViews(rows, services, this.installation.stateDir),
      storage: this.storage(),
      daemon: this.runtime.daemon?.() ?? null,
    };
  }

  private async statusWith(
    viewsOf: (name: string, runtime: Runtime, instances: InstanceOutput[]) => Promise<InstanceView[]>,
  ): Promise<StatusView> {
    const services: ServiceStatus[] = [];
    const { rows, serial } = await this.store.resources.readState();
    for (const { name, spec, outs } of serviceRowsOf(rows)) {
      const instances = !this.service.backendFor(spec).supervised
        ? swarmViews(name, outs.instances)
        : await viewsOf(name, spec.runtime, outs.instances);
      services.push(serviceStatus(name, spec, outs, instances));
    }
    return {
      stack: this.installation.stack,
      serial,
      services,
      checks: checkViews(rows),
      ...trafficViews(rows, services, this.installation.stateDir),
      storage: this.storage(),
      daemon: this.runtime.daemon?.() ?? null,
    };
  }

  private storage(): StatusView['storage'] {
    const free = tryFreeBytes(this.installation.stateDir);
    return {
      stateDir: this.installation.stateDir,
      freeBytes: free ?? null,
      full: free !== undefined && free < LocalOperations.MIN_FREE_BYTES,
    };
  }

  async history(limit: number): Promise<ChangeRecord[]> {
    return await this.store.journal.listChanges(limit);
  }

  async requestChange(input: ChangeRequestInput): Promise<ChangeRequestView> {
    const common = {
      author: input.author ?? 'unknown',
      message: input.message ?? '',
      decisions: input.decisions ?? [],
    };
    const model = await this.installation.loadModel(input);
    if (input.kind === 'apply') {
      let plan: Plan;
      if (input.plan !== undefined) {
        const problem = planShapeProblem(input.plan);
        if (problem)
          throw new OperationError(
            'bad-request',
            `the saved plan is malformed: ${problem}`,
            'make a new one with `groundwork plan --out FILE`',
          );
        // planShapeProblem checked it against the plan's schema.
        plan = input.plan as Plan;
        const stale = await stalePlanReason(plan, this.store, model.configHash);
        if (stale) throw new OperationError('refused', stale, 'make a new plan with `groundwork plan --out FILE`');
      } else plan = makePlan(model, ...(await this.planState()), this.installation.kinds);
      if (plan.steps.length === 0)
        throw new OperationError(
          'refused',
          'the plan has no changes: there is nothing to approve',
          'edit the stack file, then `groundwork change request apply`',
        );
      return this.governed(() =>
        this.changes.request({ kind: 'apply', service: null, subject: { plan: planJson(plan) }, ...common }),
      );
    }
    await this.serviceAddress(input.service);
    const service = input.service;
    const subject =
      input.kind === 'deploy'
        ? await this.deploySubject(
            service,
            this.governedSync(() => this.pinNow(model, service, input.ref)),
            model.configHash,
          )
        : await this.rollbackSubject(service, input.to);
    return this.governed(() => this.changes.request({ kind: input.kind, service: input.service, subject, ...common }));
  }

  approveChange(id: number, input: Attribution): Promise<ChangeRequestView> {
    return this.governed(() => this.changes.approve(id, input.author ?? 'unknown', input.message ?? ''));
  }

  rejectChange(id: number, input: Refusal): Promise<ChangeRequestView> {
    return this.governed(() => this.changes.reject(id, input.author ?? 'unknown', input.reason));
  }

  withdrawChange(id: number, input: Refusal): Promise<ChangeRequestView> {
    return this.governed(() => this.changes.withdraw(id, input.author ?? 'unknown', input.reason));
  }

  changeRequests(limit: number): Promise<ChangeRequestView[]> {
    return this.governed(() => this.changes.list(limit));
  }

  changeRequest(id: number): Promise<ChangeRequestView> {
    return this.governed(() => this.changes.show(id));
  }

  /** Decision records of the stack (docs/decisions/), oldest first. */
  decisions(): Promise<DecisionRecord[]> {
    return this.governed(async () => this.changes.decisions());
  }

  /** One decision record with its Markdown; not-found naming the numbers there are. */
  decision(n: number): Promise<DecisionDocument> {
    return this.governed(async () => this.changes.decision(n));
  }

  /** What a deploy request approves: this service, this commit (and the ref that named it), against this stack file and state. */
  private async deploySubject(service: string, pin: DeployPin | undefined, configHash: string): Promise<JsonObject> {
    return {
      service,
      ref: pin?.ref ?? null,
      commit: pin?.commit ?? null,
      configHash,
      serial: await this.store.resources.serial(),
    };
  }

  /** The commit `ref` names now in the service's source repository (undefined: the working tree). */
  private pinNow(model: Model, service: string, ref: string | undefined): DeployPin | undefined {
    return ref === undefined ? undefined : pinRef(this.sourceDir(model, service), ref);
  }

  private sourceDir(model: Model, service: string): string {
    const desired = model.resources.find((r) => r.address === addr('service', service));
    return desired ? sourceDirOf(serviceSpecOf(desired), model.dir) : model.dir;
  }

  private async rollbackSubject(service: string, to: number | undefined): Promise<JsonObject> {
    return { service, to: to ?? null, serial: await this.store.resources.serial() };
  }

  private async approvedPlan(id: number): Promise<unknown> {
    const r = await this.governed(() => this.changes.requestOf(id));
    if (r.kind !== 'apply')
      throw new OperationError(
        'bad-request',
        `change request #${id} is a ${r.kind} of service \`${r.service ?? '?'}\`, not an apply`,
        `carry it out with \`groundwork ${r.kind} ${r.service ?? 'SERVICE'} --change ${id}\``,
      );
    return r.subject.plan;
  }

  /** The open request whose subject is exactly this, if someone requested it. */
  private async openRequestFor(subject: JsonObject): Promise<number | undefined> {
    const hash = subjectHash(subject);
    return (await this.store.changeRequests.listRequests(200)).find((r) => r.appliedChange === null && r.hash === hash)
      ?.id;
  }

  private admit(a: ChangeAttempt): Promise<Admission> {
    return this.governed(() => this.changes.admit(a));
  }

  /** Change management's refusals as the operations' errors. */
  private async governed<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ChangeRefused) throw new OperationError(e.code, e.message, e.fix);
      throw e;
    }
  }

  private governedSync<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ChangeRefused) throw new OperationError(e.code, e.message, e.fix);
      throw e;
    }
  }

  /** Tokens as listed (no hashes); the API's token routes (the CLI's `token` works on the store). */
  async tokenList(): Promise<TokenView[]> {
    return await this.tokens().list();
  }

  async revokeToken(id: string): Promise<TokenView> {
    try {
      await this.tokens().revoke(id);
    } catch (e) {
      if (e instanceof TokenRequestError)
        throw new OperationError(
          (await this.store.tokens.tryGetToken(id)) ? 'refused' : 'not-found',
          e.message,
          '`GET /v1/tokens` lists the tokens and their states',
        );
      throw e;
    }
    const view = (await this.tokens().list()).find((t) => t.id === id);
    if (!view) throw new OperationError('not-found', `no token \`${id}\``);
    return view;
  }

  /** Recomputes the audit log's hash chain (security/audit.ts), as `groundwork audit verify` does. */
  async auditVerify(): Promise<AuditVerification> {
    return await new AuditLog(this.store.audit, this.installation.clock).verify();
  }

  async auditEntries(after: number, limit: number): Promise<AuditRecord[]> {
    return await new AuditLog(this.store.audit, this.installation.clock).list(after, limit);
  }

  private tokens(): Tokens {
    // Listing and revoking read no people: the stack file's users only narrow tokens at use.
    return new Tokens(this.store.tokens, this.installation.clock, new FixedUsers(undefined));
  }

  async change(id: number): Promise<ChangeView> {
    const c = Number.isInteger(id) ? await this.store.journal.tryGetChange(id) : undefined;
    if (!c) throw new OperationError('not-found', `there is no change #${id}`, '`groundwork history` lists them');
    return { ...c, steps: await this.store.journal.entries(id) };
  }

  async events(service: string | undefined, limit: number): Promise<InstanceEvent[]> {
    return this.store.events.listEvents(service === undefined ? undefined : await this.serviceAddress(service), limit);
  }

  async logs(service: string, query: LogsQuery, write: (text: string) => void, signal?: AbortSignal): Promise<void> {
    return readServiceLogs(
      this.installation,
      await this.serviceAddress(service),
      query,
      write,
      signal,
      this.runtime.logIndex,
    );
  }

  /** The address of an applied service, or a not-found error that lists the applied ones. */
  async serviceAddress(name: string): Promise<Address> {
    const a = addr('service', name);
    if (!(await this.store.resources.tryGetResource(a))) {
      const known = (await this.store.resources.listResources())
        .filter((r) => r.kind === 'service')
        .map((r) => r.address.slice('service.'.length));
      throw new OperationError(
        'not-found',
        `there is no applied service \`${name}\``,
        known.length ? `applied services: ${known.join(', ')}` : 'apply the stack first',
      );
    }
    return a;
  }

  private async requireRow(address: Address): Promise<ResourceRow> {
    const row = await this.store.resources.tryGetResource(address);
    if (!row) throw new OperationError('not-found', `${address} is not applied`, 'apply the stack first');
    return row;
  }

  private driverOf(service: string, runtime: Runtime) {
    const d = this.installation.drivers.drivers[runtime];
    if (!d)
      throw new OperationError('unavailable', `runtime ${runtime} of service \`${service}\` is not available here`);
    return d;
  }

  /** Without a daemon nobody probes: an instance is running or it is not. */
  private async unsupervisedViews(
    service: string,
    runtime: Runtime,
    instances: InstanceOutput[],
  ): Promise<InstanceView[]> {
    const driver = this.installation.drivers.drivers[runtime];
    const views: InstanceView[] = [];
    for (const i of instances) {
      const h = handleOf(i, service);
      const seen = driver ? await driver.inspect(h) : ({ state: 'missing' } as const);
      const running = seen.state === 'running';
      views.push({
        service,
        index: i.index,
        id: i.id,
        pid: running && driver ? driver.describe(h).pid : null,
        state: running ? 'running' : 'exited',
        reason: running
          ? 'running; not supervised (no daemon)'
          : seen.state === 'exited'
            ? `exited with code ${seen.exitCode ?? '?'}`
            : 'gone',
        since: i.startedAt,
        startedAt: running ? i.startedAt : null,
        restarts: i.restarts ?? 0,
        ports: i.ports,
        ready: false,
        lastProbe: null,
        limits: i.limits || null,
        lastExit:
          seen.state === 'exited' ? { code: seen.exitCode, signal: seen.signal, at: i.gone ?? i.startedAt } : null,
        logDroppedLines: runtime === 'process' ? (droppedLines(i.logFile, i.id) ?? null) : null,
      });
    }
    return views;
  }
}

function serviceStatus(
  name: string,
  spec: ServiceSpec,
  outs: ServiceOutputs,
  instances: InstanceView[],
): ServiceStatus {
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
    address: outs.address ? { host: outs.address.host, ports: { ...outs.address.ports } } : null,
    instances,
  };
}

/** A plan as the JSON a change request keeps (what `plan --json` prints). */
function planJson(plan: Plan): JsonObject {
  return JSON.parse(JSON.stringify(plan)) as JsonObject;
}

function serviceKindOf(installation: Installation): ServiceKind {
  const k = tryServiceKind(installation.kinds);
  if (!k) throw new Error('the service kind of this installation is not the built-in one');
  return k;
}

/** Swarm tasks as status rows: the cluster supervises them, we report what was last seen. */
function swarmViews(service: string, instances: InstanceOutput[]): InstanceView[] {
  return instances.map((i) => {
    const task = i as InstanceOutput & { taskState?: string; node?: string };
    return {
      service,
      index: i.index,
      id: i.id,
      pid: describeInstance(i).pid,
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
      logDroppedLines: null,
    };
  });
}

/** The service rows with their spec and outputs read. */
function serviceRowsOf(rows: readonly ResourceRow[]) {
  return rows
    .filter((r) => r.kind === 'service')
    .map((r) => ({
      name: r.address.slice('service.'.length),
      spec: serviceSpecOf(r),
      outs: serviceOutputsOf(r),
    }));
}
