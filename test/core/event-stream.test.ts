/**
 * The live event stream's view of the bus (src/core/event-stream.ts), on a real EventBus: events
 * of one service only when asked, probes and checks left out, a release keeps its own number
 * (the bus numbers events in `sequence`), and following ends when the signal aborts.
 */
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/core/bus.js';
import { followEvents, type StreamEvent } from '../../src/core/event-stream.js';
import { silentLogger } from '../../src/util/logger.js';

const AT = new Date('2026-12-02T03:00:00Z');

describe('the live event stream', () => {
  it("passes one service's instance, release and progress events, in order, until aborted", async () => {
    const bus = new EventBus(() => AT, silentLogger);
    const got: StreamEvent[] = [];
    const ctl = new AbortController();
    const following = followEvents(bus, 'web', (e) => got.push(e), ctl.signal);
    bus.publish({ type: 'progress', service: 'web', operation: 'deploy', message: 'v7: building', outcome: null });
    bus.publish({ type: 'release', service: 'web', seq: 7, phase: 'started', detail: 'deploy by ana' });
    bus.publish({ type: 'release', service: 'api', seq: 3, phase: 'started', detail: 'deploy by ana' });
    bus.publish({ type: 'instance', address: 'service.web', instance: 'web/0', state: 'healthy', reason: 'HTTP 200' });
    bus.publish({ type: 'probe', address: 'service.web', instance: 'web/0', role: 'readiness', ok: true, detail: '' });
    bus.publish({ type: 'change', changeId: 4, kind: 'deploy', outcome: 'applied', author: 'ana' });
    bus.publish({ type: 'progress', service: 'web', operation: 'deploy', message: 'deploy finished', outcome: 'ok' });
    ctl.abort();
    await following;
    bus.publish({ type: 'progress', service: 'web', operation: 'restart', message: 'after the end', outcome: null });

    expect(got.map((e) => e.type)).toEqual(['progress', 'release', 'instance', 'progress']);
    expect(got[1]).toMatchObject({ type: 'release', service: 'web', release: 7, phase: 'started' });
    expect(got[2]).toMatchObject({ type: 'instance', service: 'web', instance: 'web/0', state: 'healthy' });
    expect(got[3]).toMatchObject({ outcome: 'ok', at: AT.toISOString() });
    // Numbered by the bus in publish order (the api release and the probe in between had theirs).
    expect(got.map((e) => e.seq)).toEqual([1, 2, 4, 7]);
  });

  it('streams every service and the changes when no service is named', async () => {
    const bus = new EventBus(() => AT, silentLogger);
    const got: StreamEvent[] = [];
    const ctl = new AbortController();
    const following = followEvents(bus, undefined, (e) => got.push(e), ctl.signal);
    bus.publish({ type: 'release', service: 'api', seq: 3, phase: 'finished', detail: 'deploy complete' });
    bus.publish({ type: 'change', changeId: 4, kind: 'deploy', outcome: 'applied', author: 'ana' });
    ctl.abort();
    await following;
    expect(got).toMatchObject([
      { type: 'release', service: 'api', release: 3 },
      { type: 'change', changeId: 4, outcome: 'applied' },
    ]);
  });
});
