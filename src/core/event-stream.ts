/**
 * The bus's events as a client follows them live (the daemon's GET /v1/events/stream, which the
 * dashboard's service page reads): instance state changes, releases and the steps of deploys,
 * rollbacks and restarts, optionally of one service only. Probes are left out (several a second
 * per instance), and so are checks and alerts (their own pages poll them). Each event carries the
 * bus's sequence number, so a client can tell a gap.
 */
import type { EventBus, Sequenced } from './bus.js';
import type { CoreEvent, InstanceEventType } from './events.js';

interface Stamp {
  seq: number;
  at: string;
}

export type StreamEvent = Stamp &
  (
    | { type: 'instance'; service: string; instance: string; state: InstanceEventType; reason: string }
    | {
        type: 'release';
        service: string;
        release: number | null;
        phase: 'started' | 'finished' | 'failed' | 'rolled-back';
        detail: string;
      }
    | {
        type: 'progress';
        service: string;
        operation: 'deploy' | 'rollback' | 'restart';
        message: string;
        /** Set on the operation's last event. */
        outcome: 'ok' | 'failed' | null;
      }
    /** A recorded change ended: only in the stack-wide stream (a change may span services). */
    | { type: 'change'; changeId: number | null; kind: string; outcome: string; author: string }
  );

const SERVICE_PREFIX = 'service.';

/** The event as streamed, or undefined when the stream leaves it out (another service, a probe). */
export function streamEventOf(e: Sequenced<CoreEvent>, service: string | undefined): StreamEvent | undefined {
  const stamp = { seq: e.sequence, at: e.at };
  const wanted = (name: string) => service === undefined || name === service;
  switch (e.type) {
    case 'instance': {
      if (!e.address.startsWith(SERVICE_PREFIX)) return undefined;
      const name = e.address.slice(SERVICE_PREFIX.length);
      if (!wanted(name)) return undefined;
      return { ...stamp, type: 'instance', service: name, instance: e.instance, state: e.state, reason: e.reason };
    }
    case 'release':
      if (!wanted(e.service)) return undefined;
      return { ...stamp, type: 'release', service: e.service, release: e.seq, phase: e.phase, detail: e.detail };
    case 'progress':
      if (!wanted(e.service)) return undefined;
      return {
        ...stamp,
        type: 'progress',
        service: e.service,
        operation: e.operation,
        message: e.message,
        outcome: e.outcome,
      };
    case 'change':
      if (service !== undefined) return undefined;
      return { ...stamp, type: 'change', changeId: e.changeId, kind: e.kind, outcome: e.outcome, author: e.author };
    case 'probe':
    case 'check':
    case 'alert':
      return undefined;
  }
}

/**
 * Calls `send` with every streamed event of `service` (every service when undefined) until
 * `signal` aborts; resolves then. Subscribes synchronously, so nothing published after the call
 * is missed.
 */
export function followEvents(
  bus: EventBus,
  service: string | undefined,
  send: (e: StreamEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  const off = bus.on('*', (e) => {
    const out = streamEventOf(e, service);
    if (out) send(out);
  });
  return new Promise((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        off();
        resolve();
      },
      { once: true },
    );
  });
}
