/** Request and response shapes of the HTTP API; the OpenAPI document is generated from them. */
import { Type, type Static } from '@sinclair/typebox';
import { PlanSchema } from '../../engine/plan-schema.js';

export const ERROR_CODES = [
  'unauthorized',
  'bad-request',
  'not-found',
  'method-not-allowed',
  'conflict',
  'invalid-stack',
  'payload-too-large',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
    message: Type.String(),
    fix: Type.Optional(Type.String()),
  }),
});

const VarEnv = Type.Record(Type.String({ pattern: '^GROUNDWORK_VAR_[A-Za-z0-9_]+$' }), Type.String(), {
  description: 'GROUNDWORK_VAR_* from the client environment',
});
const Vars = Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]*$' }), Type.String(), {
  description: 'Variable values, as with --var',
});

export const PlanRequest = Type.Object(
  {
    vars: Type.Optional(Vars),
    varEnv: Type.Optional(VarEnv),
  },
  { additionalProperties: false },
);
export type PlanRequest = Static<typeof PlanRequest>;

export const ApplyRequest = Type.Object(
  {
    vars: Type.Optional(Vars),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
    parallelism: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    /** A saved plan; refused when stale. */
    plan: Type.Optional(PlanSchema),
    /** GROUNDWORK_VAR_* values from the client's environment. */
    varEnv: Type.Optional(VarEnv),
  },
  { additionalProperties: false },
);
export type ApplyRequest = Static<typeof ApplyRequest>;

export const DeployRequest = Type.Object(
  {
    varEnv: Type.Optional(VarEnv),
    ref: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'git ref to deploy; default: the working tree' }),
    ),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
    vars: Type.Optional(Vars),
  },
  { additionalProperties: false },
);
export type DeployRequest = Static<typeof DeployRequest>;

export const RollbackRequest = Type.Object(
  {
    to: Type.Optional(Type.Integer({ minimum: 1, description: 'Release number (vN); default: the previous release' })),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    author: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type RollbackRequest = Static<typeof RollbackRequest>;

export const RestartRequest = Type.Object(
  { author: Type.Optional(Type.String({ maxLength: 200 })), message: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export const RefreshRequest = Type.Object(
  { author: Type.Optional(Type.String({ maxLength: 200 })), message: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export const DownRequest = Type.Object(
  {
    /** Also stop the daemon (default true). */
    exit: Type.Optional(Type.Boolean()),
    author: Type.Optional(Type.String({ maxLength: 200 })),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type DownRequest = Static<typeof DownRequest>;

export const InstanceViewSchema = Type.Object({
  service: Type.String(),
  index: Type.Integer(),
  id: Type.Union([Type.String(), Type.Null()]),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  state: Type.String(),
  reason: Type.String(),
  since: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  restarts: Type.Integer(),
  ports: Type.Record(Type.String(), Type.Integer()),
  ready: Type.Boolean(),
  lastProbe: Type.Union([Type.String(), Type.Null()]),
  limits: Type.Union([Type.String(), Type.Null()]),
  lastExit: Type.Union([
    Type.Null(),
    Type.Object({
      code: Type.Union([Type.Integer(), Type.Null()]),
      signal: Type.Union([Type.String(), Type.Null()]),
      at: Type.String(),
    }),
  ]),
});

export const StatusResponse = Type.Object({
  stack: Type.String(),
  storage: Type.Object({
    stateDir: Type.String(),
    freeBytes: Type.Union([Type.Integer(), Type.Null()]),
    full: Type.Boolean(),
  }),
  daemon: Type.Union([
    Type.Null(),
    Type.Object({ pid: Type.Integer(), startedAt: Type.String(), url: Type.String(), rssBytes: Type.Integer() }),
  ]),
  serial: Type.Integer(),
  services: Type.Array(
    Type.Object({
      name: Type.String(),
      replicas: Type.Integer(),
      runtime: Type.String(),
      restart: Type.String(),
      strategy: Type.String(),
      release: Type.Union([Type.Integer(), Type.Null()]),
      standby: Type.Union([
        Type.Null(),
        Type.Object({
          release: Type.Union([Type.Integer(), Type.Null()]),
          until: Type.String(),
          instances: Type.Integer(),
        }),
      ]),
      instances: Type.Array(InstanceViewSchema),
    }),
  ),
});
