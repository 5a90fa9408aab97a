/**
 * A backend whose response head ends its lines with a bare LF (busybox httpd CGI scripts printing
 * "\n") gets the client a 502 naming the reason at once: not a hang until the total timeout, not a
 * crash.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { route } from './data-plane.contract.js';
import { send } from './helpers/client.js';

describe('NodeProxy: a backend with bare-LF headers', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('answers 502 with the reason, and keeps serving', async () => {
    // Writes its head with LF only and keeps the connection open, as a CGI script behind busybox does.
    const backend = net.createServer((s) => {
      s.once('data', () => s.write('HTTP/1.1 200 OK\nContent-Type: text/plain\n\nhello\n'));
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => backend.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => backend.close(() => resolve())));
    const proxy = new NodeProxy();
    cleanups.push(() => proxy.close());
    await proxy.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }]);
    proxy.setPool('web', [
      { id: 'cgi', host: '127.0.0.1', port: (backend.address() as net.AddressInfo).port, weight: 1 },
    ]);
    proxy.setRoutes([route('web')]);
    const port = proxy.address('web')?.port as number;

    const answer = await send(port, { path: '/' });
    expect(answer.status).toBe(502);
    expect(answer.body).toContain('bare LF instead of CRLF');
    expect(proxy.metrics().backends.cgi?.status.error).toBe(1);
    // The proxy still answers (a second request gets the same clear 502).
    expect((await send(port, { path: '/again' })).status).toBe(502);
  });
});
