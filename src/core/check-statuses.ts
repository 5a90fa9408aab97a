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
import type { ResourceRow, ResourceStore } from '../store/store.js';
import type { CheckView } from './status.js';

/**
 * The runner loads statuses synchronously while it is configured, so they are served from the
 * rows the daemon read for that configuration (`use(rows)` first). A save is one atomic store
 * call, written in the order the runner saves; a failed one goes to `onError` (a full disk must
 * not stop the checks: the runner keeps the status in memory and saves it again next run).
 */
export function checkStatusesInStore(
  store: Pick<ResourceStore, 'updateOutputs'>,
  onError: (check: string, e: unknown) => void,
): CheckStatusStore & { use(rows: readonly ResourceRow[]): void } {
  let recorded = new Map<string, ResourceRow>();
  return {
    use(rows) {
      recorded = new Map(rows.filter((r) => r.kind === 'check').map((r) => [r.address, r]));
    },
    load(name, type) {
      const row = recorded.get(address('check', name));
      return row && row.outputs.status !== undefined ? readCheckStatus(name, type, row.outputs.status) : undefined;
    },
    save(s: CheckStatus) {
      const status: JsonObject = { ...s };
      // No row: the check was destroyed while it ran, and nothing is written.
      store
        .updateOutputs(address('check', s.name), (outputs) => ({ ...outputs, status }))
        .catch((e: unknown) => onError(s.name, e));
    },
  };
}

/** Every recorded check with its last status (pending when it never ran). */
export function checkViews(rows: readonly ResourceRow[]): CheckView[] {
  return rows
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
