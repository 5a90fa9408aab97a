/** What the API's Hono app knows per request: the Node objects and the parsed body. */
import type { HttpBindings } from '@hono/node-server';

export type ApiEnv = {
  Bindings: HttpBindings;
  Variables: {
    /** The request body after `jsonBody`: parsed and checked against the route's schema. */
    body: unknown;
  };
};
