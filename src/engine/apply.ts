/**
 * Apply walks the plan's step graph with bounded parallelism. Each step journals its intent
 * before touching the world and records its result, state write and serial bump in one
 * transaction. A failed step skips its dependents; independent branches finish.
 */
import type { Address, JsonObject } from '../model/resource.js';
import { PartialFailure, type KindContext } from '../kinds/resource-kind.js';
import type { KindRegistry } from '../kinds/registry.js';
import { PortAllocator } from '../kinds/service/port-allocator.js';
import type { ChangeOutcome, JournalEntry, Store, StepWrite } from '../store/store.js';
import type { Plan, PlanStep } from './plan.js';

export type ApplyEvent =
  | { seq: number; type: 'recovered'; entries: { address: string; action: string; changeId: number }[] }
  | { seq: number; type: 'change-start'; changeId: number; steps: number }
  | { seq: number; type: 'step-start'; address: string; action: string }
  | { seq: number; type: 'progress'; address: string; message: string }
  | { seq: number; type: 'step-end'; address: string; action: string; status: 'applied' | 'failed' | 'skipped'; error?: string; ms: number }
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
  /** The kind context minus what apply provides. */
  context: Omit<KindContext, 'outputsOf' | 'progress' | 'ports'>;
  parallelism: number;
  author: string;
  message: string;
  onEvent?: (e: ApplyEvent) => void;
  portRange?: { from: number; to: number };
  /** The daemon pauses supervision of a resource while its step runs. */
  hooks?: { beforeStep?(address: Address): Promise<void>; afterStep?(address: Address): void };
}

/** Every port recorded in state, so a new allocation never collides with a running instance. */
export function recordedPorts(rows: { outputs: JsonObject }[]): number[] {
  const out: number[] = [];
  for (const r of rows) {
    const inst = r.outputs.instances;
    if (!Array.isArray(inst)) continue;
    for (const i of inst as JsonObject[]) {
      const ports = i.ports;
      if (ports && typeof ports === 'object' && !Array.isArray(ports)) for (const p of Object.values(ports)) if (typeof p === 'number') out.push(p);
    }
  }
  return out;
}

