/**
 * The durable outbox's two halves: rows go in with the state change that caused them (alerts call
 * `enqueueNotification` inside their transaction), and one sender per daemon delivers them with
 * retries and backoff until each channel has accepted each row. Nothing is sent from memory:
 * the row is the notification, so a daemon restart, a channel down for an hour or a SIGKILL in the
 * middle of a send loses nothing (Uptime Kuma sends once and drops it: louislam/uptime-kuma#6046).
 *
 * Order: a notification is sent only after every earlier one of its stream (an alert on a
 * channel), so "resolved" never arrives before "firing". Streams are independent, so one slow
 * alert does not hold up the others.
 */
import type { OutboxEnqueue, OutboxRow, OutboxStore } from '../store/store.js';
import type { Timer, Timers } from '../util/clock.js';
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import type { Channel } from './channel.js';
import { notificationFromJson, notificationToJson, type Notification } from './notification.js';

/** Retry delays: 1 s, 2 s, 4 s, ... capped at 5 min, each within ±20% so retries of many rows spread out. */
export interface Backoff {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, capMs: 5 * 60_000 };

/** Deterministic jitter in [0.8, 1.2) from the row and attempt (no global random; tests can predict it). */
function jitter(id: number, attempt: number): number {
  const x = Math.sin(id * 12.9898 + attempt * 78.233) * 43758.5453;
  return 0.8 + 0.4 * (x - Math.floor(x));
}

export function retryDelayMs(b: Backoff, id: number, attempt: number): number {
  const raw = Math.min(b.capMs, b.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * jitter(id, attempt));
}

/**
 * One outbox row per channel for one event of an alert. `eventKey` names the event (e.g.
 * `firing@2026-12-01T09:00Z`): the same event queued twice (a re-evaluation after a restart) is
 * one row per channel.
 */
export function outboxRows(channels: readonly string[], eventKey: string, n: Notification): OutboxEnqueue[] {
  const payload = notificationToJson(n);
  return channels.map((channel) => ({
    channel,
    stream: n.fingerprint,
    dedupKey: `${n.fingerprint}/${eventKey}`,
    payload,
  }));
}

/** Queues one notification per channel (see outboxRows); returns the new rows' ids. */
export function enqueueNotification(
  store: Pick<OutboxStore, 'enqueue'>,
  channels: readonly string[],
  n: Notification,
  eventKey: string,
): number[] {
  return store.enqueue(outboxRows(channels, eventKey, n));
}

export interface OutboxSenderOptions {
  store: OutboxStore;
  channels: ReadonlyMap<string, Channel>;
  /** Why a configured channel could not be built (recorded on its rows as the delivery error). */
  channelProblems?: ReadonlyMap<string, string>;
  clock: Timers;
  logger?: Logger;
  /** Rows delivered at once (across streams). */
  concurrency?: number;
  backoff?: Backoff;
  /** Longest sleep between looks at the outbox (rows written by another process are found by then). */
  pollMs?: number;
  /** Delivered rows are kept this long (what `groundwork alerts` shows as who was told), then pruned. Default 30 days. */
  keepDeliveredMs?: number;
  /** Called after every attempt (the daemon publishes it; tests wait on it). */
  onAttempt?: (row: OutboxRow, result: { ok: boolean; error?: string }) => void;
}

export class OutboxSender {
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly busyStreams = new Set<string>();
  private readonly abort = new AbortController();
  private timer: Timer | undefined;
  private pruneTimer: Timer | undefined;
  private running = false;
  private pumping = false;
  private again = false;

  private channels: ReadonlyMap<string, Channel>;
  private channelProblems: ReadonlyMap<string, string>;

  constructor(private readonly opts: OutboxSenderOptions) {
    this.channels = opts.channels;
    this.channelProblems = opts.channelProblems ?? new Map();
  }

  /**
   * New channels after a configuration change, taken by the next send. The sender is not
   * restarted: stopping it would cancel requests in flight, which the receivers may already have,
   * and send them again.
   */
  setChannels(channels: ReadonlyMap<string, Channel>, problems: ReadonlyMap<string, string> = new Map()): void {
    this.channels = channels;
    this.channelProblems = problems;
    this.kick();
  }

  private get logger(): Logger {
    return this.opts.logger ?? silentLogger;
  }

