/**
 * Apply walks the plan's step graph with bounded parallelism. Each step journals its intent
 * before touching the world and records its result, state write and serial bump in one
 * transaction. A failed step skips its dependents; independent branches finish.
 */
import { MinHeap } from '../model/graph.js';
import type { Address, JsonObject } from '../model/resource.js';
import { PartialFailure, type KindContextBase, type KindRegistry, type PortRange } from '../kinds/resource-kind.js';
import type { ChangeOutcome, JournalEntry, SkippedStep, Store, StepWrite } from '../store/store.js';
import type { Plan, PlanStep } from './plan.js';
import { runContext } from './run-context.js';

export type ApplyEvent =
  | { seq: number; type: 'recovered'; entries: { address: string; action: string; changeId: number }[] }
  | { seq: number; type: 'change-start'; changeId: number; steps: number }
  | { seq: number; type: 'step-start'; address: string; action: string }
  | { seq: number; type: 'progress'; address: string; message: string }
  | {
      seq: number;
      type: 'step-end';
      address: string;
      action: string;
      status: 'applied' | 'failed' | 'skipped';
      error?: string;
      ms: number;
    }
  | { seq: number; type: 'change-end'; result: ApplyResult };

export interface ApplyResult {
  changeId: number;
  outcome: ChangeOutcome;
  applied: string[];
  failed: { address: string; error: string }[];
  skipped: { address: string; because: string }[];
  serial: number;
}

export interface ApplyOptions {
  store: Store;
  kinds: KindRegistry;
  /** The kind context minus what apply and the kinds' `prepare` provide. */
  context: KindContextBase;
  parallelism: number;
  author: string;
  message: string;
  onEvent?: (e: ApplyEvent) => void;
  /** Where `auto` ports come from, for the kind that hands them out. */
  portRange?: PortRange;
  /** The daemon pauses supervision of a resource while its step runs. */
  hooks?: { beforeStep?(address: Address): Promise<void>; afterStep?(address: Address): Promise<void> };
  /** What the change record calls this change (default `apply`; `rotate`: a secret rotation's rollout). */
  changeKind?: 'apply' | 'rotate';
}

