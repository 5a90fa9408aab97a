/**
 * `groundwork nodes` through the CLI's run(): the real engine's Swarm nodes as a table and as
 * JSON; a clear error with the fix when the engine is unreachable or is no Swarm manager.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swarmProblem } from '../../src/cli/commands/nodes.js';
import { jsonOf, runCli, STACK_FRAME } from '../helpers/cli.js';
import { describeWithEngine, findEngine } from '../helpers/docker.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const swarm = await findEngine({ swarm: true });
let cwd = '';
beforeAll(() => {
  cwd = makeTempDir('nodes');
});
afterAll(() => removeTempDir(cwd));

interface NodesJson {
  nodes: {
    id: string;
    hostname: string;
    role: string;
    leader: boolean;
    availability: string;
    state: string;
    address: string;
    engineVersion: string;
    self: boolean;
  }[];
}

describeWithEngine('groundwork nodes on the real Swarm', swarm, () => {
  it('lists this machine as the leading manager, needing no stack file', async () => {
    const r = await runCli(['nodes'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const [head, row] = r.stdout.split('\n');
    expect(head).toMatch(/^HOSTNAME\s+ROLE\s+LEADER\s+AVAILABILITY\s+STATE\s+ADDRESS\s+ENGINE$/);
    expect(row).toMatch(
      new RegExp(`^${hostname()} \\*\\s+manager\\s+yes\\s+active\\s+ready\\s+\\S+:2377\\s+\\d+\\.\\d+`),
    );
    expect(r.stdout).toContain('docker swarm join-token worker');
  });

  it('--json gives every field, and which node is this machine', async () => {
    const j = jsonOf<NodesJson>(await runCli(['nodes', '--json'], { cwd }));
    const me = j.nodes.find((n) => n.self);
    expect(me).toMatchObject({
      hostname: hostname(),
      role: 'manager',
      leader: true,
      availability: 'active',
      state: 'ready',
    });
    expect(me?.id).toMatch(/^[a-z0-9]{25}$/);
    expect(me?.engineVersion).toMatch(/^\d+\.\d+/);
  });
});

describe('groundwork nodes errors', () => {
  it('an unreachable engine: exit 1, what is wrong and how to fix it, no stack trace', async () => {
    const r = await runCli(['nodes'], { cwd, env: { DOCKER_HOST: `unix://${cwd}/no-docker.sock` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot list Swarm nodes: .*not reachable at .*no-docker\.sock; start dockerd/);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it('an engine without an active Swarm, a worker, a locked or joining Swarm: each says how to fix it', () => {
    const info = (
      LocalNodeState: 'inactive' | 'pending' | 'active' | 'error' | 'locked',
      ControlAvailable = false,
    ) => ({ Swarm: { NodeID: '', LocalNodeState, ControlAvailable } });
    expect(swarmProblem(info('inactive'), '/s')).toMatch(
      /Swarm mode is not active.*docker swarm init --advertise-addr.*docker swarm join-token worker/,
    );
    expect(swarmProblem(info('active', false), '/s')).toMatch(
      /is a Swarm worker.*run `groundwork nodes` on a manager.*docker node promote/,
    );
    expect(swarmProblem(info('locked'), '/s')).toMatch(/docker swarm unlock/);
    expect(swarmProblem(info('pending'), '/s')).toMatch(/still joining/);
    expect(swarmProblem(info('error'), '/s')).toMatch(/error state/);
    expect(swarmProblem(info('active', true), '/s')).toBeUndefined();
  });

  it('takes no arguments; --help describes it', async () => {
    const bad = await runCli(['nodes', 'extra'], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('nodes takes no arguments');
    const help = await runCli(['nodes', '--help'], { cwd });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Docker Swarm nodes');
  });
});