  /** Rows a killed sender left `sending` are sent again (same idempotency key), then the loop starts. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const recovered = this.opts.store.recoverSending();
    if (recovered > 0) this.logger.log('info', 'outbox: resending notifications interrupted by a stop', { recovered });
    this.prune();
    this.pruneTimer = this.opts.clock.setInterval(() => this.prune(), 3_600_000, { background: true });
    this.kick();
  }

  private prune(): void {
    const keep = this.opts.keepDeliveredMs ?? 30 * 24 * 3_600_000;
    try {
      this.opts.store.pruneDelivered(new Date(this.opts.clock.now().getTime() - keep));
    } catch (e) {
      this.logger.log('warn', 'outbox: could not prune delivered notifications', { error: errorMessage(e) });
    }
  }

  /** Something was enqueued or a channel came back: look now instead of at the next timer. */
  kick(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pump();
  }

  /** Stops taking rows; in-flight sends are cancelled and stay queued (sent again on the next start). */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.pruneTimer?.cancel();
    this.abort.abort();
    await Promise.allSettled([...this.inflight.values()]);
  }

  /** Resolves when nothing is in flight (for tests and an orderly shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
  }

  private pump(): void {
    this.pumping = true;
    try {
      do {
        this.again = false;
        const room = (this.opts.concurrency ?? 4) - this.inflight.size;
        if (room <= 0) break;
        for (const row of this.opts.store.claimDue(room, this.busyStreams)) this.send(row);
      } while (this.again && this.running);
    } catch (e) {
      this.logger.log('error', 'outbox: cannot read the outbox', { error: errorMessage(e) });
    } finally {
      this.pumping = false;
    }
    this.schedule();
  }

  private schedule(): void {
    this.timer?.cancel();
    if (!this.running) return;
    const poll = this.opts.pollMs ?? 1000;
    const due = this.opts.store.nextDueAt();
    // At least 10 ms: a head that is due but cannot be claimed (its stream is busy) must not spin.
    const wait = due ? Math.max(10, Math.min(poll, due.getTime() - this.opts.clock.now().getTime())) : poll;
    this.timer = this.opts.clock.setTimeout(() => this.kick(), wait, { background: true });
  }

  private send(row: OutboxRow): void {
    const streamKey = `${row.channel}\u0000${row.stream}`;
    this.busyStreams.add(streamKey);
    const started = this.opts.clock.ms();
    const task = this.deliver(row)
      .then((error) => {
        const took = this.opts.clock.ms() - started;
        if (error === undefined) {
          this.opts.store.finishAttempt(row.id, { ok: true }, took);
        } else {
          const attempt = row.attempts + 1;
          const retryAt = new Date(
            this.opts.clock.now().getTime() + retryDelayMs(this.opts.backoff ?? DEFAULT_BACKOFF, row.id, attempt),
          );
          this.opts.store.finishAttempt(row.id, { ok: false, error, retryAt }, took);
          this.logger.log('warn', 'outbox: delivery failed; will retry', {
            channel: row.channel,
            id: row.id,
            attempt,
            error,
            retryAt: retryAt.toISOString(),
          });
        }
        this.opts.onAttempt?.(row, error === undefined ? { ok: true } : { ok: false, error });
      })
      .catch((e: unknown) => {
        // The store itself failed (disk full): the row stays `sending` and is recovered on the next start.
        this.logger.log('error', 'outbox: cannot record a delivery attempt', { id: row.id, error: errorMessage(e) });
      })
      .finally(() => {
        this.inflight.delete(row.id);
        this.busyStreams.delete(streamKey);
        this.kick();
      });
    this.inflight.set(row.id, task);
  }

  /** undefined when delivered, else why not. */
  private async deliver(row: OutboxRow): Promise<string | undefined> {
    const channel = this.channels.get(row.channel);
    if (!channel) {
      const problem = this.channelProblems.get(row.channel);
      if (problem) return `channel ${row.channel} cannot be used: ${problem}`;
      return `channel ${row.channel} is not configured (add it under notify.channels, or expire the alert)`;
    }
    if (this.abort.signal.aborted) return 'the daemon stopped before sending';
    try {
      await channel.deliver(notificationFromJson(row.payload), {
        idempotencyKey: row.dedupKey,
        attempt: row.attempts + 1,
        signal: this.abort.signal,
      });
      return undefined;
    } catch (e) {
      return errorMessage(e);
    }
  }
}
