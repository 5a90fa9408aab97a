/**
 * The one schema of the stack file. It is the source of the TypeScript types (Static<>),
 * of validation (config/validate.ts walks it beside the YAML tree, keeping positions),
 * and of the committed JSON Schema (schema/groundwork.schema.json) for editors.
 *
 * `x-fix` is our own keyword: the hint shown when a value does not match.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ByteSize } from '../util/byte-size.js';
import {
  ByteSizeT,
  DurationT,
  ENV_NAME_PATTERN,
  Name,
  NAME_PATTERN,
  Names,
  PortNumber,
  Scalar,
} from './schema-parts.js';
import { AlertSchema, MaintenanceSchema, NotifySchema } from './schema-alerting.js';
import { OncallSchema, PersonSchema, ROLES } from './schema-oncall.js';
import { ScrapeSchema } from './schema-scrape.js';
import { ChangesSchema } from './schema-change.js';

export { NAME_PATTERN };

export const StatusRange = Type.String({
  pattern: '^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$',
  description: 'Accepted HTTP status or range',
  default: '200-399',
  'x-fix': 'write a status such as 200 or a range such as 200-399',
});

const ProbeTiming = {
  interval: Type.Optional(DurationT('Time between probes', '2s')),
  timeout: Type.Optional(DurationT('Time a probe may take', '1s')),
  start_period: Type.Optional(DurationT('Failures in this period after start do not count', '0s')),
  healthy: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'Consecutive successes to become healthy' }),
  ),
  unhealthy: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'Consecutive failures to become unhealthy' }),
  ),
};

export const ProbeSchema = Type.Object(
  {
    http: Type.Optional(
      Type.Object(
        {
          path: Type.String({ pattern: '^/', description: 'Request path', 'x-fix': 'start the path with /' }),
          port: Type.Optional(Name('Named port of the service; defaults to its first port')),
          status: Type.Optional(StatusRange),
          body: Type.Optional(Type.String({ description: 'Substring the response body must contain' })),
        },
        { additionalProperties: false },
      ),
    ),
    tcp: Type.Optional(
      Type.Object(
        {
          port: Type.Optional(Name('Named port of the service; defaults to its first port')),
        },
        { additionalProperties: false },
      ),
    ),
    exec: Type.Optional(
      Type.Object(
        {
          command: Type.String({ minLength: 1, description: 'Shell command; exit 0 means healthy' }),
        },
        { additionalProperties: false },
      ),
    ),
    ...ProbeTiming,
  },
  { additionalProperties: false, description: 'A health probe: exactly one of http, tcp or exec' },
);

export const RUNTIMES = ['process', 'docker', 'swarm'] as const;
export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
export const STRATEGIES = ['rolling', 'blue-green', 'canary'] as const;

const literalUnion = <T extends readonly string[]>(values: T, description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description, 'x-fix': `use one of: ${values.join(', ')}` },
  );

export const ServiceSchema = Type.Object(
  {
    runtime: Type.Optional(literalUnion(RUNTIMES, 'Where instances run (process is the embedded default)')),
    command: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Command to run (required for runtime process). Without args it runs through /bin/sh -c; with args it is the executable. For containers it overrides the image command.',
      }),
    ),
    image: Type.Optional(
      Type.String({
        minLength: 1,
        // Docker's reference grammar (distribution/reference): a lower-case path, an optional
        // registry host[:port], a tag of up to 128 of [A-Za-z0-9_.-] (upper case allowed, e.g.
        // minio's RELEASE.2024-01-01T00-00-00Z), an optional @algorithm:digest.
        pattern:
          '^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$',
        description: 'Container image (runtime docker or swarm), e.g. groundwork-test:latest',
        'x-fix': 'write an image reference such as nginx:1.25 or registry.lab/app:v2',
      }),
    ),
    dockerfile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Dockerfile (relative to the release directory) to build the image from at deploy time (runtime docker)',
      }),
    ),
    mounts: Type.Optional(
      Type.Record(Type.String({ pattern: '^/' }), Type.String({ minLength: 1 }), {
        description: 'Container path -> volume name or absolute host path (runtime docker or swarm)',
        'x-fix': 'write `/path/in/container: VOLUME` with an absolute container path',
      }),
    ),
    build: Type.Optional(
      Type.Object(
        {
          command: Type.String({
            minLength: 1,
            description: 'Build command, run through /bin/sh -c in the release directory at deploy time',
          }),
          cwd: Type.Optional(Type.String({ description: 'Directory inside the release to build in' })),
          timeout: Type.Optional(DurationT('Time the build may take', '10m')),
        },
        { additionalProperties: false },
      ),
    ),
    source: Type.Optional(
      Type.Object(
        {
          path: Type.Optional(
            Type.String({
              description:
                'Directory copied into each release (default: the stack directory); a git work tree enables --ref',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    args: Type.Optional(
      Type.Array(Type.String(), { description: 'Arguments; when set, command is run directly, without a shell' }),
    ),
    cwd: Type.Optional(Type.String({ description: 'Working directory, relative to the stack file' })),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: ENV_NAME_PATTERN }), Scalar, {
        description:
          "Environment. Values may reference ${port.NAME}, ${var.NAME}, ${secret.NAME}, ${volume.NAME}, and another service's stable address: ${service.NAME.url.PORT} (http://host:port), ${service.NAME.address.PORT} (host:port), ${service.NAME.host}, ${service.NAME.port.PORT}",
        'x-fix':
          'environment names are letters, digits and _ (e.g. DATABASE_URL), dots allowed (discovery.type); not starting with a digit',
      }),
    ),
    env_file: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
        description:
          'Files of KEY=VALUE lines (docker compose format), relative to the stack file, read when an instance starts; a later file wins, and env wins over them. Values are literal (no ${...} references)',
        'x-fix': 'give a path such as .env or a list of paths',
      }),
    ),
    replicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, default: 1, description: 'Number of instances' })),
    ports: Type.Optional(
      Names(
        Type.Union([Type.Literal('auto'), PortNumber], { 'x-fix': 'use auto or a port from 1 to 65535' }),
        'Named ports; auto lets Groundwork pick a free one per instance',
      ),
    ),
    health: Type.Optional(ProbeSchema),
    liveness: Type.Optional(ProbeSchema),
    restart: Type.Optional(literalUnion(RESTART_POLICIES, 'Restart policy (default always)')),
    stop_grace: Type.Optional(DurationT('Time between SIGTERM and SIGKILL when stopping', '10s')),
    deploy: Type.Optional(
      Type.Object(
        {
          strategy: Type.Optional(literalUnion(STRATEGIES, 'Rollout strategy (default rolling)')),
          max_surge: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, default: 1 })),
          max_unavailable: Type.Optional(Type.Integer({ minimum: 0, maximum: 64, default: 0 })),
          auto_rollback: Type.Optional(Type.Boolean({ default: true })),
          progress_deadline: Type.Optional(DurationT('Time new instances have to become healthy', '60s')),
          keep_releases: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 100,
              default: 10,
              description: 'Releases kept for rollback; older ones are pruned',
            }),
          ),
          drain_timeout: Type.Optional(
            DurationT('Time in-flight requests have to finish on an instance being replaced', '30s'),
          ),
          monitor: Type.Optional(
            DurationT(
              'After the last instance is replaced, new instances must keep running this long or the rollout rolls back',
              '2s',
            ),
          ),
          blue_green: Type.Optional(
            Type.Object(
              {
                keep_old_for: Type.Optional(
                  DurationT('How long the old set stays warm after the switch, for instant rollback', '5m'),
                ),
              },
              { additionalProperties: false },
            ),
          ),
          canary: Type.Optional(
            Type.Object(
              {
                steps: Type.Optional(
                  Type.Array(
                    Type.Object(
                      {
                        weight: Type.Integer({
                          minimum: 1,
                          maximum: 100,
                          description: 'Percent of traffic to the new release',
                        }),
                        pause: Type.Optional(DurationT('Time at this weight before analysis', '30s')),
                      },
                      { additionalProperties: false },
                    ),
                    { minItems: 1 },
                  ),
                ),
                max_error_rate: Type.Optional(
                  Type.Number({
                    minimum: 0,
                    maximum: 1,
                    default: 0.05,
                    description: "Abort when the canary's 5xx+error rate exceeds the stable set's by more than this",
                  }),
                ),
                max_p95_ratio: Type.Optional(
                  Type.Number({
                    minimum: 1,
                    default: 2,
                    description: "Abort when the canary's p95 latency exceeds the stable set's by this factor",
                  }),
                ),
                min_requests: Type.Optional(
                  Type.Integer({
                    minimum: 0,
                    default: 20,
                    description: 'Requests the canary must see before it can pass analysis',
                  }),
                ),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    user: Type.Optional(
      Type.String({
        pattern: '^[a-z_][a-z0-9_-]{0,31}$',
        description: 'OS user the instances run as (needs a root daemon)',
        'x-fix': 'use a Unix user name such as web',
      }),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          memory: Type.Optional(ByteSizeT('Memory limit (cgroups)')),
          cpu: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, maximum: 256, description: 'CPU limit in cores (cgroups), e.g. 0.5' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    depends_on: Type.Optional(Type.Array(Name('Service that must be applied first'), { uniqueItems: true })),
    escalation: Type.Optional(
      Name(
        'The escalation policy (under oncall.escalation) its incidents follow; an alert rule’s own escalation: wins (default: oncall.policy)',
      ),
    ),
    logs: Type.Optional(
      Type.Object(
        {
          max_size: Type.Optional(ByteSizeT('Size at which an instance log is rotated (default 10MiB)')),
          max_files: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 1000,
              default: 3,
              description:
                'Log files kept per instance, the live one included; disk per instance ≤ max_size × max_files',
            }),
          ),
          rate: Type.Optional(
            Type.String({
              pattern: `^(${ByteSize.pattern.slice(1, -1)}/s|unlimited)$`,
              description:
                'Output per second written to the log (default 1MiB/s); lines above it are dropped and counted',
              'x-fix': 'write a size per second such as 1MiB/s, or unlimited',
              'x-expected': 'a rate such as 1MiB/s',
            }),
          ),
          burst: Type.Optional(ByteSizeT('Output above the rate that still passes at once (default 4 × rate)')),
        },
        {
          additionalProperties: false,
          description: 'Bounds on instance logs (process runtime): rotation by size, and a rate limit',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const VolumeSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'Directory, relative to the stack file or absolute' }),
    owner: Type.Optional(
      Type.String({
        pattern: '^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$|^\\d+(:\\d+)?$',
        description: 'user[:group] or uid[:gid]',
        'x-fix': 'write user, user:group, uid or uid:gid',
      }),
    ),
    mode: Type.Optional(
      Type.String({
        pattern: '^0?[0-7]{3}$',
        default: '0755',
        description: 'Octal permissions, e.g. 0750',
        'x-fix': 'write octal permissions as a quoted string, e.g. "0750"',
        'x-expected': 'octal permissions as quoted text',
      }),
    ),
  },
  { additionalProperties: false },
);

export const BALANCERS = ['round-robin', 'least-connections'] as const;

export const RouteSchema = Type.Object(
  {
    listener: Type.Optional(Name('HTTP listener this route belongs to (default: every http listener)')),
    balance: Type.Optional(literalUnion(BALANCERS, 'Load-balancing algorithm (default round-robin)')),
    timeouts: Type.Optional(
      Type.Object(
        {
          connect: Type.Optional(DurationT('Time to connect to a backend', '2s')),
          idle: Type.Optional(DurationT('Time a request or response may stall', '60s')),
          total: Type.Optional(DurationT('Time a whole request may take', '5m')),
        },
        { additionalProperties: false },
      ),
    ),
    max_body: Type.Optional(ByteSizeT('Largest accepted request body (default 10MiB)')),
    redirect_https: Type.Optional(
      Type.Boolean({
        description:
          "true: plain http listeners answer this route's requests with a 308 to HTTPS (on the route's tls listener, or the stack's only one); false: served over plain HTTP even where the listener has redirect_https. Default: the listener decides",
      }),
    ),
    match: Type.Object(
      {
        host: Type.Optional(
          Type.String({ pattern: '^[A-Za-z0-9*.-]+$', description: 'Host name (exact, or *.suffix)' }),
        ),
        path: Type.Optional(
          Type.String({ pattern: '^/', default: '/', description: 'Path prefix', 'x-fix': 'start the path with /' }),
        ),
      },
      { additionalProperties: false },
    ),
    service: Name('Service that receives the traffic'),
    port: Name('Named port of that service'),
  },
  { additionalProperties: false },
);

export const LISTENER_PROTOCOLS = ['http', 'tcp'] as const;

/** Where a listener's certificate comes from (see src/tls/). */
export const TLS_SOURCES = ['files', 'internal', 'acme'] as const;
/** ACME challenges a listener can answer (src/tls/tls-settings.ts ACME_CHALLENGES). */
export const ACME_CHALLENGE_TYPES = ['http-01', 'tls-alpn-01'] as const;
export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';
const TlsHost = Type.String({
  pattern: '^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$',
  description: 'Host name (exact, or *.suffix for one label)',
  'x-fix': 'write a host name such as web.lab.test, or *.lab.test',
});