export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const { store, kinds } = opts;
  let seq = 0;
  const emit = (e: Record<string, unknown> & { type: ApplyEvent['type'] }) =>
    opts.onEvent?.({ ...e, seq: ++seq } as ApplyEvent);

  const recovered: JournalEntry[] = await store.journal.recoverInterrupted();
  if (recovered.length)
    emit({
      type: 'recovered',
      entries: recovered.map((j) => ({ address: j.address, action: j.action, changeId: j.changeId })),
    });

  if (plan.steps.length === 0 && recovered.length === 0) {
    // Nothing to do and nothing to finish: no change record, so history shows only real changes.
    return {
      changeId: 0,
      outcome: 'no-op',
      applied: [],
      failed: [],
      skipped: [],
      serial: await store.resources.serial(),
    };
  }

  const { serial: serialBefore, rows } = await store.resources.readState();
  const outputs = new Map<Address, JsonObject>(rows.map((r) => [r.address, r.outputs]));
  const recordedSpec = new Map(rows.map((r) => [r.address, r]));
  const ctx = await runContext(
    kinds,
    {
      ...opts.context,
      releases: opts.context.releases ?? store.releases,
      change: { author: opts.author, message: opts.message },
    },
    { run: 'apply', recorded: rows, ...(opts.portRange ? { portRange: opts.portRange } : {}) },
    {
      outputsOf: (a) => outputs.get(a),
      progress: (address, message) => emit({ type: 'progress', address, message }),
    },
  );

  const changeId = await store.journal.beginChange({
    kind: opts.changeKind ?? 'apply',
    author: opts.author,
    message: opts.message,
    planHash: plan.planHash,
    summary: { ...plan.summary },
  });
  emit({ type: 'change-start', changeId, steps: plan.steps.length });

  const board = new StepBoard(plan.steps);
  const status: ReadonlyMap<Address, StepState> = board.status;
  const result: ApplyResult = {
    changeId,
    outcome: 'running',
    applied: [],
    failed: [],
    skipped: [],
    serial: serialBefore,
  };

  const runStep = async (step: PlanStep): Promise<void> => {
    try {
      await runStepInner(step);
    } finally {
      await opts.hooks?.afterStep?.(step.address);
    }
  };
  const runStepInner = async (step: PlanStep): Promise<void> => {
    const started = Date.now();
    emit({ type: 'step-start', address: step.address, action: step.action });
    await opts.hooks?.beforeStep?.(step.address);
    const journalId = await store.journal.startStep(changeId, step.address, step.action);
    const kind = kinds[step.kind];
    const prior = recordedSpec.get(step.address);
    let write: StepWrite = { kind: 'none' };
    try {
      switch (step.action) {
        case 'create': {
          const out = await kind.create(ctx, step.address, step.spec as JsonObject);
          write = {
            kind: 'upsert',
            row: {
              address: step.address,
              kind: step.kind,
              spec: step.spec as JsonObject,
              outputs: out,
              dependsOn: step.dependsOn,
            },
          };
          break;
        }
        case 'update': {
          const out = await kind.update(
            ctx,
            step.address,
            prior?.spec ?? {},
            step.spec as JsonObject,
            prior?.outputs ?? {},
          );
          write = {
            kind: 'upsert',
            row: {
              address: step.address,
              kind: step.kind,
              spec: step.spec as JsonObject,
              outputs: out,
              dependsOn: step.dependsOn,
            },
          };
          break;
        }
        case 'replace': {
          if (prior) await kinds[prior.kind].delete(ctx, step.address, prior.spec, prior.outputs);
          outputs.delete(step.address);
          const out = await kind.create(ctx, step.address, step.spec as JsonObject);
          write = {
            kind: 'upsert',
            row: {
              address: step.address,
              kind: step.kind,
              spec: step.spec as JsonObject,
              outputs: out,
              dependsOn: step.dependsOn,
            },
          };
          break;
        }
        case 'delete':
          if (prior) await kinds[prior.kind].delete(ctx, step.address, prior.spec, prior.outputs);
          write = { kind: 'delete', address: step.address };
          break;
      }
      result.serial = await store.journal.finishStep(journalId, 'applied', write);
      if (write.kind === 'upsert') outputs.set(step.address, write.row.outputs);
      else outputs.delete(step.address);
      board.set(step.address, 'applied');
      result.applied.push(step.address);
      emit({
        type: 'step-end',
        address: step.address,
        action: step.action,
        status: 'applied',
        ms: Date.now() - started,
      });
    } catch (e) {
      const message = errorMessage(e);
      let failWrite: StepWrite = { kind: 'none' };
      if (e instanceof PartialFailure) {
        // Record what does exist; the spec stays the old one for updates, so the next plan retries.
        const spec = step.action === 'update' && prior ? prior.spec : (step.spec as JsonObject);
        failWrite = {
          kind: 'upsert',
          row: { address: step.address, kind: step.kind, spec, outputs: e.outputs, dependsOn: step.dependsOn },
        };
        outputs.set(step.address, e.outputs);
      } else if (step.action === 'replace') {
        failWrite = { kind: 'delete', address: step.address };
      }
      result.serial = await store.journal.finishStep(journalId, 'failed', failWrite, message);
      board.set(step.address, 'failed');
      result.failed.push({ address: step.address, error: message });
      emit({
        type: 'step-end',
        address: step.address,
        action: step.action,
        status: 'failed',
        error: message,
        ms: Date.now() - started,
      });
    }
  };

  // Scheduler: start every step whose prerequisites are done, up to `parallelism` at once. It
  // acts exactly as scanning the steps in plan order until nothing changes would (skips and
  // starts in that order), but visits only the steps that can act (see StepBoard).
  // The pump runs synchronously, so the steps it skips are journaled in one batch at the end of
  // each pass. The batch is issued before any step started in the same pass reaches its own
  // startStep (that waits for beforeStep first), so the journal keeps the scheduler's order.
  // finishChange waits for every batch; a failed batch fails the apply before the change closes.
  const skipWrites: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    let running = 0;
    const parallelism = Math.max(1, opts.parallelism);
    const pump = () => {
      const skips: SkippedStep[] = [];
      for (let progressed = true; progressed; board.endPass()) {
        progressed = false;
        for (let i = board.next(running < parallelism); i !== undefined; i = board.next(running < parallelism)) {
          const step = plan.steps[i] as PlanStep;
          if (status.get(step.address) !== 'pending') continue;
          const blocker = step.after.find((a) => status.get(a) === 'failed' || status.get(a) === 'skipped');
          if (blocker) {
            board.set(step.address, 'skipped');
            const because = `${blocker} ${status.get(blocker) === 'failed' ? 'failed' : 'was skipped'}`;
            result.skipped.push({ address: step.address, because });
            skips.push({ address: step.address, action: step.action, because });
            emit({
              type: 'step-end',
              address: step.address,
              action: step.action,
              status: 'skipped',
              error: because,
              ms: 0,
            });
            progressed = true;
            continue;
          }
          if (running >= parallelism || !step.after.every((a) => status.get(a) === 'applied' || !status.has(a)))
            continue;
          board.set(step.address, 'running');
          running++;
          progressed = true;
          void runStep(step).finally(() => {
            running--;
            pump();
          });
        }
      }
      if (skips.length > 0) {
        const written = store.journal.skipSteps(changeId, skips);
        // Observed here so a failure is not an unhandled rejection; reported by the await below.
        written.catch(() => undefined);
        skipWrites.push(written);
      }
      if (running === 0 && board.unsettled === 0) resolve();
    };
    pump();
  });
  await Promise.all(skipWrites);

  result.outcome =
    plan.steps.length === 0
      ? 'no-op'
      : result.failed.length === 0 && result.skipped.length === 0
        ? 'applied'
        : result.applied.length === 0
          ? 'failed'
          : 'partial';
  await store.journal.finishChange(changeId, result.outcome, {
    applied: result.applied.length,
    failed: result.failed.length,
    skipped: result.skipped.length,
  });
  result.serial = await store.resources.serial();
  emit({ type: 'change-end', result });
  return result;
}

