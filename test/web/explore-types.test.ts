/**
 * The routes, checks, metrics and live-service pages' copies of the API's answer types
 * (src/web/app/explore-types.ts) stay satisfiable by the contract's (schemas.ts): checked by the
 * type checker (`npm run typecheck` compiles this file); the assertion only makes vitest count it.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { EventStreamLine, NetworkResponse, StatusResponse } from '../../src/daemon/api/schemas.js';
import type * as Web from '../../src/web/app/explore-types.js';

describe("the dashboard's routes, checks and events types", () => {
  it('accept every answer of the contract the pages read', () => {
    expectTypeOf<StatusResponse>().toExtend<Web.TrafficStatus>();
    expectTypeOf<NetworkResponse>().toExtend<Web.Network>();
    expectTypeOf<EventStreamLine>().toExtend<Web.StreamEvent>();
  });
});
