/**
 * The layering of src/ (../shared/DESIGN.md, "Layout"), checked in CI by `npm run deps:check`.
 * Data flows down this list; a folder imports only folders below it.
 *
 *   cli, daemon   adapters: nothing imports them (cli may use the daemon's API client and info file)
 *   core          the installation opened once + the operations API; anything below, never an adapter
 *   deploy        release building
 *   engine        plan / apply / refresh: knows resource kinds only through kinds/resource-kind.ts
 *   kinds         one folder per resource kind; uses runtime drivers, never the engine or above
 *   runtime       RuntimeDriver contract + process/, docker/, swarm/: knows no resource kind
 *   store         the Store contract + sqlite/: rows and records, no engine or kind logic
 *   alerts        rules' state machine, silences, routing: builds on notify and store
 *   incidents     on-call schedules, escalation, incidents and postmortems: builds on alerts and notify
 *   observe, proxy, security, dns, notify   leaves used by kinds and above
 *   model         typed desired resources: config, util
 *   compose       `import compose`: compose files → a stack; config, util, and the service address and
 *                 docker hosts contracts of kinds and runtime (never engine, core or adapters)
 *   config        the stack file: util, and promql (alert expressions are checked at validate time)
 *   promql        the PromQL language (parser, AST, functions, label matchers): util only
 *   util          value objects: imports nothing of the project
 *
 * Type-only imports count (tsPreCompilationDeps): a cycle through types is still a cycle.
 */

/* global module */

/** Files of a top folder of src/, as a path pattern. */
const folder = (...names) => `^src/(${names.join('|')})/`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle between modules; break it by moving the shared contract to the lower side.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment: 'Two folders that import each other are one concept split in two, or a contract on the wrong side.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'util-imports-nothing',
      severity: 'error',
      comment: 'util/ holds value objects and imports nothing of the project.',
      from: { path: folder('util') },
      to: { path: '^src/', pathNot: folder('util') },
    },
    {
      name: 'config-imports-util-only',
      severity: 'error',
      comment:
        'config/ (the stack file) builds on util/ only, and on promql/ (the language, no storage) so that alert expressions are checked at validate time.',
      from: { path: folder('config') },
      to: {
        path: '^src/',
        pathNot: folder('config', 'util', 'promql'),
      },
    },
    {
      name: 'promql-imports-util-only',
      severity: 'error',
      comment:
        'promql/ is the query language alone (parse, types, matchers): the engine that runs it lives in observe/.',
      from: { path: folder('promql') },
      to: { path: '^src/', pathNot: folder('promql', 'util') },
    },
    {
      name: 'compose-imports-below-engine',
      severity: 'error',
      comment: 'compose/ translates files into a stack; it never runs anything.',
      from: { path: folder('compose') },
      to: { path: folder('engine', 'core', 'daemon', 'cli', 'deploy', 'store') },
    },
    {
      name: 'model-imports-config-util',
      severity: 'error',
      comment: 'model/ (desired resources) builds on config/ and util/ only.',
      from: { path: folder('model') },
      to: { path: '^src/', pathNot: folder('model', 'config', 'util') },
    },
    {
      name: 'engine-knows-kinds-by-contract',
      severity: 'error',
      comment:
        'The engine sees resource kinds only through kinds/resource-kind.ts; kind knowledge belongs in the kind ' +
        '(a hook on the ResourceKind contract), and drivers are reached through the kinds.',
      from: { path: folder('engine') },
      to: {
        path: [folder('kinds', 'runtime', 'daemon', 'cli', 'core', 'deploy')],
        pathNot: '^src/kinds/resource-kind\\.ts$',
      },
    },
    {
      name: 'kinds-below-engine',
      severity: 'error',
      comment: 'Resource kinds are called by the engine and core; they never call up into them or the adapters.',
      from: { path: folder('kinds') },
      to: { path: folder('engine', 'daemon', 'cli', 'core') },
    },
    {
      name: 'kinds-not-deploy',
      severity: 'error',
      comment: 'deploy/ builds on the service kind; a contract kinds need lives in kinds/.',
      from: { path: folder('kinds') },
      to: { path: folder('deploy') },
    },
    {
      name: 'runtime-knows-no-kind',
      severity: 'error',
      comment: 'Runtime drivers run instances; they know no resource kind, engine or adapter.',
      from: { path: folder('runtime') },
      to: { path: folder('kinds', 'engine', 'daemon', 'cli', 'core', 'deploy') },
    },
    {
      name: 'store-below-engine',
      severity: 'error',
      comment: 'The store keeps rows and records; it knows no engine, kind or adapter.',
      from: { path: folder('store') },
      to: { path: folder('engine', 'kinds', 'daemon', 'cli') },
    },
    {
      name: 'leaves-stay-leaves',
      severity: 'error',
      comment:
        'observe/, proxy/, security/, dns/, notify/, alerts/, incidents/ and change/ are used by kinds and above; they know no kind, engine or adapter.',
      from: { path: folder('observe', 'proxy', 'security', 'dns', 'notify', 'alerts', 'incidents', 'change') },
      to: { path: folder('kinds', 'engine', 'deploy', 'core', 'daemon', 'cli') },
    },
    {
      name: 'core-not-adapters',
      severity: 'error',
      comment: 'core/ is what the adapters call; it never imports them.',
      from: { path: folder('core') },
      to: { path: folder('daemon', 'cli') },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'cli/ is an adapter: only its own files and src/index.ts import it.',
      from: { path: '^src/', pathNot: [folder('cli'), '^src/index\\.ts$'] },
      to: { path: folder('cli') },
    },
    {
      name: 'nothing-imports-daemon',
      severity: 'error',
      comment:
        'daemon/ is an adapter: only its own files, cli/ (see cli-uses-daemon-client-only) and src/index.ts import it.',
      from: { path: '^src/', pathNot: [folder('daemon', 'cli'), '^src/index\\.ts$'] },
      to: { path: folder('daemon') },
    },
    {
      name: 'sqlite-behind-the-store-contract',
      severity: 'error',
      comment:
        'Code uses the asynchronous Store contract (store/store.ts), so a PostgreSQL store can replace SQLite. ' +
        'Only the SQLite store, the metrics database and the places that open them (installation, the CLI ' +
        'workspace, `state` backup/restore) touch better-sqlite3 or store/sqlite/.',
      from: {
        path: '^src/',
        pathNot: [
          '^src/store/sqlite/',
          '^src/observe/tsdb/',
          '^src/core/installation\\.ts$',
          '^src/cli/workspace\\.ts$',
          '^src/cli/commands/state\\.ts$',
        ],
      },
      to: { path: ['^src/store/sqlite/', 'node_modules/better-sqlite3/'] },
    },
    {
      name: 'plan-is-pure',
      severity: 'error',
      comment:
        'makePlan is a pure function of the model and the recorded rows (read once, by readState): it imports no ' +
        'store implementation and performs no I/O.',
      from: { path: '^src/engine/plan\\.ts$' },
      to: { path: ['^src/store/sqlite/', 'node_modules/better-sqlite3/', '^node:fs', '^fs$'] },
    },
    {
      name: 'cli-uses-daemon-client-only',
      severity: 'error',
      comment: 'cli/ reaches the daemon only through its API client and info file, never its internals.',
      from: {
        path: folder('cli'),
        pathNot: [
          // cli/commands/up.ts starts the Daemon in the foreground: the one adapter that composes it.
          '^src/cli/commands/up\\.ts$',
        ],
      },
      to: { path: folder('daemon'), pathNot: '^src/daemon/(api/client|daemon-info|info)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.(test|bench)\\.ts$' },
  },
};
