/**
 * `deploy` and `rollback`: a release (built, or an earlier one) rolled out to a service, recorded
 * as a change with its journal, so history shows who deployed what and how it ended.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { address as addr, type Address, type JsonObject } from '../model/resource.js';
import type { Model } from '../model/build-model.js';
import { PartialFailure, type KindContext } from '../kinds/resource-kind.js';
import type { ServiceKind } from '../kinds/service/service-kind.js';
import { handleOf } from '../kinds/service/service-kind.js';
import { checkedServiceOutputs, serviceOutputsOf, serviceSpecOf } from '../kinds/service/service-spec.js';
import { configSnapshotDir } from '../kinds/service/service-kind.js';
import type { ReleaseRecord, Store } from '../store/store.js';
import { Duration } from '../util/duration.js';
import { BuildFailed, buildRelease, pruneReleases, sourceDirOf } from '../deploy/release-builder.js';
import { OperationError } from './errors.js';
import { resolveGitRef } from '../change/deploy-pin.js';
import { errorMessage } from '../util/error-message.js';
import type { CoreEvent } from './events.js';
import type { KillPoints, TestKillHook } from './test-kill-point.js';

export interface DeployEvent {
  type: 'progress';
  message: string;
}

export interface DeployResult {
  ok: boolean;
  service: string;
  /** The release that runs now. */
  release: number | null;
  /** The release that was attempted. */
  attempted: number | null;
  rolledBack: boolean;
  changeId: number | null;
  reason?: string;
  ms: number;
}

export interface DeployerDeps {
  store: Store;
  kind: ServiceKind;
  /** A full kind context (ports, outputsOf, progress are filled in by the caller). */
  context: (progress: (m: string) => void) => Promise<KindContext>;
  stateDir: string;
  hooks?: { beforeStep?(address: Address): Promise<void>; afterStep?(address: Address): Promise<void> };
  /** The installation's bus: release and change events. */
  publish(e: CoreEvent): void;
  /** Test-only: SIGKILL at a chosen point (GROUNDWORK_TEST_KILL_AT); inert unless set. */
  killHook?: TestKillHook;
}

const NO_KILL_POINTS: KillPoints = { pass: () => undefined, end: () => undefined };

export class Deployer {
  constructor(private readonly deps: DeployerDeps) {}

  private async row(service: string) {
    const a = addr('service', service);
    const row = await this.deps.store.resources.tryGetResource(a);
    if (!row) {
      const known = (await this.deps.store.resources.listResources())
        .filter((r) => r.kind === 'service')
        .map((r) => r.address.slice(8));
      throw new OperationError(
        'not-found',
        `service \`${service}\` is not applied${known.length ? ` (applied services: ${known.join(', ')})` : ''}; run \`groundwork apply\` first`,
      );
    }
    return { a, row };
  }

  async deploy(
    model: Model,
    service: string,
    opts: { ref?: string; pinned?: { ref: string; request: number }; message: string; author: string },
    report: (m: string) => void,
  ): Promise<DeployResult> {
    const kp = this.deps.killHook?.points('deploy') ?? NO_KILL_POINTS;
    const progress = (m: string) => {
      kp.pass(m);
      report(m);
    };
    try {
      return await this.deployWith(model, service, opts, progress, kp);
    } finally {
      kp.end();
    }
  }