export const TlsCertificateSchema = Type.Object(
  {
    hosts: Type.Array(TlsHost, { minItems: 1, description: 'Host names this certificate covers (chosen by SNI)' }),
    source: literalUnion(
      TLS_SOURCES,
      "files: cert + key you provide (reloaded when they change); internal: Groundwork's local CA (private names); acme: Let's Encrypt or another ACME server (HTTP-01 or TLS-ALPN-01)",
    ),
    cert: Type.Optional(
      Type.String({ description: 'files: PEM certificate (chain) file, relative to the stack file' }),
    ),
    key: Type.Optional(Type.String({ description: 'files: PEM private key file, relative to the stack file' })),
    acme: Type.Optional(
      Type.Object(
        {
          directory: Type.Optional(
            Type.String({
              pattern: '^https://',
              default: LETS_ENCRYPT_DIRECTORY,
              description: "ACME directory URL (default Let's Encrypt)",
              'x-fix': 'write the https:// URL of the ACME directory',
            }),
          ),
          email: Type.Optional(Type.String({ description: 'Contact address for the ACME account' })),
          challenge: Type.Optional(
            literalUnion(
              ACME_CHALLENGE_TYPES,
              'How the ACME server checks the name (default http-01): http-01 fetches a token from a plain http listener on port 80; tls-alpn-01 makes a TLS handshake with this listener on port 443 (no plain listener needed)',
            ),
          ),
          ca: Type.Optional(
            Type.String({ description: "PEM file of the CA of the ACME server's own certificate (test servers)" }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ListenerTlsSchema = Type.Object(
  {
    certificates: Type.Array(TlsCertificateSchema, {
      minItems: 1,
      description: 'Certificates, picked per host by SNI',
    }),
    default: Type.Optional(TlsHost),
    hsts: Type.Optional(DurationT('Send Strict-Transport-Security with this max-age (e.g. 180d); off when absent')),
    hsts_subdomains: Type.Optional(Type.Boolean({ description: 'HSTS covers subdomains too (default false)' })),
  },
  { additionalProperties: false },
);

export const ListenerSchema = Type.Object(
  {
    port: PortNumber,
    address: Type.Optional(Type.String({ description: 'Address to bind (default 127.0.0.1)', default: '127.0.0.1' })),
    protocol: Type.Optional(
      literalUnion(LISTENER_PROTOCOLS, 'http routes by host and path; tcp forwards to one service port (default http)'),
    ),
    service: Type.Optional(Name('tcp listeners: the service to forward to')),
    target_port: Type.Optional(Name('tcp listeners: the named port of that service')),
    tls: Type.Optional(ListenerTlsSchema),
    redirect_https: Type.Optional(
      Name('http listeners: answer every request with a redirect to this TLS listener (ACME challenges excepted)'),
    ),
  },
  { additionalProperties: false },
);

export const DNS_RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX'] as const;
export const DNS_DEFAULT_LISTEN = '127.0.0.1:5353';
/** `host:port` (IPv6 in brackets) or a bare host. */
export const HOST_PORT_PATTERN = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$';
const hostPortFix = 'write host:port, e.g. 127.0.0.1:53 or [::1]:53';
/** A DNS name relative to the zone (`nas`, `_ldap._tcp`), `@` for the apex, or absolute with a final dot. */
export const DNS_NAME_PATTERN = '^(@|[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\\.?)$';
const dnsNameFix =
  'write a name relative to the zone (nas, _ldap._tcp), @ for the zone itself, or a full name ending in a dot';
/** An owner name: a DNS name, or a wildcard whose first label is `*` (`*.apps`, `*`; RFC 4592). */
export const DNS_OWNER_PATTERN =
  '^(@|\\*|(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\\.?)$';
const DnsTarget = (description: string) => Type.String({ pattern: DNS_NAME_PATTERN, description, 'x-fix': dnsNameFix });

export const DnsRecordSchema = Type.Object(
  {
    name: Type.String({
      pattern: DNS_OWNER_PATTERN,
      description:
        'Owner name, relative to the zone (`@` is the zone itself); `*.apps` is a wildcard for every name below apps that is not declared',
      'x-fix': `${dnsNameFix}; a wildcard has * as its first label only (*.apps)`,
    }),
    type: literalUnion(DNS_RECORD_TYPES, 'Record type'),
    value: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'A: an IPv4 address; AAAA: an IPv6 address; CNAME: the target name; TXT: the text (split into 255-byte strings on the wire)',
      }),
    ),
    ttl: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 604_800,
        default: 300,
        description: 'Time to live in seconds (default 300)',
      }),
    ),
    priority: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 65535, description: 'SRV and MX: lower is preferred' }),
    ),
    weight: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 65535, description: 'SRV: share among equal priorities' }),
    ),
    port: Type.Optional(PortNumber),
    target: Type.Optional(DnsTarget('SRV: the host that serves it')),
    exchange: Type.Optional(DnsTarget('MX: the mail host')),
  },
  {
    additionalProperties: false,
    description:
      'One record. A, AAAA, CNAME, TXT take `value`; SRV takes priority, weight, port, target; MX takes priority, exchange',
  },
);

