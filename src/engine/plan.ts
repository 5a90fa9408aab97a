/**
 * Planning is pure: desired resources × recorded state → ordered steps. It never reads the
 * world (see refresh.ts for that) and the same inputs give the same plan and hash.
 */
import { canonicalJson, canonicalJsonSha256 } from '../config/load.js';
import type { Model } from '../model/build-model.js';
import type { Address, JsonObject, ResourceKindName } from '../model/resource.js';
import { fieldChanges, type FieldChange } from '../model/field-diff.js';
import { ShapeError, type DiffResult, type KindRegistry, type ResourceKind } from '../kinds/resource-kind.js';
import type { ResourceRow } from '../store/store.js';

export const PLAN_FORMAT_VERSION = 1 as const;
export const ACTIONS = ['create', 'update', 'replace', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];

export interface PlanStep {
  address: Address;
  kind: ResourceKindName;
  action: Action;
  /** Field-level changes; `after` for create, `before` for delete. */
  changes: FieldChange[];
  /** Fields whose change forces replacement. */
  replaceBecause: string[];
  /** Steps that must finish first (addresses of other steps in this plan). */
  after: Address[];
  /** Desired spec (absent for delete). */
  spec?: JsonObject;
  dependsOn: Address[];
}

export interface Plan {
  formatVersion: typeof PLAN_FORMAT_VERSION;
  stack: string;
  /** State serial the plan was made against; apply refuses the plan when it moved. */
  stateSerial: number;
  configHash: string;
  steps: PlanStep[];
  summary: Record<Action, number> & { unchanged: number };
  /** sha256 over everything above. */
  planHash: string;
}

export function makePlan(model: Model, rows: readonly ResourceRow[], serial: number, kinds: KindRegistry): Plan {
  const recorded = new Map(rows.map((r) => [r.address, r]));
  const desired = new Set(model.resources.map((r) => r.address));
  const steps: PlanStep[] = [];
  let unchanged = 0;
  const changing = new Set<Address>();

  for (const r of model.resources) {
    const old = recorded.get(r.address);
    if (!old) {
      steps.push({
        address: r.address,
        kind: r.kind,
        action: 'create',
        changes: fieldChanges({}, r.spec).filter((c) => c.after !== null),
        replaceBecause: [],
        after: [],
        spec: r.spec,
        dependsOn: r.dependsOn,
      });
      changing.add(r.address);
      continue;
    }
    const kind = kinds[r.kind];
    const d =
      old.kind === r.kind
        ? diffOf(kind, r.address, old, r.spec)
        : { changes: ['kind'], replaces: ['kind'], stables: [] };
    const depsChanged = !sameAddresses(old.dependsOn, r.dependsOn);
    if (d.changes.length === 0 && !depsChanged) {
      unchanged++;
      continue;
    }
    const changes = fieldChanges(old.spec, r.spec);
    // Changes the kind found beyond the spec fields, as the kind describes them.
    for (const extra of d.changes.filter((c) => !changes.some((fc) => fc.path === c))) {
      const detail = d.details?.find((x) => x.path === extra);
      changes.push({ path: extra, before: detail?.before ?? null, after: detail?.after ?? null });
    }
    if (depsChanged) changes.push({ path: 'depends_on (graph)', before: old.dependsOn, after: r.dependsOn });
    steps.push({
      address: r.address,
      kind: r.kind,
      action: d.replaces.length ? 'replace' : 'update',
      changes,
      replaceBecause: d.replaces,
      after: [],
      spec: r.spec,
      dependsOn: r.dependsOn,
    });
    changing.add(r.address);
  }
  // Deletions: dependents go first (reverse of the recorded graph).
  const deletions = rows.filter((r) => !desired.has(r.address)).sort((a, b) => a.address.localeCompare(b.address));
  for (const r of deletions) {
    steps.push({
      address: r.address,
      kind: r.kind,
      action: 'delete',
      changes: fieldChanges(r.spec, {}).filter((c) => c.before !== null),
      replaceBecause: [],
      after: [],
      dependsOn: r.dependsOn,
    });
    changing.add(r.address);
  }
  const deleted = new Set(deletions.map((r) => r.address));
  // Recorded dependents of each address, each once, for the deletions.
  const recordedDependents = new Map<Address, Set<Address>>();
  if (deletions.length > 0) {
    for (const o of rows) {
      for (const d of o.dependsOn) {
        let set = recordedDependents.get(d);
        if (!set) {
          set = new Set();
          recordedDependents.set(d, set);
        }
        set.add(o.address);
      }
    }
  }
  for (const s of steps) {
    if (s.action === 'delete') {
      // Wait for every step of a resource that (by record) depends on this one.
      s.after = [...(recordedDependents.get(s.address) ?? [])].filter((a) => changing.has(a)).sort();
    } else {
      s.after = s.dependsOn.filter((d) => changing.has(d) && !deleted.has(d)).sort();
    }
  }
  const summary = { create: 0, update: 0, replace: 0, delete: 0, unchanged };
  for (const s of steps) summary[s.action]++;
  const body = {
    formatVersion: PLAN_FORMAT_VERSION,
    stack: model.stack,
    stateSerial: serial,
    configHash: model.configHash,
    steps,
    summary,
  };
  return { ...body, planHash: planHashOf(body) };
}

/** The hash over everything in a plan but the hash itself; a saved plan is checked against it. */
export function planHashOf(p: Omit<Plan, 'planHash'> & { planHash?: string }): string {
  const { planHash: _ignored, ...body } = p;
  return canonicalJsonSha256(body);
}

/** The kind's diff; a spec or recorded outputs that do not have the kind's shape name the resource. */
function diffOf(kind: ResourceKind, at: Address, old: ResourceRow, next: JsonObject): DiffResult {
  try {
    return kind.diff(old.spec, next, old.outputs);
  } catch (e) {
    throw e instanceof ShapeError ? e.at(at) : e;
  }
}

/** Equal as canonical JSON; lists of identical addresses, the usual case, without writing JSON. */
function sameAddresses(a: readonly Address[], b: readonly Address[]): boolean {
  if (a.length === b.length && a.every((x, i) => x === b[i])) return true;
  return canonicalJson(a) === canonicalJson(b);
}

export function isEmptyPlan(p: Plan): boolean {
  return p.steps.length === 0;
}
