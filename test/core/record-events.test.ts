/**
 * The bus's store subscriber against a real SQLite store: a burst of events becomes one batch
 * written in publish order; batches never overtake one another while the store is slow; a
 * failed write is logged and later events are still written.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/core/bus.js';
import type { CoreEvent } from '../../src/core/events.js';
import { recordEventsInStore } from '../../src/core/record-events.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { EventStore } from '../../src/store/store.js';
import type { Logger } from '../../src/util/logger.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const instance = (n: number): CoreEvent => ({
  type: 'instance',
  address: 'service.web',
  instance: `web#${n}`,
  state: 'stopped',
  reason: `reason ${n}`,
});

describe('recordEventsInStore', () => {
  let dir: string;
  let store: SqliteStore;
  const clock = new ManualClock();
  const logged: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = { log: (level, msg, fields) => logged.push({ level, msg, fields }) };

  beforeEach(() => {
    dir = makeTempDir('record-events');
    store = SqliteStore.open(path.join(dir, 'state.db'), clock);
    logged.length = 0;
  });
  afterEach(() => {
    store.closeNow();
    removeTempDir(dir);
  });

  it('writes a burst as one batch, in publish order, stamped with the publish time; other event types are not written', async () => {
    const bus = new EventBus(() => clock.now(), logger);
    const batches: number[] = [];
    const counting: EventStore = {
      ...store.events,
      record: async (rows) => {
        batches.push(rows.length);
        await store.events.record(rows);
      },
    };
    const off = recordEventsInStore(bus, counting);
    const at = clock.now().toISOString();
    for (let n = 1; n <= 20; n++) bus.publish(instance(n));
    bus.publish({ type: 'release', service: 'web', seq: 1, phase: 'started', detail: '' });
    await bus.drain();
    expect(batches).toEqual([20]);
    const rows = await store.events.listEvents();
    expect(rows.map((r) => r.instance)).toEqual(Array.from({ length: 20 }, (_, i) => `web#${i + 1}`));
    expect(rows[0]).toMatchObject({ at, address: 'service.web', type: 'stopped', reason: 'reason 1' });
    off();
    bus.publish(instance(21));
    await bus.drain();
    expect(await store.events.listEvents()).toHaveLength(20);
    expect(logged).toEqual([]);
  });

  it('while a batch waits on a slow store, later events queue and are written after it, in order', async () => {
    const bus = new EventBus(() => clock.now(), logger);
    let openGate = (): void => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const batches: string[][] = [];
    const slow: EventStore = {
      ...store.events,
      record: async (rows) => {
        batches.push(rows.map((r) => r.instance));
        if (batches.length === 1) await gate;
        await store.events.record(rows);
      },
    };
    recordEventsInStore(bus, slow);
    bus.publish(instance(1));
    bus.publish(instance(2));
    // Let the first batch reach the store and block there.
    await new Promise<void>((resolve) => setImmediate(resolve));
    bus.publish(instance(3));
    bus.publish(instance(4));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(batches).toEqual([['web#1', 'web#2']]);
    openGate();
    await bus.drain();
    expect(batches).toEqual([
      ['web#1', 'web#2'],
      ['web#3', 'web#4'],
    ]);
    expect((await store.events.listEvents()).map((r) => r.instance)).toEqual(['web#1', 'web#2', 'web#3', 'web#4']);
  });

  it('a failed write (disk full) is logged, never unhandled, and later events are still written', async () => {
    const bus = new EventBus(() => clock.now(), logger);
    let fail = true;
    const flaky: EventStore = {
      ...store.events,
      record: async (rows) => {
        if (fail) throw new Error('SQLITE_FULL: database or disk is full');
        await store.events.record(rows);
      },
    };
    recordEventsInStore(bus, flaky);
    bus.publish(instance(1));
    await bus.drain();
    expect(logged).toEqual([
      {
        level: 'error',
        msg: 'event subscriber failed',
        fields: { type: 'instance', error: 'SQLITE_FULL: database or disk is full' },
      },
    ]);
    fail = false;
    bus.publish(instance(2));
    await bus.drain();
    expect((await store.events.listEvents()).map((r) => r.instance)).toEqual(['web#2']);
  });
});
