/**
 * The lab's DNS as a user runs it: a stack with a `dns:` section, applied without a daemon and
 * then under `groundwork up`. The data-plane process serves the zone (so DNS, like the listeners,
 * outlives the daemon): A and SRV records of every service's stable address, the declared
 * records, and after `destroy` nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceOutputsOf } from '../../src/kinds/service/service-spec.js';
import { readPidFile } from '../../src/proxy/process/launcher.js';
import { runCliOk } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { isAlive } from '../helpers/processes.js';
import { httpService, writeServiceScript } from '../helpers/service-script.js';
import { writeStack } from '../helpers/stack-file.js';
import { resourceOf } from '../helpers/state.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { teardownStack } from '../helpers/lab.js';
import { spawnUp, teardownSpawned, type SpawnedDaemon } from '../daemon/daemon-harness.js';
import { dig } from './dig.js';
import { waitFor } from '../helpers/wait.js';
import path from 'node:path';

describe('DNS served by the data plane', () => {
  let dir = '';
  let dnsPort = 0;
  let up: SpawnedDaemon | undefined;
  const marker = `gw-dns-${randomBytes(3).toString('hex')}`;

  beforeEach(async () => {
    dir = makeTempDir('dns-dp');
    writeServiceScript(dir);
    dnsPort = await freePort();
    writeStack(dir, {
      stack: 'lab',
      services: {
        api: httpService({ args: ['server.mjs', marker] }),
        web: httpService({ args: ['server.mjs', marker], env: { API: '${service.api.url.http}' } }),
      },
      dns: {
        listen: `127.0.0.1:${dnsPort}`,
        records: [{ name: 'nas', type: 'A', value: '192.168.1.20' }],
      },
    } as Parameters<typeof writeStack>[1]);
  });
  afterEach(async () => {
    try {
      if (up) await teardownSpawned(dir, up, [marker]);
      else {
        const t = await teardownStack(dir, 'lab', [marker]);
        expect(t.leftovers).toBe(0);
      }
    } finally {
      up = undefined;
      removeTempDir(dir);
    }
  });

  const apiAddress = () => serviceOutputsOf(resourceOf(dir, 'service.api')).address;

  it('without a daemon: apply serves A, SRV and declared records; destroy stops the data plane', async () => {
    await runCliOk(['apply'], { cwd: dir });
    const a = apiAddress();
    expect(a?.host).toMatch(/^127\.77\./);
    const api = await dig(dnsPort, 'api.lab.internal', 'A');
    expect(api.status).toBe('NOERROR');
    expect(api.answer).toEqual([`api.lab.internal. 30 IN A ${a?.host}`]);
    const srv = await dig(dnsPort, '_http._tcp.api.lab.internal', 'SRV');
    expect(srv.answer).toEqual([`_http._tcp.api.lab.internal. 30 IN SRV 0 0 ${a?.ports.http} api.lab.internal.`]);
    expect((await dig(dnsPort, 'nas.lab.internal', 'A')).answer[0]).toContain('192.168.1.20');
    expect((await dig(dnsPort, 'nope.lab.internal', 'A')).status).toBe('NXDOMAIN');
    expect((await dig(dnsPort, '+tcp', 'web.lab.internal', 'A')).answer).toHaveLength(1);

    const plane = readPidFile(path.join(dir, '.groundwork'))?.pid;
    expect(plane).toBeDefined();
    await runCliOk(['destroy', '--auto-approve'], { cwd: dir });
    await waitFor(() => !isAlive(plane as number), { what: 'the data plane to stop after destroy' });
  });

  it('under `groundwork up`: a daemon SIGKILL leaves DNS answering; the next daemon adopts it', async () => {
    const first = await spawnUp(dir);
    await first.api.waitAllHealthy(['api', 'web']);
    const host = apiAddress()?.host;
    await waitFor(async () => (await dig(dnsPort, 'api.lab.internal', 'A')).answer.length === 1, {
      what: 'DNS to answer under the daemon',
    });
    process.kill(first.pid, 'SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect((await dig(dnsPort, 'api.lab.internal', 'A')).answer).toEqual([`api.lab.internal. 30 IN A ${host}`]);
    up = await spawnUp(dir);
    await up.api.waitAllHealthy(['api', 'web']);
    expect((await dig(dnsPort, 'nas.lab.internal', 'A')).answer[0]).toContain('192.168.1.20');
  });
});
