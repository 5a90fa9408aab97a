/**
 * A small HTTP app: routes, bearer-token auth on every route, JSON bodies validated against
 * TypeBox schemas, and errors as `{ error: { code, message, fix } }`. A client's mistake is a
 * 4xx with a message; anything unexpected is a plain 500 that is logged, never leaked.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from '../../util/logger.js';
import type { ErrorCode } from './schemas.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  req: IncomingMessage;
  res: ServerResponse;
  /** For streaming handlers: write one NDJSON line. */
  stream(line: unknown): void;
}

export type RouteResult = { status: number; json: unknown } | { status: number; text: string } | { streamed: true };

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  body?: TSchema;
  response?: TSchema;
  /** Streams NDJSON (or text) instead of one JSON document. */
  streams?: 'ndjson' | 'text';
  handler(ctx: RouteContext): Promise<RouteResult>;
}

export const MAX_BODY_BYTES = 1024 * 1024;

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = path.split('/');
  if (p.length !== a.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(a[i] as string);
      } catch {
        return undefined;
      }
    } else if (seg !== a[i]) return undefined;
  }
  return params;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, 'payload-too-large', `the body is larger than ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createApp(routes: Route[], token: string, logger: Logger) {
  const expected = Buffer.from(`Bearer ${token}`);
  const authorised = (header: string | undefined) => {
    if (!header) return false;
    const got = Buffer.from(header);
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (!authorised(req.headers.authorization)) {
        req.resume();
        throw new ApiError(
          401,
          'unauthorized',
          'a valid bearer token is required',
          'send `Authorization: Bearer <token>`; the token is in .groundwork/daemon.token',
        );
      }
      let route: Route | undefined;
      let params: Record<string, string> | undefined;
      let pathMatched = false;
      for (const r of routes) {
        const m = matchPath(r.path, url.pathname);
        if (!m) continue;
        pathMatched = true;
        if (r.method === req.method) {
          route = r;
          params = m;
          break;
        }
      }
      if (!route || !params) {
        req.resume();
        if (pathMatched)
          throw new ApiError(405, 'method-not-allowed', `${req.method} is not allowed on ${url.pathname}`);
        throw new ApiError(
          404,
          'not-found',
          `no route ${req.method} ${url.pathname}`,
          'GET /v1/openapi.json lists the routes',
        );
      }
      let body: unknown;
      if (route.method === 'POST') {
        const text = await readBody(req);
        if (text.trim() === '') body = {};
        else {
          try {
            body = JSON.parse(text);
          } catch (e) {
            throw new ApiError(
              400,
              'bad-request',
              `the body is not valid JSON: ${(e as Error).message}`,
              'send a JSON object, e.g. {}',
            );
          }
        }
        if (route.body && !Value.Check(route.body, body)) {
          const errs = [...Value.Errors(route.body, body)]
            .slice(0, 5)
            .map((e) => `${e.path || '(body)'}: ${e.message}`);
          throw new ApiError(
            400,
            'bad-request',
            `the body does not match: ${errs.join('; ')}`,
            `see the schema of ${route.method} ${route.path} in /v1/openapi.json`,
          );
        }
      } else req.resume();
      const ctx: RouteContext = {
        params,
        query: url.searchParams,
        body,
        req,
        res,
        stream(line) {
          if (!res.headersSent)
            res.writeHead(200, {
              'content-type': route?.streams === 'text' ? 'text/plain; charset=utf-8' : 'application/x-ndjson',
              'cache-control': 'no-store',
            });
          res.write(typeof line === 'string' ? line : `${JSON.stringify(line)}\n`);
        },
      };
      const result = await route.handler(ctx);
      if ('streamed' in result) {
        if (!res.headersSent) res.writeHead(200);
        res.end();
        return;
      }
      if ('json' in result) send(res, result.status, result.json);
      else {
        res.writeHead(result.status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(result.text);
      }
    } catch (e) {
      if (e instanceof ApiError) {
        if (res.headersSent) {
          res.write(`${JSON.stringify({ type: 'error', error: { code: e.code, message: e.message } })}\n`);
          res.end();
          return;
        }
        send(res, e.status, { error: { code: e.code, message: e.message, ...(e.fix ? { fix: e.fix } : {}) } });
        return;
      }
      logger.log('error', 'unexpected API failure', {
        method: req.method,
        path: url.pathname,
        error: (e as Error)?.message,
      });
      if (res.headersSent) {
        res.write(
          `${JSON.stringify({ type: 'error', error: { code: 'internal', message: 'internal error; see the daemon log' } })}\n`,
        );
        res.end();
        return;
      }
      send(res, 500, { error: { code: 'internal', message: 'internal error; see the daemon log' } });
    }
  };
}
