/**
 * OutboxStore's contract: dedup, one claim per row even when senders race (another process's
 * handle included), a stream's rows sent in order, interrupted sends recovered, waiting pages
 * withdrawn. Through the async contract only.
 */
import { describe, expect, it } from 'vitest';
import type { OutboxEnqueue, OutboxRow, Store } from '../../../src/store/store.js';
import { openEach, type OpenedStore, type StoreTarget } from './target.js';

const row = (stream: string, key: string, channel = 'hook'): OutboxEnqueue => ({
  channel,
  stream,
  dedupKey: `${stream}/${key}`,
  payload: { stream, key },
});

export function describeOutboxContract(target: StoreTarget): void {
  describe(`outbox contract (${target.name})`, () => {
    let t: OpenedStore;
    let store: Store;

    openEach(target, (o) => {
      t = o;

      store = o.store;
    });

    it('keeps one row per (channel, dedup key), however often it is queued', async () => {
      const [first, again, other] = await Promise.all([
        store.outbox.enqueue([row('a', '1')]),
        store.outbox.enqueue([row('a', '1')]),
        store.outbox.enqueue([row('a', '1', 'mail')]),
      ]);
      expect([first?.length, again?.length, other?.length]).toEqual([1, 0, 1]);
      expect((await store.outbox.listOutbox()).map((r) => `${r.channel} ${r.dedupKey}`)).toEqual([
        'hook a/1',
        'mail a/1',
      ]);
    });

    it('concurrent claims from two handles never claim a row twice, and each stream is sent in order', async () => {
      const other = await t.openAnother();
      const streams = ['s1', 's2', 's3', 's4', 's5'];
      for (let i = 0; i < 3; i++) await store.outbox.enqueue(streams.map((s) => row(s, String(i))));
      const sent = new Map<string, number[]>();
      for (let round = 0; round < 10; round++) {
        const handles = [store, other];
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) => handles[i % 2]?.outbox.claimDue(2, new Set()) ?? Promise.resolve([])),
        );
        const claimed: OutboxRow[] = claims.flat();
        const ids = claimed.map((r) => r.id);
        expect(new Set(ids).size).toBe(ids.length);
        // Only a stream's head is claimed: never two rows of one stream at once.
        const perStream = claimed.map((r) => r.stream);
        expect(new Set(perStream).size).toBe(perStream.length);
        if (claimed.length === 0) break;
        for (const r of claimed) sent.set(r.stream, [...(sent.get(r.stream) ?? []), r.id]);
        await Promise.all(claimed.map((r) => store.outbox.finishAttempt(r.id, { ok: true }, 1)));
      }
      expect([...sent.keys()].sort()).toEqual(streams);
      for (const ids of sent.values()) {
        expect(ids).toHaveLength(3);
        expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      }
      expect(await store.outbox.listOutbox({ status: 'delivered' })).toHaveLength(15);
    });

    it('a busy stream is skipped, and a failed row holds its stream until it is due again', async () => {
      await store.outbox.enqueue([row('a', '1'), row('a', '2'), row('b', '1')]);
      const claimed = await store.outbox.claimDue(10, new Set(['hook\u0000b']));
      expect(claimed.map((r) => r.dedupKey)).toEqual(['a/1']);
      const retryAt = new Date(t.clock.now().getTime() + 5000);
      await store.outbox.finishAttempt(claimed[0]?.id ?? -1, { ok: false, error: 'HTTP 503', retryAt }, 12);
      expect((await store.outbox.nextDueAt())?.getTime()).toBeLessThanOrEqual(t.clock.now().getTime());
      // a/2 must wait behind a/1's retry; b/1 is due now.
      expect((await store.outbox.claimDue(10, new Set())).map((r) => r.dedupKey)).toEqual(['b/1']);
      expect(await store.outbox.nextDueAt()).toEqual(retryAt);
      await t.clock.advance(5000);
      const again = await store.outbox.claimDue(10, new Set());
      expect(again.map((r) => [r.dedupKey, r.attempts, r.lastError])).toEqual([['a/1', 1, 'HTTP 503']]);
      expect((await store.outbox.attemptsOf(again[0]?.id ?? -1)).map((a) => [a.ok, a.detail])).toEqual([
        [false, 'HTTP 503'],
      ]);
    });

    it('recoverSending puts rows a killed sender left `sending` back, to be claimed again', async () => {
      await store.outbox.enqueue([row('a', '1'), row('b', '1')]);
      const claimed = await store.outbox.claimDue(10, new Set());
      expect(claimed).toHaveLength(2);
      expect(await store.outbox.claimDue(10, new Set())).toEqual([]);
      const other = await t.openAnother();
      expect(await other.outbox.recoverSending()).toBe(2);
      expect(await store.outbox.listOutbox({ status: 'sending' })).toEqual([]);
      const again = await store.outbox.claimDue(10, new Set());
      expect(again.map((r) => r.id).sort()).toEqual(claimed.map((r) => r.id).sort());
    });

    it('cancelPending withdraws waiting rows of the stream, never one in flight or delivered', async () => {
      await store.outbox.enqueue([row('incident-1', 'a'), row('incident-1', 'b'), row('incident-1', 'c')]);
      await store.outbox.enqueue([row('incident-2', 'b')]);
      const [inFlight] = await store.outbox.claimDue(1, new Set());
      expect(inFlight?.dedupKey).toBe('incident-1/a');
      const gone = await store.outbox.cancelPending('incident-1', ['incident-1/a', 'incident-1/b', 'incident-2/b']);
      expect(gone.map((r) => r.dedupKey)).toEqual(['incident-1/b']);
      expect((await store.outbox.listOutbox()).map((r) => `${r.dedupKey} ${r.status}`)).toEqual([
        'incident-1/a sending',
        'incident-1/c pending',
        'incident-2/b pending',
      ]);
      expect(await store.outbox.cancelPending('incident-1', [])).toEqual([]);
    });

    it('pruneDelivered removes delivered rows older than the cut, nothing else', async () => {
      await store.outbox.enqueue([row('a', '1'), row('b', '1')]);
      const [first] = await store.outbox.claimDue(1, new Set());
      await store.outbox.finishAttempt(first?.id ?? -1, { ok: true }, 3);
      await t.clock.advance(60_000);
      expect(await store.outbox.pruneDelivered(new Date(t.clock.now().getTime() - 120_000))).toBe(0);
      expect(await store.outbox.pruneDelivered(t.clock.now())).toBe(1);
      expect((await store.outbox.listOutbox()).map((r) => r.status)).toEqual(['pending']);
    });
  });
}