  private async deployWith(
    model: Model,
    service: string,
    opts: { ref?: string; pinned?: { ref: string; request: number }; message: string; author: string },
    progress: (m: string) => void,
    kp: KillPoints,
  ): Promise<DeployResult> {
    const started = Date.now();
    const desired = model.resources.find((r) => r.address === addr('service', service));
    if (!desired) throw new OperationError('not-found', `service \`${service}\` is not in the stack file`);
    const { a, row } = await this.row(service);
    const ctx = await this.deps.context(progress);
    const to = serviceSpecOf(desired);
    // Checked before a release number is taken or a line is streamed: a ref that cannot be
    // deployed is the caller's mistake (an API status, an exit code), not a failed release.
    if (opts.ref !== undefined) checkGitRef(sourceDirOf(to, model.dir), opts.ref);
    let release: ReleaseRecord;
    try {
      release = await buildRelease(this.deps.store.releases, {
        service,
        spec: to,
        stackDir: model.dir,
        stateDir: this.deps.stateDir,
        ref: opts.ref,
        ...(opts.pinned ? { pinned: opts.pinned } : {}),
        message: opts.message,
        author: opts.author,
        exclude: model.resources
          .filter((r) => r.kind === 'volume')
          .map((r) => path.resolve(model.dir, String(r.spec.path))),
        now: () => ctx.clock.now(),
        progress,
        ...(ctx.secrets.redactor ? { redactor: ctx.secrets.redactor() } : {}),
      });
    } catch (e) {
      if (!(e instanceof BuildFailed)) throw e;
      const changeId = await this.deps.store.journal.beginChange({
        kind: 'deploy',
        author: opts.author,
        message: opts.message,
        planHash: '',
        summary: {},
      });
      const j = await this.deps.store.journal.startStep(changeId, a, `build v${e.release.seq}`);
      await this.deps.store.journal.finishStep(j, 'failed', { kind: 'none' }, e.message);
      await this.deps.store.journal.finishChange(changeId, 'failed', { failed: 1 });
      progress(`${e.message}; the running release is untouched`);
      this.deps.publish({ type: 'release', service, seq: e.release.seq, phase: 'failed', detail: e.message });
      this.deps.publish({ type: 'change', changeId, kind: 'deploy', outcome: 'failed', author: opts.author });
      return {
        ok: false,
        service,
        release: serviceOutputsOf(row).release?.seq ?? null,
        attempted: e.release.seq,
        rolledBack: false,
        changeId,
        reason: e.message,
        ms: Date.now() - started,
      };
    }
    const result = await this.rollTo(
      a,
      service,
      row.spec,
      row.outputs,
      { spec: desired.spec, dir: release.dir, seq: release.seq },
      'deploy',
      opts,
      ctx,
      progress,
      started,
      kp,
    );
    const outs = serviceOutputsOf(await this.deps.store.resources.tryGetResource(a));
    const inUse = new Set<number>(
      [outs.release?.seq, outs.standby?.release].filter((x): x is number => typeof x === 'number'),
    );
    await pruneReleases(this.deps.store.releases, service, to.deploy.keep_releases, inUse, progress, ctx.stateDir);
    return result;
  }

  async rollback(
    service: string,
    opts: { to?: number; message: string; author: string },
    report: (m: string) => void,
  ): Promise<DeployResult> {
    const kp = this.deps.killHook?.points('rollback') ?? NO_KILL_POINTS;
    const progress = (m: string) => {
      kp.pass(m);
      report(m);
    };
    try {
      return await this.rollbackWith(service, opts, progress, kp);
    } finally {
      kp.end();
    }
  }

