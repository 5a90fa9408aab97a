/** What the API's Hono app knows per request: the Node objects and the parsed body. */
import type { HttpBindings } from '@hono/node-server';
import type { Caller } from '../../security/tokens.js';

export type ApiEnv = {
  Bindings: HttpBindings;
  Variables: {
    /** The request body after `jsonBody`: parsed and checked against the route's schema. */
    body: unknown;
    /** Who is calling, after `authenticate` (middleware/auth.ts). */
    caller: Caller;
  };
};
