/**
 * The durable outbox's two halves: rows go in with the state change that caused them (the store
 * saves an alert or incident and its rows in one transaction), and one sender per daemon delivers them with
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
import { singleFlight } from '../util/single-flight.js';
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
): Promise<number[]> {
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
  /** Whether this sender has put back the rows a killed one left `sending` (done before its first claim). */
  private recovered = false;
  /**
   * Looking at the outbox waits on the store: a kick during a look books one more look instead of
   * a second one beside it, which could claim with a stale view of the busy streams.
   */
  private readonly pumper = singleFlight(
    () => this.pump(),
    (e) => this.logger.log('error', 'outbox: cannot read the outbox', { error: errorMessage(e) }),
  );
  private readonly pruner = singleFlight(
    () => this.prune(),
    (e) => this.logger.log('warn', 'outbox: could not prune delivered notifications', { error: errorMessage(e) }),
  );

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

  /**
   * Starts the loop. Its first look at the outbox puts rows a killed sender left `sending` back
   * (sent again with the same idempotency key) before claiming any: claimed first, this sender's
   * own rows would be put back and sent twice.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.pruner.trigger();
    this.pruneTimer = this.opts.clock.setInterval(() => this.pruner.trigger(), 3_600_000, { background: true });
    this.kick();
  }

  private async prune(): Promise<void> {
    const keep = this.opts.keepDeliveredMs ?? 30 * 24 * 3_600_000;
    await this.opts.store.pruneDelivered(new Date(this.opts.clock.now().getTime() - keep));
  }

  /** Something was enqueued or a channel came back: look now instead of at the next timer. */
  kick(): void {
    if (this.running) this.pumper.trigger();
  }

  /** Stops taking rows; in-flight sends are cancelled and stay queued (sent again on the next start). */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.pruneTimer?.cancel();
    this.abort.abort();
    await Promise.all([this.pumper.idle(), this.pruner.idle()]);
    await Promise.allSettled([...this.inflight.values()]);
  }

  /**
   * Resolves when nothing is in flight and no look at the outbox (or prune) is under way (for tests
   * and an orderly shutdown). A finished send looks again, so this waits until a look claims nothing.
   */
  async idle(): Promise<void> {
    for (;;) {
      await Promise.all([this.pumper.idle(), this.pruner.idle()]);
      if (this.inflight.size === 0) return;
      await Promise.allSettled([...this.inflight.values()]);
    }
  }

  private async pump(): Promise<void> {
    if (!this.running) return;
    try {
      if (!this.recovered) {
        const recovered = await this.opts.store.recoverSending();
        this.recovered = true;
        if (recovered > 0)
          this.logger.log('info', 'outbox: resending notifications interrupted by a stop', { recovered });
      }
      const room = (this.opts.concurrency ?? 4) - this.inflight.size;
      if (room > 0 && this.running) {
        for (const row of await this.opts.store.claimDue(room, this.busyStreams)) this.send(row);
      }
    } catch (e) {
      this.logger.log('error', 'outbox: cannot read the outbox', { error: errorMessage(e) });
    }
    // Also after a failure: the timer is what tries again.
    await this.schedule();
  }

  private async schedule(): Promise<void> {
    const poll = this.opts.pollMs ?? 1000;
    let due: Date | undefined;
    try {
      due = await this.opts.store.nextDueAt();
    } catch (e) {
      this.logger.log('error', 'outbox: cannot read the outbox', { error: errorMessage(e) });
    }
    this.timer?.cancel();
    if (!this.running) return;
    // At least 10 ms: a head that is due but cannot be claimed (its stream is busy) must not spin.
    const wait = due ? Math.max(10, Math.min(poll, due.getTime() - this.opts.clock.now().getTime())) : poll;
    this.timer = this.opts.clock.setTimeout(() => this.kick(), wait, { background: true });
  }

  private send(row: OutboxRow): void {
    const streamKey = `${row.channel}\u0000${row.stream}`;
    this.busyStreams.add(streamKey);
    const started = this.opts.clock.ms();
    const task = this.deliver(row)
      .then(async (error) => {
        const took = this.opts.clock.ms() - started;
        if (error === undefined) {
          await this.opts.store.finishAttempt(row.id, { ok: true }, took);
        } else {
          const attempt = row.attempts + 1;
          const retryAt = new Date(
            this.opts.clock.now().getTime() + retryDelayMs(this.opts.backoff ?? DEFAULT_BACKOFF, row.id, attempt),
          );
          await this.opts.store.finishAttempt(row.id, { ok: false, error, retryAt }, took);
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
