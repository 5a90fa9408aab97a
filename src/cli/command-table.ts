/**
 * Every command the CLI knows, by name and summary, without loading any of them: `groundwork NAME`
 * imports only NAME's module (and what it imports), so `--version`, `--help` and a command that
 * needs no daemon client, no Docker or no HTTP server do not pay to load them (the whole tree costs
 * more than a second of CPU on each start, and the test suite starts the CLI many times).
 *
 * The name and summary here repeat the command's own; test/cli/lazy-commands.test.ts loads every
 * entry and fails on any difference, and on any command module export missing from this table.
 */
import type { Command } from './command.js';

/** A command as the CLI lists it before loading it. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  /** Imports the command's module and returns its Command (the module is loaded once, then cached). */
  load(): Promise<Command>;
}

/** An entry for a Command already in memory (a command registered by an embedder or a test). */
export function loadedEntry(command: Command): CommandEntry {
  return { name: command.name, summary: command.summary, load: () => Promise.resolve(command) };
}

/** In the order `groundwork --help` lists them. */
export const COMMAND_TABLE: readonly CommandEntry[] = [
  {
    name: 'init',
    summary: 'Write a commented starter groundwork.yaml',
    load: async () => (await import('./commands/init.js')).initCommand,
  },
  {
    name: 'validate',
    summary: 'Check the stack file and report every problem at once',
    load: async () => (await import('./commands/validate.js')).validateCommand,
  },
  {
    name: 'plan',
    summary: 'Show what apply would change (pure: reads recorded state, not the world)',
    load: async () => (await import('./commands/plan.js')).planCommand,
  },
  {
    name: 'apply',
    summary: 'Make the running stack match the stack file (or apply a saved plan, or an approved change request)',
    load: async () => (await import('./commands/apply.js')).applyCommand,
  },
  {
    name: 'refresh',
    summary: 'Read the world, record what it looks like and report drift (does not change anything running)',
    load: async () => (await import('./commands/refresh.js')).refreshCommand,
  },
  {
    name: 'up',
    summary: 'Run the daemon in the foreground: apply the stack, supervise it, serve the API',
    load: async () => (await import('./commands/up.js')).upCommand,
  },
  {
    name: 'service',
    summary: 'Run the daemon at boot: install (or uninstall, print) a systemd unit for this stack',
    load: async () => (await import('./commands/service.js')).serviceCommand,
  },
  {
    name: 'status',
    summary: 'Services and instances: state, pid, uptime, restarts, health, ports; listeners, routes and checks',
    load: async () => (await import('./commands/status.js')).statusCommand,
  },
  {
    name: 'checks',
    summary: 'Checks of the stack: state, since when, latency, certificate days left, last error',
    load: async () => (await import('./commands/checks.js')).checksCommand,
  },
  {
    name: 'logs',
    summary: 'Show (and follow) the logs of services, filtered by time, text and JSON fields',
    load: async () => (await import('./commands/logs.js')).logsCommand,
  },
  {
    name: 'exec',
    summary: "Run a command in an instance's environment and working directory (a container: docker exec)",
    load: async () => (await import('./commands/exec.js')).execCommand,
  },
  {
    name: 'restart',
    summary: 'Restart a service, one instance at a time (each ready before the next)',
    load: async () => (await import('./commands/restart.js')).restartCommand,
  },
  {
    name: 'scale',
    summary: 'Run N instances of a service (recorded as a change; the stack file keeps its own count)',
    load: async () => (await import('./commands/scale.js')).scaleCommand,
  },
  {
    name: 'down',
    summary: 'Stop every service (and the daemon, when one runs)',
    load: async () => (await import('./commands/restart.js')).downCommand,
  },
  {
    name: 'destroy',
    summary: 'Remove everything the stack created (volumes only with --volumes), after a plan and a confirmation',
    load: async () => (await import('./commands/destroy.js')).destroyCommand,
  },
  {
    name: 'deploy',
    summary: 'Build a release of a service (git ref or working tree) and roll it out',
    load: async () => (await import('./commands/deploy.js')).deployCommand,
  },
  {
    name: 'rollback',
    summary: 'Roll a service back to its previous release (or --to vN): code and config',
    load: async () => (await import('./commands/deploy.js')).rollbackCommand,
  },
  {
    name: 'releases',
    summary: 'List the releases of a service',
    load: async () => (await import('./commands/deploy.js')).releasesCommand,
  },
  {
    name: 'nodes',
    summary: 'Docker Swarm nodes (for runtime: swarm): hostname, role, leader, availability, state, address, engine',
    load: async () => (await import('./commands/nodes.js')).nodesCommand,
  },
  {
    name: 'history',
    summary: 'List recorded changes, newest first',
    load: async () => (await import('./commands/history.js')).historyCommand,
  },
  {
    name: 'show',
    summary: 'Show one change with its steps',
    load: async () => (await import('./commands/history.js')).showCommand,
  },
  {
    name: 'unlock',
    summary: 'Show who holds the state lock; with --force, release it',
    load: async () => (await import('./commands/unlock.js')).unlockCommand,
  },
  {
    name: 'state',
    summary: 'Check the state store, back it up, list backups, restore one',
    load: async () => (await import('./commands/state.js')).stateCommand,
  },
  {
    name: 'ca',
    summary: "Export the local CA's root certificate (to trust `source: internal` certificates)",
    load: async () => (await import('./commands/ca.js')).caCommand,
  },
  {
    name: 'alerts',
    summary: 'Alerts firing, pending or resolved in the last day: since when, who was told; silences in force',
    load: async () => (await import('./commands/alerts.js')).alertsCommand,
  },
  {
    name: 'silence',
    summary: 'Silences: add, list, expire',
    load: async () => (await import('./commands/alerts.js')).silenceCommand,
  },
  {
    name: 'incident',
    summary: 'Incidents: list, show, ack, resolve, note, assign, action, postmortem, stats',
    load: async () => (await import('./commands/incident.js')).incidentCommand,
  },
  {
    name: 'oncall',
    summary: 'On call: who, show, ics, override',
    load: async () => (await import('./commands/oncall.js')).oncallCommand,
  },
  {
    name: 'query',
    summary: 'PromQL over the metrics the daemon keeps (checks today): a table, or a range with sparklines',
    load: async () => (await import('./commands/query.js')).queryCommand,
  },
  {
    name: 'token',
    summary: 'Create, list and revoke API tokens (roles, services, expiry)',
    load: async () => (await import('./commands/token.js')).tokenCommand,
  },
  {
    name: 'audit',
    summary: 'List, verify (hash chain) or export the audit log',
    load: async () => (await import('./commands/audit.js')).auditCommand,
  },
  {
    name: 'change',
    summary: 'Changes awaiting approval: request, approve, reject, withdraw, list, show',
    load: async () => (await import('./commands/change.js')).changeCommand,
  },
  {
    name: 'decision',
    summary: 'Decision records under docs/decisions/: new, list',
    load: async () => (await import('./commands/decision.js')).decisionCommand,
  },
  {
    name: 'schema',
    summary: 'Print (or write) the JSON Schema of the stack file, for editors',
    load: async () => (await import('./commands/schema.js')).schemaCommand,
  },
  {
    name: 'import',
    summary: 'Convert docker compose files into a groundwork.yaml, with a report of what was mapped',
    load: async () => (await import('./commands/import.js')).importCommand,
  },
  {
    name: 'secret',
    summary: 'Encrypted secrets: init, set, get, list, rotate, rm, recipients',
    load: async () => (await import('./commands/secret.js')).secretCommand,
  },
];