  private async rollbackWith(
    service: string,
    opts: { to?: number; message: string; author: string },
    progress: (m: string) => void,
    kp: KillPoints,
  ): Promise<DeployResult> {
    const started = Date.now();
    const { a, row } = await this.row(service);
    const outs = serviceOutputsOf(row);
    const current = outs.release?.seq ?? null;
    const releases = await this.deps.store.releases.listReleases(service, 200);
    const ctx = await this.deps.context(progress);
    const target =
      opts.to !== undefined
        ? releases.find((r) => r.seq === opts.to)
        : releases.find(
            (r) =>
              r.seq !== current &&
              (current === null || r.seq < current) &&
              ['superseded', 'active'].includes(r.status) &&
              existsSync(r.dir) &&
              codeDirOfRelease(r, service, ctx) !== undefined,
          );
    if (!target)
      throw new OperationError(
        'not-found',
        opts.to !== undefined
          ? `service \`${service}\` has no release v${opts.to}; \`groundwork releases ${service}\` lists them`
          : `service \`${service}\` has no earlier release to roll back to`,
      );
    if (target.seq === current)
      throw new OperationError('refused', `v${target.seq} already runs; nothing to roll back`);
    if (!existsSync(target.dir) || target.status === 'pruned')
      throw new OperationError(
        'refused',
        `release v${target.seq} was pruned (its code is gone); keep more with deploy.keep_releases`,
      );
    if (['build-failed'].includes(target.status))
      throw new OperationError('refused', `release v${target.seq} never built; it cannot run`);
    // A process runs its code from the directory; a container runs its image (the code) instead.
    const codeDir = codeDirOfRelease(target, service, ctx);
    if (codeDir === undefined) {
      throw new OperationError(
        'refused',
        `release v${target.seq} was recorded by apply and ran from the stack directory, and its copy of that code is gone (pruned); roll back to a kept release (\`groundwork releases ${service}\`), or restore the code and apply`,
      );
    }
    // Blue-green standby of exactly that release: switch back at once.
    if (outs.standby && outs.standby.release === target.seq && ctx.traffic) {
      return this.switchToStandby(a, service, target, row.spec, row.outputs, opts, ctx, progress, started, kp);
    }
    return this.rollTo(
      a,
      service,
      row.spec,
      row.outputs,
      { spec: target.spec, dir: codeDir, seq: target.seq },
      'rollback',
      opts,
      ctx,
      progress,
      started,
      kp,
    );
  }

  private async rollTo(
    a: Address,
    service: string,
    fromSpec: JsonObject,
    fromOutputs: JsonObject,
    to: { spec: JsonObject; dir: string; seq: number },
    kind: 'deploy' | 'rollback',
    opts: { message: string; author: string },
    ctx: KindContext,
    progress: (m: string) => void,
    started: number,
    kp: KillPoints,
  ): Promise<DeployResult> {
    const store = this.deps.store;
    const outs = serviceOutputsOf({ address: a, outputs: fromOutputs });
    const changeId = await store.journal.beginChange({
      kind,
      author: opts.author,
      message: opts.message,
      planHash: '',
      summary: {},
    });
    const j = await store.journal.startStep(changeId, a, `${kind} v${to.seq}`);
    kp.pass(`journal: ${kind} v${to.seq} started`);
    this.deps.publish({ type: 'release', service, seq: to.seq, phase: 'started', detail: `${kind} by ${opts.author}` });
    await this.deps.hooks?.beforeStep?.(a);
    const previous = outs.release?.seq ?? null;
    try {
      // The service's backend decides what a rollback is (Swarm has its own; locally it is a rollout).
      const move =
        kind === 'rollback' ? this.deps.kind.rollback.bind(this.deps.kind) : this.deps.kind.deploy.bind(this.deps.kind);
      const newOutputs = await move(
        ctx,
        a,
        {
          spec: serviceSpecOf({ address: a, spec: fromSpec }),
          codeDir: outs.release?.dir ?? ctx.dir,
          release: previous,
        },
        outs.instances,
        { spec: serviceSpecOf({ address: a, spec: to.spec }), codeDir: to.dir, release: to.seq },
        outs,
      );
      kp.pass(`journal: v${to.seq} runs, not yet recorded`);
      await store.journal.finishStep(j, 'applied', {
        kind: 'upsert',
        row: { ...(await this.rowBase(a)), spec: to.spec, outputs: checkedServiceOutputs(a, newOutputs) },
      });
      if (kind === 'rollback' && previous !== null)
        await store.releases.updateRelease(service, previous, {
          status: 'rolled-back',
          detail: `rolled back to v${to.seq}`,
        });
      kp.pass(`journal: v${to.seq} recorded, change not finished`);
      await store.journal.finishChange(changeId, 'applied', { applied: 1 });
      this.deps.publish({ type: 'release', service, seq: to.seq, phase: 'finished', detail: `${kind} complete` });
      this.deps.publish({ type: 'change', changeId, kind, outcome: 'applied', author: opts.author });
      progress(`${service} now runs v${to.seq}`);
      return {
        ok: true,
        service,
        release: to.seq,
        attempted: to.seq,
        rolledBack: false,
        changeId,
        ms: Date.now() - started,
      };
    } catch (e) {
      const reason = errorMessage(e);
      const rolledBack = e instanceof PartialFailure && reason.startsWith('rolled back');
      if (e instanceof PartialFailure) {
        await store.journal.finishStep(
          j,
          'failed',
          {
            kind: 'upsert',
            row: { ...(await this.rowBase(a)), spec: rolledBack ? fromSpec : to.spec, outputs: e.outputs },
          },
          reason,
        );
      } else await store.journal.finishStep(j, 'failed', { kind: 'none' }, reason);
      await store.journal.finishChange(changeId, 'failed', { failed: 1 });
      this.deps.publish({
        type: 'release',
        service,
        seq: to.seq,
        phase: rolledBack ? 'rolled-back' : 'failed',
        detail: reason,
      });
      this.deps.publish({ type: 'change', changeId, kind, outcome: 'failed', author: opts.author });
      const now = serviceOutputsOf(await store.resources.tryGetResource(a)).release?.seq ?? null;
      return {
        ok: false,
        service,
        release: now,
        attempted: to.seq,
        rolledBack,
        changeId,
        reason,
        ms: Date.now() - started,
      };
    } finally {
      await this.deps.hooks?.afterStep?.(a);
    }
  }