export const DnsSchema = Type.Object(
  {
    zone: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$',
        description: 'The zone served authoritatively (default <stack>.internal)',
        'x-fix': 'write a domain name without a final dot, e.g. homelab.internal',
      }),
    ),
    listen: Type.Optional(
      Type.String({
        pattern: HOST_PORT_PATTERN,
        default: DNS_DEFAULT_LISTEN,
        description:
          'UDP and TCP address of the server (default 127.0.0.1:5353); 0.0.0.0:53 serves the LAN and needs root or CAP_NET_BIND_SERVICE',
        'x-fix': hostPortFix,
      }),
    ),
    upstreams: Type.Optional(
      Type.Array(
        Type.String({
          pattern: HOST_PORT_PATTERN,
          description: 'A resolver for names outside the zone (port 53 when omitted)',
          'x-fix': hostPortFix,
        }),
        {
          uniqueItems: true,
          description: 'Resolvers for other names, asked in order; none: other names are refused',
        },
      ),
    ),
    records: Type.Optional(Type.Array(DnsRecordSchema, { description: 'Records of the zone' })),
  },
  {
    additionalProperties: false,
    description:
      'A DNS server for the lab: the zone with a record per service address and the records below; other names forwarded',
  },
);

export const CHECK_TYPES = ['http', 'tcp', 'dns', 'tls', 'exec', 'push', 'icmp'] as const;
export const CHECK_DNS_TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV', 'NS'] as const;
export const CHECK_DEFAULTS = { interval: '30s', timeout: '10s', failures: 3, successes: 2 } as const;
/** Checks' target strings may hold `${service.NAME.url.PORT}` and the like (resolved when the check runs). */
const CheckTarget = (description: string, fix: string) => Type.String({ minLength: 1, description, 'x-fix': fix });

