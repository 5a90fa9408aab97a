/**
 * Valid stack files shared by the good-stack tests and the fuzzer (as its seeds).
 * Not a test file: vitest only collects *.test.ts.
 */

/** Uses every key the schema knows. */
export const FULL_STACK = `# a stack file that uses every key of the schema
$schema: ./groundwork.schema.json
stack: homelab
variables:
  region:
    default: eu-west
    description: where the lab runs
  workers: { default: 3 }
  debug: { default: false }
secrets:
  db-password: { description: password of the app user }
  api-key: {}
volumes:
  pgdata:
    path: ./data/pg
    owner: postgres:postgres
    mode: "0750"
  uploads: { path: /srv/uploads, owner: "1000:1000", mode: "755" }
services:
  db:
    runtime: process
    command: postgres
    args: [-D, "\${volume.pgdata}", -p, "\${port.pg}"]
    cwd: services/db
    ports: { pg: 5432 }
    health:
      tcp: { port: pg }
      interval: 5s
      timeout: 1s
      start_period: 30s
      healthy: 1
      unhealthy: 5
    restart: on-failure
    stop_grace: 1m30s
    user: postgres
    resources: { memory: 1GiB, cpu: 2 }
  web:
    command: node dist/server.js
    env:
      PORT: \${port.http}
      REGION: \${var.region}
      DATABASE_URL: postgres://app:\${secret.db-password}@\${service.db.address.pg}/app
      API_KEY: \${secret.api-key}
      UPLOADS: \${volume.uploads}
      LITERAL: cost is $\${price}
      WORKERS: 4
      VERBOSE: true
    replicas: 2
    ports:
      http: auto
      admin: auto
    health:
      http:
        path: /healthz
        port: http
        status: 200-299
        body: ok
      interval: 2s
    liveness:
      exec: { command: test -f /tmp/alive }
      interval: 10s
    restart: always
    stop_grace: 10s
    deploy:
      strategy: blue-green
      max_surge: 1
      max_unavailable: 0
      auto_rollback: true
      progress_deadline: 60s
    user: web
    resources:
      memory: 256MiB
      cpu: 0.5
    depends_on: [db]
routes:
  - match: { host: web.lab.test, path: / }
    service: web
    port: http
  - match: { host: "*.admin.lab.test", path: /admin }
    service: web
    port: admin
`;

export const MINIMAL_STACK = 'stack: x\n';

/** Anchors, aliases and flow style. */
export const ANCHOR_STACK = `stack: anchors
variables: { tier: { default: gold } }
services:
  web:
    command: node web.js
    ports: { http: auto }
    health: &probe
      http: { path: /healthz, status: "200" }
      interval: 2s
    env: &env
      NODE_ENV: production
      TIER: \${var.tier}
  api:
    command: node api.js
    ports: { http: 8080 }
    health: *probe
    env: *env
    depends_on: [web]
routes:
  - { match: { host: api.lab.test }, service: api, port: http }
`;

/** Block scalars, quoting styles and comments. */
export const SCALAR_STACK = `# scalars in every style
stack: 'scalars'
secrets: { token: {} }
services:
  job:
    command: >-
      sh -c "echo start;
      exec ./run --flag"
    env:
      SCRIPT: |
        #!/bin/sh
        echo "\${var.who}"
      TOKEN: "\${secret.token}"
      QUOTED: 'it''s'
      EMPTY: ""
    replicas: 1
    restart: never
variables:
  who:
    default: "world"
    description: >
      folded
      text
`;

export const SEED_STACKS: readonly string[] = [MINIMAL_STACK, FULL_STACK, ANCHOR_STACK, SCALAR_STACK];