export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const { store, kinds } = opts;
  let seq = 0;
  const emit = (e: Record<string, unknown> & { type: ApplyEvent['type'] }) => opts.onEvent?.({ ...e, seq: ++seq } as ApplyEvent);

  const recovered: JournalEntry[] = store.recoverInterrupted();
  if (recovered.length) emit({ type: 'recovered', entries: recovered.map((j) => ({ address: j.address, action: j.action, changeId: j.changeId })) });

  if (plan.steps.length === 0 && recovered.length === 0) {
    // Nothing to do and nothing to finish: no change record, so history shows only real changes.
    return { changeId: 0, outcome: 'no-op', applied: [], failed: [], skipped: [], serial: store.serial() };
  }

  const rows = store.listResources();
  const outputs = new Map<Address, JsonObject>(rows.map((r) => [r.address, r.outputs]));
  const recordedSpec = new Map(rows.map((r) => [r.address, r]));
  const ports = new PortAllocator(recordedPorts(rows), opts.portRange);
  // Instances left by an interrupted run are not in state yet; their ports are taken too.
  for (const driver of Object.values(opts.context.drivers)) {
    for (const h of await driver.list(opts.context.stack)) for (const p of Object.values(h.ports)) ports.reserve(p);
  }
  const ctx: KindContext = {
    ...opts.context,
    releases: opts.context.releases ?? store,
    change: { author: opts.author, message: opts.message },
    ports,
    outputsOf: (a) => outputs.get(a),
    progress: (address, message) => emit({ type: 'progress', address, message }),
  };

  const changeId = store.beginChange({ kind: 'apply', author: opts.author, message: opts.message, planHash: plan.planHash, summary: { ...plan.summary } });
  emit({ type: 'change-start', changeId, steps: plan.steps.length });

  const status = new Map<Address, 'pending' | 'running' | 'applied' | 'failed' | 'skipped'>(plan.steps.map((s) => [s.address, 'pending']));
  const result: ApplyResult = { changeId, outcome: 'running', applied: [], failed: [], skipped: [], serial: store.serial() };

  const runStep = async (step: PlanStep): Promise<void> => {
    try {
      await runStepInner(step);
    } finally {
      opts.hooks?.afterStep?.(step.address);
    }
  };
  const runStepInner = async (step: PlanStep): Promise<void> => {
    const started = Date.now();
    emit({ type: 'step-start', address: step.address, action: step.action });
    await opts.hooks?.beforeStep?.(step.address);
    const journalId = store.startStep(changeId, step.address, step.action);
    const kind = kinds[step.kind];
    const prior = recordedSpec.get(step.address);
    let write: StepWrite = { kind: 'none' };
    try {
      switch (step.action) {
        case 'create': {
          const out = await kind.create(ctx, step.address, step.spec as JsonObject);
          write = { kind: 'upsert', row: { address: step.address, kind: step.kind, spec: step.spec as JsonObject, outputs: out, dependsOn: step.dependsOn } };
          break;
        }
        case 'update': {
          const out = await kind.update(ctx, step.address, prior?.spec ?? {}, step.spec as JsonObject, prior?.outputs ?? {});
          write = { kind: 'upsert', row: { address: step.address, kind: step.kind, spec: step.spec as JsonObject, outputs: out, dependsOn: step.dependsOn } };
          break;
        }
        case 'replace': {
          if (prior) await kinds[prior.kind].delete(ctx, step.address, prior.spec, prior.outputs);
          outputs.delete(step.address);
          const out = await kind.create(ctx, step.address, step.spec as JsonObject);
          write = { kind: 'upsert', row: { address: step.address, kind: step.kind, spec: step.spec as JsonObject, outputs: out, dependsOn: step.dependsOn } };
          break;
        }
        case 'delete':
          if (prior) await kinds[prior.kind].delete(ctx, step.address, prior.spec, prior.outputs);
          write = { kind: 'delete', address: step.address };
          break;
      }
      result.serial = store.finishStep(journalId, 'applied', write);
      if (write.kind === 'upsert') outputs.set(step.address, write.row.outputs); else outputs.delete(step.address);
      status.set(step.address, 'applied');
      result.applied.push(step.address);
      emit({ type: 'step-end', address: step.address, action: step.action, status: 'applied', ms: Date.now() - started });
    } catch (e) {
      const message = errorMessage(e);
      let failWrite: StepWrite = { kind: 'none' };
      if (e instanceof PartialFailure) {
        // Record what does exist; the spec stays the old one for updates, so the next plan retries.
        const spec = step.action === 'update' && prior ? prior.spec : (step.spec as JsonObject);
        failWrite = { kind: 'upsert', row: { address: step.address, kind: step.kind, spec, outputs: e.outputs, dependsOn: step.dependsOn } };
        outputs.set(step.address, e.outputs);
      } else if (step.action === 'replace') {
        failWrite = { kind: 'delete', address: step.address };
      }
      result.serial = store.finishStep(journalId, 'failed', failWrite, message);
      status.set(step.address, 'failed');
      result.failed.push({ address: step.address, error: message });
      emit({ type: 'step-end', address: step.address, action: step.action, status: 'failed', error: message, ms: Date.now() - started });
    }
  };

  // Scheduler: start every step whose prerequisites are done, up to `parallelism` at once.
  await new Promise<void>((resolve) => {
    let running = 0;
    const pump = () => {
      let progressed = true;
      while (progressed) {
        progressed = false;
        for (const step of plan.steps) {
          if (status.get(step.address) !== 'pending') continue;
          const blocker = step.after.find((a) => status.get(a) === 'failed' || status.get(a) === 'skipped');
          if (blocker) {
            status.set(step.address, 'skipped');
            const because = `${blocker} ${status.get(blocker) === 'failed' ? 'failed' : 'was skipped'}`;
            result.skipped.push({ address: step.address, because });
            const j = store.startStep(changeId, step.address, step.action);
            store.finishStep(j, 'skipped', { kind: 'none' }, because);
            emit({ type: 'step-end', address: step.address, action: step.action, status: 'skipped', error: because, ms: 0 });
            progressed = true;
            continue;
          }
          if (running >= Math.max(1, opts.parallelism)) continue;
          if (!step.after.every((a) => status.get(a) === 'applied' || !status.has(a))) continue;
          status.set(step.address, 'running');
          running++;
          progressed = true;
          void runStep(step).finally(() => { running--; pump(); });
        }
      }
      if (running === 0 && [...status.values()].every((s) => s !== 'pending' && s !== 'running')) resolve();
    };
    pump();
  });

  result.outcome = plan.steps.length === 0 ? 'no-op'
    : result.failed.length === 0 && result.skipped.length === 0 ? 'applied'
      : result.applied.length === 0 ? 'failed' : 'partial';
  store.finishChange(changeId, result.outcome, { applied: result.applied.length, failed: result.failed.length, skipped: result.skipped.length });
  result.serial = store.serial();
  emit({ type: 'change-end', result });
  return result;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
