/**
 * `GROUNDWORK_TEST_KILL_AT`: a test-only hook that SIGKILLs this process at a chosen point of a
 * deploy or rollback, so the fault tests can stop the daemon at "point k" deterministically
 * instead of racing a kill from outside (test/daemon/kill-matrix.test.ts).
 *
 * Unset (always, outside those tests) it does nothing. Set to `OPERATION:K` (`deploy:3`,
 * `rollback:7`), the K-th kill point of the first such operation in this process kills the
 * process with SIGKILL, after printing `[groundwork test] kill point K: LABEL` to stderr. Kill
 * points are every progress message of the operation (before it is passed on) and the journal
 * moments around it: the step started, the rollout done but not yet recorded, recorded but the
 * change not yet finished. For `apply`, the kill points are its applied steps, each once it is
 * recorded in the journal (`apply:2`: killed right after the second step was applied). An
 * operation that ends before point K prints how many points it had.
 */
import { writeSync } from 'node:fs';

export const TEST_KILL_ENV = 'GROUNDWORK_TEST_KILL_AT';

export type KillPointOperation = 'deploy' | 'rollback' | 'apply';

/** Passes kill points of one operation; `pass` returns normally unless this is the chosen one. */
export interface KillPoints {
  pass(label: string): void;
  /** The operation ended (without reaching the chosen point). */
  end(): void;
}

const NONE: KillPoints = { pass: () => undefined, end: () => undefined };

/** Reads the hook's setting from an environment; one armed operation per process. */
export class TestKillHook {
  private used = false;
  private readonly target: { op: KillPointOperation; k: number } | undefined;

  constructor(env: Record<string, string | undefined>) {
    const raw = env[TEST_KILL_ENV];
    if (!raw) return;
    const m = /^(deploy|rollback|apply):([1-9][0-9]*)$/.exec(raw.trim());
    if (!m) {
      say(`${TEST_KILL_ENV}=${raw} is not OPERATION:K (deploy:3, rollback:7, apply:2); ignored`);
      return;
    }
    this.target = { op: m[1] as KillPointOperation, k: Number(m[2]) };
  }

  /** Kill points for one run of `op` (inert unless the hook is set for it and not used yet). */
  points(op: KillPointOperation): KillPoints {
    const t = this.target;
    if (!t || t.op !== op || this.used) return NONE;
    this.used = true;
    let n = 0;
    return {
      pass(label: string) {
        n++;
        if (n !== t.k) return;
        say(`kill point ${n}: ${label}`);
        process.kill(process.pid, 'SIGKILL');
      },
      end() {
        if (n < t.k) say(`${op} ended after ${n} kill points, before point ${t.k}`);
      },
    };
  }
}

function say(message: string): void {
  // Synchronous: the next thing this process does may be to die.
  try {
    writeSync(2, `[groundwork test] ${message}\n`);
  } catch {
    /* stderr closed */
  }
}
