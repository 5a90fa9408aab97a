/**
 * A small synchronous typed event bus. Subscribers run in publish order; one that throws is
 * logged and does not stop the others (a full disk in the store must not stop supervision).
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
