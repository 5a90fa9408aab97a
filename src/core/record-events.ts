/**
 * The store's subscription to the bus: instance events become rows of the event log. Writing is
 * best effort: a store that cannot write (disk full) is logged by the bus, and supervision goes on.
 *
 * Events are buffered as they are published and written in batches: the events published in one
 * run of JavaScript (a service of 20 instances stopping) become one `record` call, so the store
 * sees one transaction rather than one promise per row. Batches are written one at a time, in
 * publish order.
 */
import type { InstanceEvent, EventStore } from '../store/store.js';
import type { EventBus } from './bus.js';

export function recordEventsInStore(bus: EventBus, store: EventStore): () => void {
  const buffer: Omit<InstanceEvent, 'id'>[] = [];
  // Synchronous, so the buffer holds events in publish order whatever the store's speed.
  const offBuffer = bus.on('instance', (e) => {
    buffer.push({ at: e.at, address: e.address, instance: e.instance, type: e.state, reason: e.reason });
  });
  // One queued call per event (so `bus.drain()` waits for the write); the first call after a
  // burst takes the whole buffer and the rest of the burst finds it empty.
  const offWrite = bus.onAsync('instance', async () => {
    if (buffer.length === 0) return;
    await store.record(buffer.splice(0));
  });
  return () => {
    offBuffer();
    offWrite();
  };
}
