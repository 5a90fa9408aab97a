/**
 * A listener that cannot bind is reported with its reason and retried on the proxy's clock, so it
 * serves as soon as the address is free, without a new configuration push.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProxy, type ListenerStatus } from '../../src/proxy/node/node-proxy.js';
import { Duration } from '../../src/util/duration.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { route } from './data-plane.contract.js';
import { startBackend } from './helpers/backends.js';
import { send } from './helpers/client.js';

function occupy(): Promise<net.Server> {
  const server = net.createServer((s) => s.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
  });
}

describe('NodeProxy: listeners that cannot bind', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('reports the bind error, retries on its clock, and serves once the address is free', async () => {
    const squatter = await occupy();
    const port = (squatter.address() as net.AddressInfo).port;
    const clock = new ManualClock();
    const reports: ListenerStatus[][] = [];
    let onBound: () => void = () => undefined;
    const bound = new Promise<void>((resolve) => (onBound = resolve));
    const proxy = new NodeProxy({
      clock,
      bindRetry: Duration.seconds(5),
      onListenerStatus: (s) => {
        reports.push(s);
        if (s.find((l) => l.name === 'web')?.state === 'bound') onBound();
      },
    });
    cleanups.push(() => proxy.close());
    const backend = await startBackend('a');
    cleanups.push(() => backend.close());

    await expect(
      proxy.setListeners([
        { name: 'web', protocol: 'http', host: '127.0.0.1', port },
        { name: 'other', protocol: 'http', host: '127.0.0.1', port: 0 },
      ]),
    ).rejects.toThrow(`listener "web" cannot bind 127.0.0.1:${port}: the address is in use by another process`);
    proxy.setPool('web', [{ id: 'a', host: '127.0.0.1', port: backend.port, weight: 1 }]);
    proxy.setRoutes([route('web')]);

    const failed = proxy.listenerStatus().find((l) => l.name === 'web');
    expect(failed).toMatchObject({ state: 'failed', host: '127.0.0.1', port, attempts: 1 });
    expect(failed?.state === 'failed' && failed.retryAt).toBe(new Date(clock.now().getTime() + 5000).toISOString());
    expect(proxy.listenerStatus().find((l) => l.name === 'other')?.state).toBe('bound');
    expect(reports.at(-1)?.map((l) => `${l.name}:${l.state}`)).toEqual(['other:bound', 'web:failed']);

    // Still taken at the first retry: counted, and tried again later.
    await clock.advance(5000);
    await new Promise((r) => setImmediate(r));
    expect(proxy.listenerStatus().find((l) => l.name === 'web')).toMatchObject({ state: 'failed', attempts: 2 });

    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await clock.advance(5000);
    await bound;
    expect(proxy.address('web')?.port).toBe(port);
    const answer = await send(port, { path: '/' });
    expect(answer.status).toBe(200);
  });

  it('stops retrying a listener that is no longer wanted', async () => {
    const squatter = await occupy();
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const port = (squatter.address() as net.AddressInfo).port;
    const clock = new ManualClock();
    const proxy = new NodeProxy({ clock });
    cleanups.push(() => proxy.close());
    await expect(proxy.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port }])).rejects.toThrow(
      'cannot bind',
    );
    await proxy.setListeners([]);
    expect(proxy.listenerStatus()).toEqual([]);
  });
});
