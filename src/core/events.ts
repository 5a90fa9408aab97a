/**
 * What the runtime reports about itself. The supervisor, the deployer and apply publish these on
 * the installation's bus; the store (and later monitoring, alerts and the dashboard) subscribe.
 */
import type { ChangeOutcome } from '../store/store.js';

export const INSTANCE_EVENT_TYPES = [
  'starting',
  'healthy',
  'unhealthy',
  'crashloop',
  'stopped',
  'exited',
  'restarted',
  'restarting',
  'exit',
  'liveness-failed',
  'running',
] as const;
export type InstanceEventType = (typeof INSTANCE_EVENT_TYPES)[number];

export type CoreEvent =
  /** An instance changed state (state machine of the supervisor, or an operation stopped it). */
  | { type: 'instance'; address: string; instance: string; state: InstanceEventType; reason: string }
  /** A readiness or liveness probe finished. Not recorded in the store: too frequent. */
  | { type: 'probe'; address: string; instance: string; role: 'readiness' | 'liveness'; ok: boolean; detail: string }
  /** A release started rolling out, finished, or was rolled back. */
  | {
      type: 'release';
      service: string;
      seq: number | null;
      phase: 'started' | 'finished' | 'failed' | 'rolled-back';
      detail: string;
    }
  /**
   * A step of a deploy, rollback or restart as its caller sees it (the lines the CLI prints), so
   * whoever watches the service (the dashboard's event stream) follows a rollout started
   * elsewhere; the operation's last event has its `outcome` (null before). Messages name
   * releases, instances and build commands, never a secret's value.
   */
  | {
      type: 'progress';
      service: string;
      operation: 'deploy' | 'rollback' | 'restart';
      message: string;
      outcome: 'ok' | 'failed' | null;
    }
  /**
   * A check's state changed (thresholds met; see observe/checks/thresholds.ts). Alerts subscribe.
   * `error` is the failing run's reason (null when it came up).
   */
  | {
      type: 'check';
      address: string;
      check: string;
      checkType: string;
      from: 'pending' | 'up' | 'down';
      to: 'pending' | 'up' | 'down';
      error: string | null;
    }
  /**
   * An alert changed state (pending, firing, resolved). Incidents subscribe: a paging alert opens
   * or joins an incident. `summary` is the rule's rendered summary.
   */
  | {
      type: 'alert';
      fingerprint: string;
      rule: string;
      from: 'inactive' | 'pending' | 'firing' | 'resolved';
      to: 'inactive' | 'pending' | 'firing' | 'resolved';
      labels: Record<string, string>;
      summary: string;
    }
  /** A recorded change (apply, refresh, deploy, rollback, restart, down) ended. */
  | { type: 'change'; changeId: number | null; kind: string; outcome: ChangeOutcome | 'ok' | 'failed'; author: string };

export type CoreEventType = CoreEvent['type'];