  private async rowBase(a: Address) {
    const row = await this.deps.store.resources.tryGetResource(a);
    return { address: a, kind: 'service' as const, dependsOn: row?.dependsOn ?? [] };
  }

  private async switchToStandby(
    a: Address,
    service: string,
    target: ReleaseRecord,
    fromSpec: JsonObject,
    fromOutputs: JsonObject,
    opts: { message: string; author: string },
    ctx: KindContext,
    progress: (m: string) => void,
    started: number,
    kp: KillPoints,
  ): Promise<DeployResult> {
    const store = this.deps.store;
    const outs = serviceOutputsOf({ address: a, outputs: fromOutputs });
    const standby = outs.standby?.instances ?? [];
    const changeId = await store.journal.beginChange({
      kind: 'rollback',
      author: opts.author,
      message: opts.message,
      planHash: '',
      summary: {},
    });
    const j = await store.journal.startStep(changeId, a, `rollback v${target.seq} (standby)`);
    kp.pass(`journal: rollback v${target.seq} (standby) started`);
    await this.deps.hooks?.beforeStep?.(a);
    try {
      const driver = ctx.drivers[serviceSpecOf({ address: a, spec: target.spec }).runtime];
      const alive = [];
      for (const i of standby)
        if (driver && (await driver.inspect(handleOf(i, service))).state === 'running') alive.push(i);
      if (alive.length < standby.length || !driver) throw new Error('the standby set is no longer complete');
      ctx.traffic?.claim(service);
      ctx.traffic?.route(
        service,
        alive.map((instance) => ({ instance, weight: 100 })),
      );
      progress(`switched traffic back to v${target.seq} (warm standby, ${alive.length} instances)`);
      const spec = serviceSpecOf({ address: a, spec: fromSpec });
      for (const i of outs.instances) {
        await ctx.traffic?.drain(service, i, Duration.parse(spec.deploy.drain_timeout));
        const h = handleOf(i, service);
        await driver.stop(h, Duration.parse(spec.stop_grace));
        await driver.forget(h);
      }
      ctx.traffic?.release(service);
      const newOutputs = checkedServiceOutputs(a, {
        instances: alive,
        release: { seq: target.seq, dir: target.dir },
        standby: null,
        address: outs.address ?? null, // the stable address stays with the service
      });
      kp.pass(`journal: v${target.seq} serves, not yet recorded`);
      await store.journal.finishStep(j, 'applied', {
        kind: 'upsert',
        row: { ...(await this.rowBase(a)), spec: target.spec, outputs: newOutputs },
      });
      if (outs.release)
        await store.releases.updateRelease(service, outs.release.seq, {
          status: 'rolled-back',
          detail: `rolled back to v${target.seq}`,
        });
      await store.releases.updateRelease(service, target.seq, { status: 'active' });
      kp.pass(`journal: v${target.seq} recorded, change not finished`);
      await store.journal.finishChange(changeId, 'applied', { applied: 1 });
      this.deps.publish({
        type: 'release',
        service,
        seq: target.seq,
        phase: 'finished',
        detail: 'switched back to the warm standby',
      });
      this.deps.publish({ type: 'change', changeId, kind: 'rollback', outcome: 'applied', author: opts.author });
      return {
        ok: true,
        service,
        release: target.seq,
        attempted: target.seq,
        rolledBack: false,
        changeId,
        ms: Date.now() - started,
      };
    } catch (e) {
      ctx.traffic?.release(service);
      await store.journal.finishStep(j, 'failed', { kind: 'none' }, errorMessage(e));
      await store.journal.finishChange(changeId, 'failed', { failed: 1 });
      progress(`standby switch failed (${errorMessage(e)}); rolling out v${target.seq} instead`);
      return this.rollTo(
        a,
        service,
        fromSpec,
        fromOutputs,
        { spec: target.spec, dir: target.dir, seq: target.seq },
        'rollback',
        opts,
        ctx,
        progress,
        started,
        kp,
      );
    } finally {
      await this.deps.hooks?.afterStep?.(a);
    }
  }
}

