/**
 * `groundwork nodes`: the Docker Swarm nodes that `runtime: swarm` services run on, through the
 * ClusterRuntime. Needs no stack file, only the engine (DOCKER_HOST=unix://... or the default
 * socket), which must be a Swarm manager.
 */
import type { EngineInfo } from '../../runtime/docker/docker-api-types.js';
import { DockerClient, DockerEngineError, dockerSocketFromEnv } from '../../runtime/docker/docker-client.js';
import type { ClusterNode } from '../../runtime/swarm/cluster-runtime.js';
import { SwarmCluster } from '../../runtime/swarm/swarm-cluster.js';
import { defineCommand } from '../command.js';
import { EXIT, UsageError, UserError } from '../io.js';
import { colourEnabled, makeStyle } from '../style.js';

const HOW_TO_JOIN =
  'To add a machine: run `docker swarm join-token worker` here and the printed `docker swarm join ...` command on the new machine (see examples/homelab-containers/README.md).';

/** Why this engine cannot list Swarm nodes, with the fix; undefined when it can. */
export function swarmProblem(info: Pick<EngineInfo, 'Swarm'>, socket: string): string | undefined {
  const s = info.Swarm;
  switch (s.LocalNodeState) {
    case 'inactive':
      return `Swarm mode is not active on the Docker engine at ${socket}. Make this machine a manager with \`docker swarm init --advertise-addr <its LAN address>\` (127.0.0.1 is enough for a single machine), or join an existing Swarm with the \`docker swarm join ...\` command that \`docker swarm join-token worker\` prints on a manager.`;
    case 'pending':
      return `the Docker engine at ${socket} is still joining a Swarm; wait a moment and run \`groundwork nodes\` again (\`docker info\` shows its Swarm state).`;
    case 'locked':
      return `the Swarm on the Docker engine at ${socket} is locked; unlock it with \`docker swarm unlock\` and the unlock key.`;
    case 'error':
      return `Swarm on the Docker engine at ${socket} is in an error state; see \`docker info\` and the dockerd log, then \`docker swarm leave --force\` and join or init again.`;
    case 'active':
      return s.ControlAvailable
        ? undefined
        : `this machine is a Swarm worker, and only managers know the cluster's nodes; run \`groundwork nodes\` on a manager (or promote this machine there: \`docker node promote <hostname>\`).`;
  }
}

export const nodesCommand = defineCommand({
  name: 'nodes',
  summary: 'Docker Swarm nodes (for runtime: swarm): hostname, role, leader, availability, state, address, engine',
  usage: 'nodes [--json]',
  flags: {
    json: { type: 'boolean', description: 'Machine-readable output' },
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
  },
  async run(flags, positionals, io) {
    if (positionals.length) throw new UsageError(`nodes takes no arguments (found \`${positionals.join(' ')}\`)`);
    const socket = dockerSocketFromEnv(io.env);
    const client = new DockerClient({ socketPath: socket, timeoutMs: 15_000 });
    let nodes: ClusterNode[];
    let self: string;
    try {
      const info = await client.info();
      const problem = swarmProblem(info, socket);
      if (problem) throw new UserError(`cannot list Swarm nodes: ${problem}`);
      self = info.Swarm.NodeID;
      // Listing nodes touches no service, so this cluster needs no owner.
      nodes = await new SwarmCluster({ client, owner: '' }).nodes();
    } catch (e) {
      if (e instanceof DockerEngineError) throw new UserError(`cannot list Swarm nodes: ${e.message}`);
      throw e;
    }
    if (flags.json) {
      io.stdout(`${JSON.stringify({ nodes: nodes.map((n) => ({ ...n, self: n.id === self })) }, null, 2)}\n`);
      return EXIT.ok;
    }
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const rows = nodes.map((n) => [
      `${n.hostname}${n.id === self ? ' *' : ''}`,
      n.role,
      n.leader ? 'yes' : '',
      n.availability,
      n.state,
      n.address,
      n.engineVersion,
    ]);
    const head = ['HOSTNAME', 'ROLE', 'LEADER', 'AVAILABILITY', 'STATE', 'ADDRESS', 'ENGINE'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)) + 2);
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('')
        .trimEnd();
    const out = [line(head)];
    for (const [i, r] of rows.entries()) {
      const n = nodes[i] as ClusterNode;
      const text = line(r);
      out.push(n.state !== 'ready' ? style.red(text) : n.availability !== 'active' ? style.yellow(text) : text);
    }
    out.push('', style.dim(`${nodes.length} node${nodes.length === 1 ? '' : 's'}; * = this machine. ${HOW_TO_JOIN}`));
    io.stdout(`${out.join('\n')}\n`);
    return EXIT.ok;
  },
});
