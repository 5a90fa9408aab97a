/**
 * `status` shows the stack's listeners (address, state, bind error) and routes (match, service,
 * ready backends). The listener states come from the file the data-plane process writes
 * (src/proxy/process/listener-status-file.ts); here a NodeProxy in this process writes it, as
 * main.ts does, so no daemon is needed.
 */
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatusView } from '../../src/core/status.js';
import { NodeProxy } from '../../src/proxy/node/node-proxy.js';
import { writeListenerStatus } from '../../src/proxy/process/listener-status-file.js';
import { runCli, runCliOk } from '../helpers/cli.js';
import { writeServiceScript, nodeService } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('status: listeners and routes', () => {
  let dir = '';
  let squatter: net.Server;
  let port = 0;
  beforeEach(async () => {
    dir = makeTempDir('status-traffic');
    squatter = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => squatter.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    port = (squatter.address() as net.AddressInfo).port;
    writeServiceScript(dir);
    writeStack(dir, {
      stack: 'traffic',
      services: { web: nodeService('status-traffic') },
      listeners: { public: { port } },
      routes: [{ match: { host: 'web.lab.test', path: '/' }, service: 'web', port: 'http' }],
    });
  });
  afterEach(async () => {
    await runCli(['destroy', '--auto-approve'], { cwd: dir });
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    removeTempDir(dir);
  });

  it('names a listener that cannot bind and why, and counts the ready backends of each route', async () => {
    await runCliOk(['apply', '-y'], { cwd: dir });
    const before = JSON.parse((await runCliOk(['status', '--json'], { cwd: dir })).stdout) as StatusView;
    // apply starts the data-plane process for the listener; whether it has tried to bind yet is a
    // race, so the listener is either not served yet or already failed (never bound: the port is taken).
    expect(before.listeners).toEqual([expect.objectContaining({ name: 'public', address: `127.0.0.1:${port}` })]);
    expect(['not-served', 'failed']).toContain(before.listeners[0]?.state);
    expect(before.routes).toEqual([
      expect.objectContaining({ host: 'web.lab.test', path: '/', service: 'web', port: 'http', instances: 1 }),
    ]);

    const stateDir = path.join(dir, '.groundwork');
    const proxy = new NodeProxy({
      onListenerStatus: (listeners) =>
        writeListenerStatus(stateDir, { pid: process.pid, updatedAt: new Date().toISOString(), listeners }),
    });
    try {
      await expect(
        proxy.setListeners([{ name: 'public', protocol: 'http', host: '127.0.0.1', port }]),
      ).rejects.toThrow();
      const json = JSON.parse((await runCliOk(['status', '--json'], { cwd: dir })).stdout) as StatusView;
      expect(json.listeners[0]).toMatchObject({
        name: 'public',
        address: `127.0.0.1:${port}`,
        state: 'failed',
        error: `listener "public" cannot bind 127.0.0.1:${port}: the address is in use by another process or listener`,
      });
      const text = (await runCliOk(['status'], { cwd: dir })).stdout;
      expect(text).toMatch(new RegExp(`public\\s+127\\.0\\.0\\.1:${port}\\s+failed\\s+listener "public" cannot bind`));
      expect(text).toMatch(/0\s+web\.lab\.test\/\s+web:http\s+\d\/1/);
    } finally {
      await proxy.close();
    }
  });
});
