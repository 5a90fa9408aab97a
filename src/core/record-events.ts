/**
 * The store's subscription to the bus: instance events become rows of the event log. Writing is
 * best effort: a store that cannot write (disk full) is logged, and supervision goes on.
 */
import type { EventStore } from '../store/store.js';
import type { EventBus } from './bus.js';

export function recordEventsInStore(bus: EventBus, store: EventStore): () => void {
  return bus.on('instance', (e) => {
    store.recordEvent({ address: e.address, instance: e.instance, type: e.state, reason: e.reason });
  });
}
