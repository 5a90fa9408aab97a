/**
 * The dashboard's own copies of the API's answer types (src/web/app/api-types.ts; src/web may not
 * import src/daemon) stay satisfiable by the contract's: each answer the daemon sends, typed from
 * schemas.ts, must be assignable to what the page reads. Checked by the type checker (`npm run
 * typecheck` compiles this file); the runtime assertions only make vitest count the file.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type {
  AlertsResponse,
  AuditResponse,
  AuditVerifyResponse,
  ChangeRequestResponse,
  ChangeRequestsResponse,
  DecisionResponse,
  DecisionsResponse,
  DeployLine,
  IncidentDetailResponse,
  IncidentsResponse,
  OncallResponse,
  ReleasesResponse,
  StatusResponse,
  WhoamiResponse,
} from '../../src/daemon/api/schemas.js';
import type * as Web from '../../src/web/app/api-types.js';

describe("the dashboard's API types", () => {
  it('accept every answer of the contract the pages read', () => {
    expectTypeOf<StatusResponse>().toExtend<Web.Status>();
    expectTypeOf<WhoamiResponse>().toExtend<Web.Whoami>();
    expectTypeOf<ReleasesResponse>().toExtend<Web.Releases>();
    expectTypeOf<DeployLine>().toExtend<Web.DeployLine>();
    expectTypeOf<AlertsResponse>().toExtend<Web.Alerts>();
    expectTypeOf<IncidentsResponse>().toExtend<Web.Incidents>();
    expectTypeOf<IncidentDetailResponse>().toExtend<Web.IncidentDetail>();
    expectTypeOf<OncallResponse>().toExtend<Web.Oncall>();
    expectTypeOf<ChangeRequestsResponse>().toExtend<Web.ChangeRequest[]>();
    expectTypeOf<ChangeRequestResponse>().toExtend<Web.ChangeRequest>();
    expectTypeOf<DecisionsResponse>().toExtend<Web.Decision[]>();
    expectTypeOf<DecisionResponse>().toExtend<Web.DecisionDetail>();
    expectTypeOf<AuditResponse>().toExtend<Web.AuditRecord[]>();
    expectTypeOf<AuditVerifyResponse>().toExtend<Web.AuditVerification>();
  });
});