type StepState = 'pending' | 'running' | 'applied' | 'failed' | 'skipped';

/**
 * The steps of a plan as the scheduler sees them. Only steps that can act are queued, by plan
 * index: `ready` (every prerequisite in the plan applied) and `blocked` (a prerequisite failed
 * or was skipped). A step that becomes blocked behind the current position of a scan is queued
 * for the next scan, as a scan in plan order would only reach it then.
 */
class StepBoard {
  readonly status = new Map<Address, StepState>();
  /** Addresses not yet applied, failed or skipped. */
  unsettled: number;
  private readonly dependents = new Map<Address, number[]>();
  /** Per step: prerequisites in the plan not applied yet. */
  private readonly waiting: number[];
  private readonly ready = new MinHeap<number>();
  private readonly blocked = new MinHeap<number>();
  private readonly blockedNextScan = new MinHeap<number>();
  private scanAt = -1;

  constructor(steps: readonly PlanStep[]) {
    for (const s of steps) this.status.set(s.address, 'pending');
    this.unsettled = this.status.size;
    this.waiting = steps.map((s, i) => {
      const inPlan = new Set(s.after.filter((a) => this.status.has(a)));
      for (const a of inPlan) {
        const list = this.dependents.get(a);
        if (list) list.push(i);
        else this.dependents.set(a, [i]);
      }
      if (inPlan.size === 0) this.ready.push(i);
      return inPlan.size;
    });
  }

  set(address: Address, state: StepState): void {
    const before = this.status.get(address);
    this.status.set(address, state);
    if ((before === 'pending' || before === 'running') && state !== 'pending' && state !== 'running') this.unsettled--;
    if (state === 'applied') {
      for (const i of this.dependents.get(address) ?? []) if (--(this.waiting[i] as number) === 0) this.ready.push(i);
    } else if (state === 'failed' || state === 'skipped') {
      for (const i of this.dependents.get(address) ?? [])
        (i > this.scanAt ? this.blocked : this.blockedNextScan).push(i);
    }
  }

  /** The next step of this scan that may act, in plan order; ready steps only while there is room to start one. */
  next(room: boolean): number | undefined {
    const b = this.blocked.peek();
    const r = room ? this.ready.peek() : undefined;
    const i =
      b !== undefined && (r === undefined || b <= r)
        ? this.blocked.pop()
        : r !== undefined
          ? this.ready.pop()
          : undefined;
    if (i !== undefined) this.scanAt = i;
    return i;
  }

  endPass(): void {
    for (let i = this.blockedNextScan.pop(); i !== undefined; i = this.blockedNextScan.pop()) this.blocked.push(i);
    this.scanAt = -1;
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
