/**
 * The one schema of the stack file. It is the source of the TypeScript types (Static<>),
 * of validation (config/validate.ts walks it beside the YAML tree, keeping positions),
 * and of the committed JSON Schema (schema/groundwork.schema.json) for editors.
 *
 * `x-fix` is our own keyword: the hint shown when a value does not match.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Duration } from '../util/duration.js';
import { ByteSize } from '../util/byte-size.js';

export const NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';
const nameFix = 'use lowercase letters, digits and dashes, starting with a letter (e.g. web, db-main)';
const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

const DurationT = (description: string, def?: string) =>
  Type.String({ pattern: Duration.pattern, description, default: def, 'x-fix': 'write a number with a unit: 500ms, 2s, 1m30s, 1h', 'x-expected': 'a duration such as 2s', examples: [def ?? '2s'] });
const ByteSizeT = (description: string) =>
  Type.String({ pattern: ByteSize.pattern, description, 'x-fix': 'write a size such as 256MiB or 1GiB', 'x-expected': 'a size such as 256MiB' });
const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, description, 'x-fix': nameFix });
const Names = <T extends TSchema>(item: T, description: string) =>
  Type.Record(Type.String({ pattern: NAME_PATTERN }), item, { description, 'x-fix': nameFix });
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
const PortNumber = Type.Integer({ minimum: 1, maximum: 65535, 'x-fix': 'use a port from 1 to 65535, or auto' });

export const StatusRange = Type.String({
  pattern: '^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$', description: 'Accepted HTTP status or range', default: '200-399',
  'x-fix': 'write a status such as 200 or a range such as 200-399',
});

const ProbeTiming = {
  interval: Type.Optional(DurationT('Time between probes', '2s')),
  timeout: Type.Optional(DurationT('Time a probe may take', '1s')),
  start_period: Type.Optional(DurationT('Failures in this period after start do not count', '0s')),
  healthy: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'Consecutive successes to become healthy' })),
  unhealthy: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'Consecutive failures to become unhealthy' })),
};

export const ProbeSchema = Type.Object({
  http: Type.Optional(Type.Object({
    path: Type.String({ pattern: '^/', description: 'Request path', 'x-fix': 'start the path with /' }),
    port: Type.Optional(Name('Named port of the service; defaults to its first port')),
    status: Type.Optional(StatusRange),
    body: Type.Optional(Type.String({ description: 'Substring the response body must contain' })),
  }, { additionalProperties: false })),
  tcp: Type.Optional(Type.Object({
    port: Type.Optional(Name('Named port of the service; defaults to its first port')),
  }, { additionalProperties: false })),
  exec: Type.Optional(Type.Object({
    command: Type.String({ minLength: 1, description: 'Shell command; exit 0 means healthy' }),
  }, { additionalProperties: false })),
  ...ProbeTiming,
}, { additionalProperties: false, description: 'A health probe: exactly one of http, tcp or exec' });

export const RUNTIMES = ['process', 'docker', 'swarm'] as const;
export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
export const STRATEGIES = ['rolling', 'blue-green', 'canary'] as const;

const literalUnion = <T extends readonly string[]>(values: T, description: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), { description, 'x-fix': `use one of: ${values.join(', ')}` });

export const ServiceSchema = Type.Object({
  runtime: Type.Optional(literalUnion(RUNTIMES, 'Where instances run (process is the embedded default)')),
  command: Type.String({ minLength: 1, description: 'Command to run. Without args it runs through /bin/sh -c; with args it is the executable.' }),
  args: Type.Optional(Type.Array(Type.String(), { description: 'Arguments; when set, command is run directly, without a shell' })),
  cwd: Type.Optional(Type.String({ description: 'Working directory, relative to the stack file' })),
  env: Type.Optional(Type.Record(Type.String({ pattern: ENV_NAME_PATTERN }), Scalar, {
    description: 'Environment. Values may reference ${port.NAME}, ${var.NAME}, ${secret.NAME}, ${volume.NAME}, ${service.NAME.port.PORT}',
    'x-fix': 'environment names are letters, digits and _ (e.g. DATABASE_URL)',
  })),
  replicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, default: 1, description: 'Number of instances' })),
  ports: Type.Optional(Names(Type.Union([Type.Literal('auto'), PortNumber], { 'x-fix': 'use auto or a port from 1 to 65535' }),
    'Named ports; auto lets Groundwork pick a free one per instance')),
  health: Type.Optional(ProbeSchema),
  liveness: Type.Optional(ProbeSchema),
  restart: Type.Optional(literalUnion(RESTART_POLICIES, 'Restart policy (default always)')),
  stop_grace: Type.Optional(DurationT('Time between SIGTERM and SIGKILL when stopping', '10s')),
  deploy: Type.Optional(Type.Object({
    strategy: Type.Optional(literalUnion(STRATEGIES, 'Rollout strategy (default rolling)')),
    max_surge: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, default: 1 })),
    max_unavailable: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, default: 0 })),
    auto_rollback: Type.Optional(Type.Boolean({ default: true })),
    progress_deadline: Type.Optional(DurationT('Time new instances have to become healthy', '60s')),
  }, { additionalProperties: false })),
  user: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$', description: 'OS user the instances run as (needs a root daemon)', 'x-fix': 'use a Unix user name such as web' })),
  resources: Type.Optional(Type.Object({
    memory: Type.Optional(ByteSizeT('Memory limit (cgroups)')),
    cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 256, description: 'CPU limit in cores (cgroups), e.g. 0.5' })),
  }, { additionalProperties: false })),
  depends_on: Type.Optional(Type.Array(Name('Service that must be applied first'), { uniqueItems: true })),
}, { additionalProperties: false });

export const VolumeSchema = Type.Object({
  path: Type.String({ minLength: 1, description: 'Directory, relative to the stack file or absolute' }),
  owner: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$|^\\d+(:\\d+)?$', description: 'user[:group] or uid[:gid]', 'x-fix': 'write user, user:group, uid or uid:gid' })),
  mode: Type.Optional(Type.String({ pattern: '^0?[0-7]{3}$', default: '0755', description: 'Octal permissions, e.g. 0750', 'x-fix': 'write octal permissions as a quoted string, e.g. "0750"', 'x-expected': 'octal permissions as quoted text' })),
}, { additionalProperties: false });

export const RouteSchema = Type.Object({
  match: Type.Object({
    host: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9*.-]+$', description: 'Host name (exact, or *.suffix)' })),
    path: Type.Optional(Type.String({ pattern: '^/', default: '/', description: 'Path prefix', 'x-fix': 'start the path with /' })),
  }, { additionalProperties: false }),
  service: Name('Service that receives the traffic'),
  port: Name('Named port of that service'),
}, { additionalProperties: false });

export const VariableSchema = Type.Object({
  default: Type.Optional(Scalar),
  description: Type.Optional(Type.String()),
}, { additionalProperties: false });

export const SecretSchema = Type.Object({
  description: Type.Optional(Type.String()),
}, { additionalProperties: false });

export const StackSchema = Type.Object({
  $schema: Type.Optional(Type.String()),
  stack: Name('Name of the stack'),
  variables: Type.Optional(Names(VariableSchema, 'Inputs; override with --var name=value or GROUNDWORK_VAR_name')),
  secrets: Type.Optional(Names(SecretSchema, 'Secrets referenced as ${secret.NAME}; values never enter plans or state')),
  services: Type.Optional(Names(ServiceSchema, 'Long-running services')),
  volumes: Type.Optional(Names(VolumeSchema, 'Directories with an owner and a mode')),
  routes: Type.Optional(Type.Array(RouteSchema, { description: 'HTTP routes to services' })),
}, { additionalProperties: false, title: 'Groundwork stack file' });

export type StackConfig = Static<typeof StackSchema>;
export type ServiceConfig = Static<typeof ServiceSchema>;
export type VolumeConfig = Static<typeof VolumeSchema>;
export type RouteConfig = Static<typeof RouteSchema>;
export type ProbeConfig = Static<typeof ProbeSchema>;
export type Runtime = (typeof RUNTIMES)[number];
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
