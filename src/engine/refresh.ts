/**
 * Refresh reads the world through each kind's `read` and records what it saw, so the next plan
 * shows what it takes to converge. It never touches desired state (the stack file).
 */
import type { Address, JsonObject } from '../model/resource.js';
import type { KindContextBase, KindRegistry } from '../kinds/resource-kind.js';
import { canonicalJson } from '../config/load.js';
import type { Store } from '../store/store.js';
import { errorMessage } from './apply.js';
import { runContext } from './run-context.js';

export interface DriftReport {
  address: string;
  /** 'gone': the thing no longer exists; 'changed': it differs from what was applied. */
  status: 'in-sync' | 'changed' | 'gone' | 'error';
  drift: string[];
}

export interface RefreshResult {
  reports: DriftReport[];
  changeId: number | null;
  serial: number;
}

export async function refresh(
  store: Store,
  kinds: KindRegistry,
  context: KindContextBase,
  opts: { author: string; record: boolean },
): Promise<RefreshResult> {
  const rows = await store.resources.listResources();
  const outputs = new Map<Address, JsonObject>(rows.map((r) => [r.address, r.outputs]));
  const ctx = await runContext(
    kinds,
    context,
    { run: 'refresh', recorded: rows },
    { outputsOf: (a) => outputs.get(a), progress: () => undefined },
  );
  const reports: DriftReport[] = [];
  const writes: { address: Address; row?: { spec: JsonObject; outputs: JsonObject } }[] = [];
  for (const row of rows) {
    try {
      const r = await kinds[row.kind].read(ctx, row.address, row.spec, row.outputs);
      if (!r.exists) {
        reports.push({ address: row.address, status: 'gone', drift: r.drift });
        writes.push({ address: row.address });
      } else if (r.drift.length) {
        reports.push({ address: row.address, status: 'changed', drift: r.drift });
        if (
          canonicalJson(r.spec) !== canonicalJson(row.spec) ||
          canonicalJson(r.outputs) !== canonicalJson(row.outputs)
        ) {
          writes.push({ address: row.address, row: { spec: r.spec, outputs: r.outputs } });
        }
      } else {
        reports.push({ address: row.address, status: 'in-sync', drift: [] });
        if (canonicalJson(r.outputs) !== canonicalJson(row.outputs))
          writes.push({ address: row.address, row: { spec: row.spec, outputs: r.outputs } });
      }
    } catch (e) {
      reports.push({ address: row.address, status: 'error', drift: [errorMessage(e)] });
    }
  }
  if (!opts.record || writes.length === 0) return { reports, changeId: null, serial: await store.resources.serial() };
  const changeId = await store.journal.beginChange({
    kind: 'refresh',
    author: opts.author,
    message: 'refresh',
    planHash: '',
    summary: {},
  });
  for (const w of writes) {
    const row = rows.find((r) => r.address === w.address);
    if (!row) continue;
    const j = await store.journal.startStep(changeId, w.address, w.row ? 'observe' : 'forget');
    await store.journal.finishStep(
      j,
      'applied',
      w.row
        ? { kind: 'upsert', row: { address: row.address, kind: row.kind, dependsOn: row.dependsOn, ...w.row } }
        : { kind: 'delete', address: w.address },
    );
  }
  const drifted = reports.filter((r) => r.status === 'changed' || r.status === 'gone').length;
  await store.journal.finishChange(changeId, 'applied', { drifted, recorded: writes.length });
  return { reports, changeId, serial: await store.resources.serial() };
}