/**
 * A release `apply` recorded for a process service runs from the live stack directory: its code
 * is whatever is there today, so it cannot be restored (a container's code is its image).
 */
/**
 * The directory a release's code is in: its own, or for a release apply recorded while the
 * service ran from the stack directory, the copy apply kept of it (undefined once pruned).
 */
function codeDirOfRelease(r: ReleaseRecord, service: string, ctx: KindContext): string | undefined {
  if (!runsFromLiveStack(r, ctx.dir)) return r.dir;
  const copy = configSnapshotDir(ctx.stateDir, service, r.seq);
  return existsSync(copy) ? copy : undefined;
}

function runsFromLiveStack(r: ReleaseRecord, stackDir: string): boolean {
  return (
    r.kind === 'config' &&
    r.dir === stackDir &&
    serviceSpecOf({ address: `service.${r.service} v${r.seq}`, spec: r.spec }).runtime === 'process'
  );
}

/** Why a git ref cannot be deployed from `src`, as an OperationError; nothing when it names a commit. */
function checkGitRef(src: string, ref: string): void {
  const r = resolveGitRef(src, ref);
  switch (r.kind) {
    case 'commit':
      return;
    case 'no-git':
      throw new OperationError(
        'unavailable',
        `\`--ref ${ref}\` needs git, and git is not installed on this machine`,
        'install git (Debian: apt-get install git), or deploy without --ref to take the working tree',
      );
    case 'not-a-repository':
      throw new OperationError(
        'bad-request',
        `\`--ref ${ref}\` names a git commit, but ${src} is not in a git repository`,
        'deploy without --ref to take the files as they are, or make the folder a git repository (git init; git add -A; git commit)',
      );
    case 'no-such-ref':
      throw new OperationError(
        'not-found',
        `\`${ref}\` is not a commit, branch or tag of the git repository at ${r.top}`,
        '`git log --oneline` and `git branch -a` list what can be deployed',
      );
  }
}
