/**
 * A small synchronous typed event bus. Subscribers run in publish order; one that throws is
 * logged and does not stop the others (a full disk in the store must not stop supervision).
 * A subscriber that does I/O (the asynchronous store) subscribes with `onAsync`: its handler
 * runs one event at a time, in publish order, and its failures are logged, never unhandled.
 */
import { errorMessage } from '../util/error-message.js';
import type { Logger } from '../util/logger.js';
import type { CoreEvent, CoreEventType } from './events.js';

/**
 * An event as subscribers get it: numbered in publish order, and stamped. Named `sequence`, not
 * `seq`: a release event's own `seq` (the release number) must reach subscribers unchanged.
 */
export type Sequenced<E> = E & { sequence: number; at: string };
type Handler = (e: Sequenced<CoreEvent>) => void;

export class EventBus {
  private sequence = 0;
  private readonly handlers = new Map<CoreEventType | '*', Set<Handler>>();
  /** The tail of each async subscriber's queue, for `drain`. */
  private readonly queues = new Set<{ tail: Promise<void> }>();

  constructor(
    private readonly now: () => Date,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to one event type (or every event with '*'); returns the unsubscribe function. */
  on<T extends CoreEventType>(type: T | '*', fn: (e: Sequenced<Extract<CoreEvent, { type: T }>>) => void): () => void {
    const set = this.handlers.get(type) ?? new Set<Handler>();
    // The set holds handlers of every type; the type parameter only narrows what a caller sees.
    const h = fn as Handler;
    set.add(h);
    this.handlers.set(type, set);
    return () => set.delete(h);
  }

  /**
   * Subscribes a handler that returns a promise. Events queue per subscriber: the next one starts
   * when the previous settled, so a slow store keeps the order; a rejection is logged.
   */
  onAsync<T extends CoreEventType>(
    type: T | '*',
    fn: (e: Sequenced<Extract<CoreEvent, { type: T }>>) => Promise<void>,
  ): () => void {
    const queue = { tail: Promise.resolve() };
    this.queues.add(queue);
    const off = this.on(type, (e) => {
      queue.tail = queue.tail.then(() =>
        fn(e).catch((err: unknown) => {
          this.logger.log('error', 'event subscriber failed', { type: e.type, error: errorMessage(err) });
        }),
      );
    });
    return () => {
      off();
      this.queues.delete(queue);
    };
  }

  /** Resolves when every async subscriber has handled what was published so far (shutdown, tests). */
  async drain(): Promise<void> {
    for (;;) {
      const tails = [...this.queues].map((q) => q.tail);
      await Promise.all(tails);
      // A handler may have published more; done when no tail moved while we waited.
      if ([...this.queues].every((q, i) => q.tail === tails[i])) return;
    }
  }

  publish(e: CoreEvent): void {
    const ev: Sequenced<CoreEvent> = { ...e, sequence: ++this.sequence, at: this.now().toISOString() };
    for (const key of [e.type, '*'] as const) {
      for (const h of this.handlers.get(key) ?? []) {
        try {
          h(ev);
        } catch (err) {
          this.logger.log('error', 'event subscriber failed', { type: e.type, error: errorMessage(err) });
        }
      }
    }
  }
}
