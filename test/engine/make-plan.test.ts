/**
 * makePlan is pure: desired model × recorded rows × serial → ordered steps and a hash. These
 * tests call it directly (no process, no daemon): the model is built from stack text by the real
 * loader, the recorded rows are written by hand, and the kinds are the real ones.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import path from 'node:path';
import { parseStackText } from '../../src/config/load.js';
import type { StackConfig } from '../../src/config/schema.js';
import { buildModel, type Model } from '../../src/model/build-model.js';
import type { Address, JsonObject } from '../../src/model/resource.js';
import { makePlan, planHashOf, type Plan } from '../../src/engine/plan.js';
import { stalePlanReason } from '../../src/engine/stale-plan.js';
import { defaultKinds } from '../../src/kinds/registry.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ResourceRow } from '../../src/store/store.js';
import { systemClock } from '../../src/util/clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import type { ServiceConfig } from '../helpers/stack-file.js';
import { recordedInstance } from '../kinds/recorded-instance.js';

const DIR = '/nonexistent/stack';
const kinds = defaultKinds();

function modelOf(stack: StackConfig, vars: Record<string, string> = {}): Model {
  const file = path.join(DIR, 'groundwork.yaml');
  const loaded = parseStackText(stringify(stack), file, DIR);
  if (!loaded.config) throw new Error(`stack does not load: ${JSON.stringify(loaded.diagnostics)}`);
  const { model, diagnostics } = buildModel(
    loaded.config,
    { dir: DIR, configHash: loaded.configHash, file },
    { cli: vars, env: {} },
  );
  if (!model) throw new Error(`stack does not build: ${JSON.stringify(diagnostics)}`);
  return model;
}

/** Rows as apply would have recorded them for `model`: a service with its replicas live. */
function recorded(model: Model, serial = 1, liveInstances?: Record<string, number>): ResourceRow[] {
  return model.resources.map((r) => {
    const name = r.address.split('.')[1] as string;
    const replicas = (r.spec.replicas as number | undefined) ?? 1;
    const live = liveInstances?.[name] ?? replicas;
    const outputs: JsonObject =
      r.kind === 'service' ? { instances: Array.from({ length: live }, (_, index) => recordedInstance(index)) } : {};
    return {
      address: r.address,
      kind: r.kind,
      spec: r.spec,
      outputs,
      dependsOn: r.dependsOn,
      serial,
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
  });
}

const svc = (extra: Partial<ServiceConfig> = {}): ServiceConfig => ({ command: 'node server.mjs', ...extra });
const stack = (services: Record<string, ServiceConfig>, more: Partial<StackConfig> = {}): StackConfig => ({
  stack: 'pure',
  services,
  ...more,
});
const actions = (p: Plan) => p.steps.map((s) => `${s.action} ${s.address}`);
const plan = (m: Model, rows: ResourceRow[] = [], serial = 0) => makePlan(m, rows, serial, kinds);

describe('makePlan', () => {
  it('creates everything on empty state, each step after the steps it depends on', () => {
    const m = modelOf(
      stack({
        db: svc({ ports: { pg: 'auto' } }),
        // An edge by depends_on, and one by a reference to another service's port.
        api: svc({ depends_on: ['db'], ports: { http: 'auto' } }),
        web: svc({ env: { API: '${service.api.url.http}' } }),
      }),
    );
    const p = plan(m);
    expect(actions(p)).toEqual(['create service.db', 'create service.api', 'create service.web']);
    const after = Object.fromEntries(p.steps.map((s) => [s.address, s.after]));
    expect(after).toEqual({ 'service.db': [], 'service.api': ['service.db'], 'service.web': ['service.api'] });
    expect(p.summary).toEqual({ create: 3, update: 0, replace: 0, delete: 0, unchanged: 0 });
    expect(p.steps[0]?.changes.find((c) => c.path === 'command')?.after).toBe('node server.mjs');
  });

  it('plans nothing when recorded state matches, and counts the unchanged', () => {
    const m = modelOf(stack({ a: svc({ replicas: 2 }), b: svc() }));
    const p = plan(m, recorded(m), 1);
    expect(p.steps).toEqual([]);
    expect(p.summary.unchanged).toBe(2);
  });

  it('an env change is an update naming the field, before and after', () => {
    const before = modelOf(stack({ a: svc({ env: { MESSAGE: 'one' } }) }));
    const after = modelOf(stack({ a: svc({ env: { MESSAGE: 'two' } }) }));
    const p = plan(after, recorded(before));
    expect(actions(p)).toEqual(['update service.a']);
    expect(p.steps[0]?.changes).toEqual([{ path: 'env.MESSAGE', before: 'one', after: 'two' }]);
    expect(p.steps[0]?.replaceBecause).toEqual([]);
  });

  it('a changed runtime replaces the service, and says why', () => {
    const m = modelOf(stack({ a: svc() }));
    const rows = recorded(m).map((r) => ({ ...r, spec: { ...r.spec, runtime: 'docker' } }));
    const p = plan(m, rows);
    expect(actions(p)).toEqual(['replace service.a']);
    expect(p.steps[0]?.replaceBecause).toEqual(['runtime']);
    expect(p.summary.replace).toBe(1);
  });

  it('deletes what is no longer declared, dependents first (by the recorded graph)', () => {
    const old = modelOf(
      stack({ base: svc(), mid: svc({ depends_on: ['base'] }), top: svc({ depends_on: ['mid'] }), keep: svc() }),
    );
    const next = modelOf(stack({ keep: svc() }));
    const p = plan(next, recorded(old));
    expect(actions(p)).toEqual(['delete service.base', 'delete service.mid', 'delete service.top']);
    const after = Object.fromEntries(p.steps.map((s) => [s.address, s.after]));
    expect(after).toEqual({ 'service.base': ['service.mid'], 'service.mid': ['service.top'], 'service.top': [] });
    expect(p.steps[0]?.spec).toBeUndefined();
    expect(p.summary).toMatchObject({ delete: 3, unchanged: 1 });
  });

  it('a create that depends on a resource being deleted does not wait for that delete', () => {
    const old = modelOf(stack({ gone: svc() }));
    const next = modelOf(stack({ fresh: svc() }));
    const p = plan(next, recorded(old));
    expect(actions(p)).toEqual(['create service.fresh', 'delete service.gone']);
    expect(p.steps.map((s) => s.after)).toEqual([[], []]);
  });

  it('replicas 2 → 3 is an update of `replicas`; missing instances at the same count show as `instances`', () => {
    const two = modelOf(stack({ a: svc({ replicas: 2 }) }));
    const three = modelOf(stack({ a: svc({ replicas: 3 }) }));
    const scaled = plan(three, recorded(two));
    expect(actions(scaled)).toEqual(['update service.a']);
    expect(scaled.steps[0]?.changes).toEqual([{ path: 'replicas', before: 2, after: 3 }]);

    // Recorded at 2 replicas, only 1 still live (one was killed): the plan restarts it.
    const degraded = plan(two, recorded(two, 1, { a: 1 }));
    expect(actions(degraded)).toEqual(['update service.a']);
    expect(degraded.steps[0]?.changes).toEqual([{ path: 'instances', before: '1 running', after: '2 running' }]);
  });

  it('a changed dependency (graph only) is an update of depends_on', () => {
    const old = modelOf(stack({ a: svc(), b: svc() }));
    const next = modelOf(stack({ a: svc(), b: svc({ depends_on: ['a'] }) }));
    const p = plan(next, recorded(old));
    expect(actions(p)).toEqual(['update service.b']);
    expect(p.steps[0]?.changes.map((c) => c.path)).toEqual(['depends_on', 'depends_on (graph)']);
    // a is unchanged, so b waits for nothing.
    expect(p.steps[0]?.after).toEqual([]);
  });

  it('a variable is substituted into the spec, so a new value is a change', () => {
    const s = stack(
      { a: svc({ env: { GREETING: '${var.greeting}' } }) },
      { variables: { greeting: { default: 'hi' } } },
    );
    const p = plan(modelOf(s, { greeting: 'hello' }), recorded(modelOf(s)));
    expect(p.steps[0]?.changes).toEqual([{ path: 'env.GREETING', before: 'hi', after: 'hello' }]);
  });

  it('is deterministic: the same inputs in any row order give the same steps and hash', () => {
    const old = modelOf(stack({ z: svc(), y: svc({ depends_on: ['z'] }), x: svc({ env: { A: '1' } }) }));
    const next = modelOf(stack({ x: svc({ env: { A: '2' } }), w: svc() }));
    const rows = recorded(old);
    const a = plan(next, rows, 7);
    const b = plan(modelOf(stack({ x: svc({ env: { A: '2' } }), w: svc() })), [...rows].reverse(), 7);
    expect(b).toEqual(a);
    expect(planHashOf(a)).toBe(a.planHash);
    // The hash covers the serial and every step.
    expect(plan(next, rows, 8).planHash).not.toBe(a.planHash);
    const edited: Plan = { ...a, steps: a.steps.slice(1) };
    expect(planHashOf(edited)).not.toBe(a.planHash);
  });
});

describe('a plan carries the serial it was made against', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(() => {
    dir = makeTempDir('stale');
    store = SqliteStore.open(path.join(dir, 'state.db'), systemClock);
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  it('is refused once the recorded state moved, naming the change; accepted before', async () => {
    const m = modelOf(stack({ a: svc() }));
    const p = plan(m, store.listResources(), store.serial());
    expect(p.stateSerial).toBe(store.serial());
    expect(await stalePlanReason(p, store, m.configHash)).toBeUndefined();

    const change = await store.journal.beginChange({
      kind: 'apply',
      author: 'someone',
      message: 'applied first',
      planHash: 'x',
      summary: {},
    });
    const step = await store.journal.startStep(change, 'service.a' as Address, 'create');
    const [row] = recorded(m);
    await store.journal.finishStep(step, 'applied', {
      kind: 'upsert',
      row: { address: row!.address, kind: row!.kind, spec: row!.spec, outputs: row!.outputs, dependsOn: [] },
    });
    await store.journal.finishChange(change, 'applied', { applied: 1 });
    expect(store.serial()).toBeGreaterThan(p.stateSerial);
    const why = await stalePlanReason(p, store, m.configHash);
    expect(why).toContain(`from serial ${p.stateSerial} to ${store.serial()}`);
    expect(why).toContain('applied first');
    // A fresh plan against the moved state is accepted, and plans nothing for service.a.
    const fresh = plan(m, store.listResources(), store.serial());
    expect(await stalePlanReason(fresh, store, m.configHash)).toBeUndefined();
    expect(fresh.steps).toEqual([]);
  });

  it('is refused when its contents no longer match its hash, or the stack file changed', async () => {
    const m = modelOf(stack({ a: svc() }));
    const p = plan(m, [], store.serial());
    expect(await stalePlanReason({ ...p, steps: [] }, store, m.configHash)).toContain('modified after it was made');
    expect(await stalePlanReason(p, store, 'another-hash')).toContain('stack file changed');
  });
});