export const CheckSchema = Type.Object(
  {
    http: Type.Optional(
      Type.Object(
        {
          url: CheckTarget(
            'URL to request (http or https); may be ${service.NAME.url.PORT}/path',
            'write a URL such as http://127.0.0.1:8080/healthz or ${service.web.url.http}/healthz',
          ),
          method: Type.Optional(literalUnion(['GET', 'HEAD'] as const, 'Request method (default GET)')),
          status: Type.Optional(StatusRange),
          body: Type.Optional(Type.String({ minLength: 1, description: 'Substring the response body must contain' })),
          body_regex: Type.Optional(
            Type.String({ minLength: 1, description: 'Regular expression the response body must match' }),
          ),
          max_latency: Type.Optional(DurationT('A slower answer counts as a failure', '1s')),
        },
        { additionalProperties: false },
      ),
    ),
    tcp: Type.Optional(CheckTarget('host:port that must accept a connection', 'write host:port, e.g. 127.0.0.1:445')),
    dns: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1, description: 'Name to look up, e.g. nas.homelab.internal' }),
          type: Type.Optional(literalUnion(CHECK_DNS_TYPES, 'Record type (default A)')),
          server: Type.Optional(
            Type.String({
              pattern: HOST_PORT_PATTERN,
              description: 'Resolver to ask, host:port (default: the system resolvers)',
              'x-fix': hostPortFix,
            }),
          ),
          expect: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              minItems: 1,
              description: 'Values that must all be in the answer (A: addresses; CNAME/NS/MX/SRV: names; TXT: text)',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          address: CheckTarget('host:port of a TLS server', 'write host:port, e.g. 127.0.0.1:443'),
          servername: Type.Optional(Type.String({ minLength: 1, description: 'SNI name (default: the host)' })),
          min_days: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: 3650,
              default: 14,
              description: 'The check fails when the certificate has fewer days left than this',
            }),
          ),
          verify: Type.Optional(
            Type.Boolean({
              default: true,
              description: 'Verify the chain and the name (false: only the dates count, e.g. a self-signed lab CA)',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    exec: Type.Optional(
      Type.Object(
        {
          command: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              minItems: 1,
              description: 'Program and arguments, run without a shell; exit 0 means up',
            }),
          ),
          shell: Type.Optional(
            Type.String({ minLength: 1, description: 'Shell command, run through /bin/sh -c; exit 0 means up' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    push: Type.Optional(
      Type.Object(
        {
          grace: Type.Optional(
            DurationT('Extra time after the interval before a missing ping counts (default: the interval)', '1m'),
          ),
        },
        {
          additionalProperties: false,
          description:
            'A heartbeat: the service or job calls GET or POST /v1/push/TOKEN every interval; no ping within interval + grace is a failure',
        },
      ),
    ),
    icmp: Type.Optional(Type.String({ description: 'Not available: see the error it gives' })),
    interval: Type.Optional(DurationT('Time between runs (push: between expected pings)', CHECK_DEFAULTS.interval)),
    timeout: Type.Optional(DurationT('Time one run may take', CHECK_DEFAULTS.timeout)),
    failures: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        default: CHECK_DEFAULTS.failures,
        description: 'Consecutive failures before the check is down (push: default 1)',
      }),
    ),
    successes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        default: CHECK_DEFAULTS.successes,
        description: 'Consecutive successes before the check is up again (push: default 1)',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'A check: exactly one of http, tcp, dns, tls, exec or push, and its timing and thresholds',
  },
);

export const VariableSchema = Type.Object(
  {
    default: Type.Optional(Scalar),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const SecretSchema = Type.Object(
  {
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** An age public key: X25519 (`age1…`) or hybrid post-quantum (`age1pq1…`). */
export const AgeRecipientSchema = Type.String({
  pattern: '^age1[0-9a-z]+$',
  description: 'An age public key (age1...), e.g. from `groundwork secret init` or age-keygen',
  'x-fix': 'paste the public key line `age1...` (never the AGE-SECRET-KEY-1... private key)',
});
/** The roles of people (security/roles.ts says what each may do); declared with `people:`. */
export { ROLES };

export const StackSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    stack: Name('Name of the stack'),
    variables: Type.Optional(Names(VariableSchema, 'Inputs; override with --var name=value or GROUNDWORK_VAR_name')),
    secrets: Type.Optional(
      Names(SecretSchema, 'Secrets referenced as ${secret.NAME}; values never enter plans or state'),
    ),
    secret_recipients: Type.Optional(
      Names(
        AgeRecipientSchema,
        'Who can decrypt groundwork.secrets.yaml: people and hosts by name, each an age public key; values are encrypted to all of them',
      ),
    ),
    services: Type.Optional(Names(ServiceSchema, 'Long-running services')),
    volumes: Type.Optional(Names(VolumeSchema, 'Directories with an owner and a mode')),
    routes: Type.Optional(Type.Array(RouteSchema, { description: 'HTTP routes to services' })),
    listeners: Type.Optional(Names(ListenerSchema, 'Ports the built-in proxy listens on')),
    dns: Type.Optional(DnsSchema),
    notify: Type.Optional(NotifySchema),
    alerts: Type.Optional(Names(AlertSchema, 'Alert rules: what raises an alert, how long it must hold, its severity')),
    maintenance: Type.Optional(Names(MaintenanceSchema, 'Windows in which matching alerts are not sent')),
    people: Type.Optional(
      Names(
        PersonSchema,
        'The team: each person’s role (API tokens: `groundwork token create --user NAME`) and how to page them',
      ),
    ),
    oncall: Type.Optional(OncallSchema),
    changes: Type.Optional(ChangesSchema),
    checks: Type.Optional(
      Names(CheckSchema, 'Checks the daemon runs on their interval: http, tcp, dns, tls, exec, push'),
    ),
    scrape: Type.Optional(ScrapeSchema),
  },
  { additionalProperties: false, title: 'Groundwork stack file' },
);

export type StackConfig = Static<typeof StackSchema>;
export type Role = (typeof ROLES)[number];
/** A person as access control sees them: people with a role. */
export interface UserConfig {
  role: Role;
  services?: string[];
}

/** The people who may hold tokens: those with a role. */
export function accessPeople(config: StackConfig): Record<string, UserConfig> {
  const out: Record<string, UserConfig> = {};
  for (const [name, p] of Object.entries(config.people ?? {})) {
    if (p.role) out[name] = p.services ? { role: p.role, services: p.services } : { role: p.role };
  }
  return out;
}
export type ServiceConfig = Static<typeof ServiceSchema>;
export type VolumeConfig = Static<typeof VolumeSchema>;
export type RouteConfig = Static<typeof RouteSchema>;
export type ProbeConfig = Static<typeof ProbeSchema>;
export type Runtime = (typeof RUNTIMES)[number];
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export type ListenerConfig = Static<typeof ListenerSchema>;
export type Balancer = (typeof BALANCERS)[number];
export type DnsConfig = Static<typeof DnsSchema>;
export type DnsRecordConfig = Static<typeof DnsRecordSchema>;
export type DnsRecordTypeName = (typeof DNS_RECORD_TYPES)[number];
export type CheckConfig = Static<typeof CheckSchema>;
export type CheckTypeName = (typeof CHECK_TYPES)[number];
export type CheckDnsType = (typeof CHECK_DNS_TYPES)[number];
