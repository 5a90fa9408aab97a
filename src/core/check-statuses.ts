/**
 * Check statuses live in state, in the outputs of each `check.NAME` row (`outputs.status`):
 * written by the daemon's runner after every run without bumping the serial (the applied
 * configuration did not change), read back by a restarted daemon and by `status` with or
 * without a daemon.
 */
import { readCheckStatus, type CheckStatus } from '../observe/checks/check-status.js';
import type { CheckStatusStore } from '../observe/checks/check-runner.js';
import { address, type JsonObject } from '../model/resource.js';
import { recordedCheckType } from '../kinds/check/check-targets.js';
import type { ResourceStore } from '../store/store.js';
import type { CheckView } from './status.js';

export function checkStatusesInStore(store: ResourceStore): CheckStatusStore {
  return {
    load(name, type) {
      const row = store.tryGetResource(address('check', name));
      return row && row.outputs.status !== undefined ? readCheckStatus(name, type, row.outputs.status) : undefined;
    },
    save(s: CheckStatus) {
      const a = address('check', s.name);
      const row = store.tryGetResource(a);
      if (!row) return; // destroyed while it ran
      const status: JsonObject = { ...s };
      store.recordRuntimeOutputs(a, { ...row.outputs, status });
    },
  };
}

/** Every recorded check with its last status (pending when it never ran). */
export function checkViews(store: ResourceStore): CheckView[] {
  return store
    .listResources()
    .filter((r) => r.kind === 'check')
    .map((r) => {
      const name = r.address.slice('check.'.length);
      const s = readCheckStatus(name, recordedCheckType(r.spec), r.outputs.status);
      return {
        name,
        type: s.type,
        state: s.state,
        since: s.since,
        lastRunAt: s.lastRunAt,
        lastError: s.lastError,
        lastLatencyMs: s.lastLatencyMs,
        tlsDaysLeft: s.tlsDaysLeft,
        lastPingAt: s.lastPingAt,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
