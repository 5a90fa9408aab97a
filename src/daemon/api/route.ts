/**
 * The route contract: what a handler declares (method, path, schemas, streaming) and what it
 * gets (`RouteContext`). Generic over the body schema, the response schema and the path, so a
 * route written with `route({...})` gets `ctx.body`, `ctx.params` and its JSON result typed from
 * the same TypeBox schemas that produce /v1/openapi.json. A plain `Route` (all defaults) is
 * what the app and the OpenAPI generator take; every `route()` is assignable to it.
 */
import type { IncomingMessage } from 'node:http';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { Caller } from '../../security/tokens.js';

/** `{ name: string }` for '/v1/services/:name/logs'; a record for an unknown (string) path. */
export type ParamsOf<P extends string> = string extends P
  ? Record<string, string>
  : P extends `${string}:${infer Name}/${infer Rest}`
    ? { [K in Name]: string } & ParamsOf<`/${Rest}`>
    : P extends `${string}:${infer Name}`
      ? { [K in Name]: string }
      : Record<never, string>;

/** The validated body of a route with a body schema; `unknown` when the route has none (GET). */
export type BodyOf<B extends TSchema | undefined> = B extends TSchema ? Static<B> : unknown;
export type ResponseOf<R extends TSchema | undefined> = R extends TSchema ? Static<R> : unknown;
/** What `ctx.stream()` takes: a line of the route's `line` schema, or anything without one. */
export type LineOf<L extends TSchema | undefined> = L extends TSchema ? Static<L> : unknown;
/** The parsed query of a route with a `query` schema (defaults filled in); the raw parameters without one. */
export type QueryOf<Q extends TObject | undefined> = Q extends TObject ? Static<Q> : URLSearchParams;

export interface RouteContext<
  Body = unknown,
  Params = Record<string, string>,
  Line = unknown,
  Query = URLSearchParams | Record<string, unknown>,
> {
  params: Params;
  /** Parsed and checked against the route's `query` schema (a bad one is a 400 naming it); raw without one. */
  query: Query;
  /** The request body, parsed and checked against the route's `body` schema ({} when empty). */
  body: Body;
  /**
   * Aborted when the client goes away before the response is finished: a follow stream ends on
   * it. Check `signal.aborted` first (the client may have left before the handler subscribes).
   */
  signal: AbortSignal;
  /** The Node request, for what the signal does not cover (the socket, headers). */
  req: IncomingMessage;
  /** Who is calling (middleware/auth.ts); undefined on public routes, which authenticate nobody. */
  readonly caller: Caller | undefined;
  /**
   * For streaming routes: write one NDJSON line (an object) or a text chunk (a string). The
   * first call sends the 200 and its headers; until then a thrown ApiError is still a JSON error
   * with its status. After the client left, writes are dropped.
   */
  stream(line: Line): void;
  /**
   * For `streams: 'sse'`: a comment (`: text`), which clients ignore: opens the stream before the
   * first event, and keeps a quiet one alive. Newlines in `text` are replaced by spaces.
   */
  comment(text: string): void;
}

export type RouteResult<Json = unknown> =
  | { status: number; json: Json }
  | { status: number; text: string }
  /** A page for a browser (the signed incident links), served with a strict content security policy. */
  | { status: number; html: string }
  | { streamed: true };

export const ROUTE_METHODS = ['GET', 'POST'] as const;
export type RouteMethod = (typeof ROUTE_METHODS)[number];

export interface Route<
  B extends TSchema | undefined = TSchema | undefined,
  R extends TSchema | undefined = TSchema | undefined,
  P extends string = string,
  L extends TSchema | undefined = TSchema | undefined,
  Q extends TObject | undefined = TObject | undefined,
> {
  method: RouteMethod;
  path: P;
  summary: string;
  /** Required on POST routes: a body that does not match is a 400 naming each problem's path. */
  body?: B;
  /** Query parameters (see query.ts): parsed for `ctx.query`, documented, serialized by the client. */
  query?: Q;
  /** The 200 JSON answer's shape (documented in /v1/openapi.json, typed in the client). */
  response?: R;
  /**
   * Streams NDJSON, text or server-sent events (`sse`: each line a `data:` frame, for a browser's
   * EventSource) instead of one JSON document.
   */
  streams?: 'ndjson' | 'text' | 'sse';
  /** For `streams: 'ndjson'` or `'sse'`: the shape of each line (documented, typed in the client). */
  line?: L;
  /**
   * Served without the bearer token: the route checks its own credential (push pings carry the
   * check's token in the path). Its body, if any, is not parsed.
   */
  public?: boolean;
  // Method syntax on purpose: a typed route stays assignable to the plain `Route` the app takes.
  handler(ctx: RouteContext<BodyOf<B>, ParamsOf<P>, LineOf<L>, QueryOf<Q>>): Promise<RouteResult<ResponseOf<R>>>;
}

/**
 * A route with its types inferred from its literal: `ctx.body` is `Static<typeof body>`,
 * `ctx.params` has the path's `:names`, a JSON result must match `response` and each streamed
 * line `line`.
 */
export function route<
  B extends TSchema | undefined = undefined,
  R extends TSchema | undefined = undefined,
  P extends string = string,
  L extends TSchema | undefined = undefined,
  Q extends TObject | undefined = undefined,
>(r: Route<B, R, P, L, Q>): Route {
  return r;
}
