/**
 * Runs a `Route` as a Hono handler. JSON and text results become one answer. A streaming
 * handler's first `ctx.stream()` sends the 200 and opens the body; until then a thrown error is
 * still an ordinary error answer with its status (a 404 for an unknown service, say). An error
 * after the stream started can only be told in-band: a last NDJSON line
 * `{ type: 'error', error: { code, message } }` (an unexpected one logged, its message kept back).
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { Caller } from '../../security/tokens.js';
import type { Logger } from '../../util/logger.js';
import { ApiError, INTERNAL_MESSAGE } from './api-error.js';
import type { ApiEnv } from './api-env.js';
import { logUnexpected } from './middleware/errors.js';
import { htmlResponse, jsonResponse, textResponse } from './responses.js';
import { queryCodec } from './query.js';
import type { Route, RouteContext, RouteResult } from './route.js';
import type { StreamErrorLine } from './schemas.js';

/** Path parameters of `pattern` in the raw (still percent-encoded) path; undefined if one does not decode. */
function paramsOf(pattern: string, rawPath: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = rawPath.split('/');
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    if (!seg.startsWith(':')) continue;
    try {
      params[seg.slice(1)] = decodeURIComponent(a[i] ?? '');
    } catch {
      return undefined;
    }
  }
  return params;
}

/**
 * A class, not an object literal: a literal with a getter gets a hidden class of its own on every
 * request, and those pile up in old space (the daemon's RSS grew by 20 MB over 3000 requests).
 */
class HonoRouteContext implements RouteContext {
  readonly body: unknown;

  constructor(
    private readonly c: Context<ApiEnv>,
    readonly params: Record<string, string>,
    readonly query: URLSearchParams | Record<string, unknown>,
    readonly stream: (line: unknown) => void,
    private readonly write: (chunk: string) => void,
  ) {
    this.body = c.get('body');
  }

  comment(text: string): void {
    this.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  get req(): IncomingMessage {
    return this.c.env.incoming;
  }

  get caller(): Caller | undefined {
    return this.c.get('caller');
  }

  /** node-server aborts the request's signal when the response closes before it finished. */
  get signal(): AbortSignal {
    return this.c.req.raw.signal;
  }
}

const STREAM_TYPES = {
  text: 'text/plain; charset=utf-8',
  ndjson: 'application/x-ndjson',
  sse: 'text/event-stream; charset=utf-8',
} as const;

/** One streamed object as the route's format frames it: an NDJSON line, or an SSE `data:` event. */
function frame(streams: Route['streams'], line: unknown): string {
  const json = JSON.stringify(line);
  return streams === 'sse' ? `data: ${json}\n\n` : `${json}\n`;
}

export function routeHandler(route: Route, logger: Logger): (c: Context<ApiEnv>) => Promise<Response> {
  const streamHeaders = {
    'content-type': STREAM_TYPES[route.streams ?? 'ndjson'],
    'cache-control': 'no-store',
  };
  const encoder = new TextEncoder();
  const query = route.query ? queryCodec(route.query) : undefined;
  return (c) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(c.req.url);
      const params = paramsOf(route.path, url.pathname);
      if (!params) {
        reject(
          new ApiError(
            404,
            'not-found',
            `no route ${c.req.method} ${url.pathname} (a path segment is not valid percent-encoding)`,
          ),
        );
        return;
      }
      let body: ReadableStreamDefaultController<Uint8Array> | undefined;
      /** The client left (the body was cancelled) or the handler finished: writes are dropped. */
      let closed = false;
      const open = (): ReadableStreamDefaultController<Uint8Array> => {
        if (body) return body;
        let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
        const stream = new ReadableStream<Uint8Array>({
          start: (ctl) => {
            controller = ctl;
          },
          cancel: () => {
            closed = true;
          },
        });
        // `start` runs inside the constructor, so the controller is there now.
        if (!controller) throw new Error('ReadableStream did not call start synchronously');
        body = controller;
        resolve(new Response(stream, { status: 200, headers: streamHeaders }));
        return controller;
      };
      const write = (chunk: string): void => {
        const ctl = open();
        if (closed || chunk === '') return;
        ctl.enqueue(encoder.encode(chunk));
      };
      const end = (): void => {
        if (closed) return;
        closed = true;
        body?.close();
      };
      let q: URLSearchParams | Record<string, unknown>;
      try {
        q = query ? query.parse(url.searchParams) : url.searchParams;
      } catch (e) {
        reject(e);
        return;
      }
      const ctx = new HonoRouteContext(
        c,
        params,
        q,
        (line) => write(typeof line === 'string' ? line : frame(route.streams, line)),
        write,
      );
      let running: Promise<RouteResult>;
      try {
        running = route.handler(ctx);
      } catch (e) {
        reject(e);
        return;
      }
      running.then(
        (result) => {
          if (body) return end();
          if ('streamed' in result) {
            open();
            end();
          } else if ('json' in result) resolve(jsonResponse(result.status, result.json));
          else if ('html' in result) resolve(htmlResponse(result.status, result.html));
          else resolve(textResponse(result.status, result.text));
        },
        (e: unknown) => {
          if (!body) return reject(e);
          let line: StreamErrorLine;
          if (e instanceof ApiError) line = { type: 'error', error: { code: e.code, message: e.message } };
          else {
            logUnexpected(logger, c, e);
            line = { type: 'error', error: { code: 'internal', message: INTERNAL_MESSAGE } };
          }
          write(frame(route.streams, line));
          end();
        },
      );
    });
}
