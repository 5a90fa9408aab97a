/** The built-in Node proxy: the shared DataPlane contract, then what only it has (options, helpers). */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataPlane } from '../../src/proxy/data-plane.js';
import { accessLogToLogger } from '../../src/proxy/node/access-log.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { Duration } from '../../src/util/duration.js';
import type { LogLevel } from '../../src/util/logger.js';
import { dataPlaneContract, route } from './data-plane.contract.js';
import { startBackend, type AnswerBody, type TestBackend } from './helpers/backends.js';
import { send } from './helpers/client.js';
import { contractNodeProxy } from './helpers/contract-proxy.js';

dataPlaneContract('node', contractNodeProxy);

describe('NodeProxy', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function proxyTo(proxy: NodeProxy): Promise<{ port: number; backend: TestBackend }> {
    cleanups.push(() => proxy.close());
    const backend = await startBackend('a');
    cleanups.push(() => backend.close());
    await proxy.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }]);
    proxy.setPool('web', [{ id: 'a', host: '127.0.0.1', port: backend.port, weight: 1 }]);
    proxy.setRoutes([route('web')]);
    return { port: (proxy as DataPlane).address('web')?.port as number, backend };
  }

  it('keeps X-Forwarded-Proto and -Host from the client only when told to trust them', async () => {
    const { port } = await proxyTo(new NodeProxy({ trustForwardedHeaders: true }));
    const seen = JSON.parse(
      (
        await send(port, {
          headers: {
            'x-forwarded-proto': 'https',
            'x-forwarded-host': 'public.example',
            'x-forwarded-for': '198.51.100.7',
          },
        })
      ).body,
    ) as AnswerBody;
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe('public.example');
    expect(seen.headers['x-forwarded-for']).toBe('198.51.100.7, 127.0.0.1');
  });

  it('keeps an HTTP/1.0 keep-alive connection open across requests', async () => {
    const { port } = await proxyTo(new NodeProxy());
    const s = net.connect({ host: '127.0.0.1', port });
    cleanups.push(() => s.destroy());
    let text = '';
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    const req = 'GET /one HTTP/1.0\r\nHost: app.test\r\nConnection: keep-alive\r\n\r\n';
    s.write(req);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (text.includes('"url":"/one"')) {
          clearInterval(t);
          resolve();
        }
      }, 10);
    });
    expect(text.toLowerCase()).toContain('connection: keep-alive');
    s.write(req.replace('/one', '/two'));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (text.includes('"url":"/two"')) {
          clearInterval(t);
          resolve();
        }
      }, 10);
    });
  });

  it('writes access log entries through a Logger', async () => {
    const lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] = [];
    const { port } = await proxyTo(
      new NodeProxy({
        accessLog: accessLogToLogger({ log: (level, msg, fields) => lines.push({ level, msg, fields }) }),
      }),
    );
    await send(port, { path: '/x?secret=1' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'access',
      fields: { route: 'web', backend: 'a', path: '/x', status: 200 },
    });
  });

  it('logs an ejection once, naming the backend and why', async () => {
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const proxy = new NodeProxy({ logger: { log: (_l, msg, fields) => lines.push({ msg, fields }) } });
    const { port } = await proxyTo(proxy);
    proxy.setPool('web', [
      { id: 'gone', host: '127.0.0.1', port: 1, weight: 1 },
      {
        id: 'a2',
        host: '127.0.0.1',
        port: (
          await startBackend('a2').then((b) => {
            cleanups.push(() => b.close());
            return b;
          })
        ).port,
        weight: 1,
      },
    ]);
    for (let i = 0; i < 4; i++) expect((await send(port)).status).toBe(200);
    const ejections = lines.filter((l) => l.msg === 'backend ejected');
    expect(ejections).toHaveLength(1);
    expect(ejections[0]?.fields).toMatchObject({ backend: 'gone', pool: 'web', reason: 'ECONNREFUSED' });
  });

  it('rejects invalid options, naming each', () => {
    expect(() => new NodeProxy({ maxTries: 0, maxHeadBytes: 1.5, ejectFor: Duration.milliseconds(0) })).toThrow(
      /maxTries[\s\S]*maxHeadBytes[\s\S]*ejectFor/,
    );
  });

  it('refuses work after close', async () => {
    const proxy = new NodeProxy();
    await proxy.close();
    await expect(proxy.setListeners([{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 }])).rejects.toThrow(
      /closed/,
    );
  });
});
