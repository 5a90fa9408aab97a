/** Plain HTTP GET to loopback, one connection per request (no keep-alive, so servers stop at once). */
import http from 'node:http';
import { connectionNotReady, waitFor } from './wait.js';

export interface HttpAnswer {
  status: number;
  body: string;
}

export function httpGet(port: number, urlPath = '/', timeoutMs = 2000, host = '127.0.0.1'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, path: urlPath, method: 'GET', agent: false, headers: { connection: 'close' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`no answer from ${host}:${port}${urlPath} within ${timeoutMs}ms`)),
    );
    req.on('error', reject);
    req.end();
  });
}

export function httpPost(port: number, urlPath: string, body: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: 'POST',
        agent: false,
        headers: { connection: 'close', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Retries until the server answers 2xx and `accept(body)` holds; a refused or reset connection is retried. */
export async function waitForHttp(
  port: number,
  urlPath: string,
  accept: (body: string) => boolean,
  what: string,
): Promise<HttpAnswer> {
  return waitFor(
    async () => {
      const r = await httpGet(port, urlPath);
      return r.status >= 200 && r.status < 300 && accept(r.body) ? r : undefined;
    },
    { what, retryOn: connectionNotReady },
  );
}
