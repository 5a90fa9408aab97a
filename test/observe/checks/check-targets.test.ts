/**
 * References in check targets resolve against the recorded stable address of a service, the
 * same `${service.NAME.url.PORT}` that services' env uses; one without a value fails that check
 * only, saying which reference.
 */
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runnableChecks, type RecordedRow } from '../../../src/kinds/check/check-targets.js';
import { address, type JsonObject } from '../../../src/model/resource.js';
import { checkResources } from '../../../src/model/check-resources.js';
import type { CheckConfig } from '../../../src/config/schema.js';
import { runnerWorld } from './check-harness.js';

const row = (kind: RecordedRow['kind'], name: string, spec: JsonObject, outputs: JsonObject = {}): RecordedRow => ({
  address: address(kind, name),
  kind,
  spec,
  outputs,
});
const checkRow = (name: string, c: CheckConfig): RecordedRow => {
  const [r] = checkResources({ [name]: c }, (v) => JSON.parse(JSON.stringify(v)) as JsonObject);
  if (!r) throw new Error('no resource');
  return row('check', name, r.spec);
};

describe('check targets with references', () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end('ok'));
    port = await new Promise<number>((r) =>
      server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)),
    );
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('resolve ${service.NAME.url.PORT}, .address and .host from the recorded address', async () => {
    const rows = [
      row('service', 'api', {}, { address: { host: '127.0.0.1', ports: { http: port } } }),
      checkRow('api', { http: { url: '${service.api.url.http}/healthz' }, successes: 1 }),
      checkRow('api-tcp', { tcp: '${service.api.address.http}', successes: 1 }),
      checkRow('api-host', { tcp: '${service.api.host}:${service.api.port.http}', successes: 1 }),
      checkRow('nowhere', { http: { url: '${service.db.url.pg}/' }, failures: 1 }),
    ];
    const checks = runnableChecks(rows);
    const api = checks.find((c) => c.spec.name === 'api');
    expect(api?.spec.target).toMatchObject({ type: 'http', url: `http://127.0.0.1:${port}/healthz` });
    const w = runnerWorld();
    w.runner.configure(checks);
    await w.step(0);
    expect(w.list()).toEqual({
      api: 'up',
      'api-tcp': 'up',
      'api-host': 'up',
      nowhere: 'down',
    });
    expect(w.status('nowhere').lastError).toBe(
      '${service.db.url.pg} has no value yet (is the service applied and does it have that port?)',
    );
    w.runner.stop();
  });
});
