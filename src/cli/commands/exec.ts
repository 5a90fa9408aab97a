/**
 * `groundwork exec SERVICE [--instance N] -- CMD [ARGS...]`: a command in an instance's world,
 * like `docker compose exec` / `kamal app exec`.
 *  - process instances: CMD runs on this machine with the environment and working directory the
 *    instance was started with, read from /proc/PID/environ and /proc/PID/cwd (so it sees exactly
 *    what the instance sees, secrets included, without Groundwork resolving them again). Reading
 *    them needs the instance's user (or root), as for any process.
 *  - docker instances: `docker exec` in the container (its own environment and working dir).
 *  - swarm: tasks run where Swarm placed them; refused with how to reach one.
 * The exit code is the command's. Nothing of the environment is printed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { Installation } from '../../core/installation.js';
import { address } from '../../model/resource.js';
import {
  instanceLabel,
  serviceOutputsOf,
  serviceSpecOf,
  type InstanceOutput,
} from '../../kinds/service/service-spec.js';
import { runningPid } from '../../runtime/process/process-handle.js';
import { systemClock } from '../../util/clock.js';
import { silentLogger } from '../../util/logger.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError, type CliIo } from '../io.js';
import { stackFileOf, stateDirOf } from '../workspace.js';

/** The instance's environment at start, from /proc (NUL-separated KEY=VALUE). */
function environOf(pid: number, where: string): Record<string, string> {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'EACCES'
        ? `${where} runs as another user: its environment can be read only by that user or root; run \`sudo groundwork exec ...\``
        : `${where} (pid ${pid}) is not running any more; \`groundwork status\` shows its state`,
    );
  }
  const env: Record<string, string> = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

function run(
  io: CliIo,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      // A terminal user types into the command (docker exec -i); tests and pipes give it nothing.
      stdio: [io.isTty ? 'inherit' : 'ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    child.stdout.setEncoding('utf8').on('data', (t: string) => io.stdout(t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => io.stderr(t));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new UserError(
          e.code === 'ENOENT'
            ? `\`${cmd}\` was not found${opts.env ? " on the instance's PATH" : ''}; give a full path or install it`
            : `\`${cmd}\` could not start: ${e.message}`,
          EXIT.failed,
        ),
      ),
    );
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}

export const execCommand = defineCommand({
  name: 'exec',
  args: ['SERVICE', 'CMD', 'ARGS...'],
  summary: "Run a command in an instance's environment and working directory (a container: docker exec)",
  usage: 'exec SERVICE [--instance N] -- CMD [ARGS...]',
  flags: {
    ...STACK_FLAGS,
    instance: { type: 'number', description: 'Which instance (default: the first running one)', valueName: 'N' },
  },
  // The command's own arguments are free: checked here rather than by position count.
  async run(flags, pos, io) {
    const [service, cmd, ...args] = pos;
    if (!service || !cmd)
      throw new UserError(
        'usage: groundwork exec SERVICE [--instance N] -- CMD [ARGS...], e.g. `groundwork exec web -- env`',
        EXIT.usage,
      );
    if (flags.json) throw new UserError('exec prints what the command prints: it has no --json', EXIT.usage);
    const installation = Installation.open({
      stackFile: stackFileOf(io, flags),
      stateDir: stateDirOf(io, flags),
      env: io.env,
      clock: systemClock,
      logger: silentLogger,
    });
    let spec;
    let instances: InstanceOutput[];
    try {
      const row = await installation.store.resources.tryGetResource(address('service', service));
      if (!row) {
        const known = (await installation.store.resources.listResources())
          .filter((r) => r.kind === 'service')
          .map((r) => r.address.slice('service.'.length));
        throw new UserError(
          `service \`${service}\` is not applied${known.length ? ` (applied: ${known.join(', ')})` : ''}; run \`groundwork apply\` first`,
        );
      }
      spec = serviceSpecOf(row);
      instances = serviceOutputsOf(row).instances.filter((i) => !i.gone);
    } finally {
      await installation.close();
    }
    if (spec.runtime === 'swarm')
      throw new UserError(
        `${service} runs on Swarm, whose tasks run on the node Swarm chose: on that node, \`docker ps --filter label=com.docker.swarm.service.name=${service}\` names the container for \`docker exec\``,
        EXIT.usage,
      );
    const indexes = instances.map((i) => i.index).sort((a, b) => a - b);
    const inst =
      flags.instance === undefined
        ? instances.find((i) => i.index === indexes[0])
        : instances.find((i) => i.index === flags.instance);
    if (!inst)
      throw new UserError(
        indexes.length === 0
          ? `${service} has no running instance; start it with \`groundwork apply\` or \`groundwork up\``
          : `${service} has no instance ${flags.instance}: it has ${indexes.length} (${indexes.join(', ')})`,
      );
    const where = `${service}/${inst.index}`;
    if (spec.runtime === 'docker')
      return run(io, 'docker', ['exec', ...(io.isTty ? ['-it'] : []), inst.id, cmd, ...args], {});
    // The process driver tells its pid while that very process runs (a reused pid is someone else's).
    const pid = runningPid(inst.handle, inst.id);
    if (pid === undefined)
      throw new UserError(`${where} (${instanceLabel(inst)}) is not running; \`groundwork status\` shows its state`);
    const env = environOf(pid, where);
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      throw new UserError(
        `${where} runs as another user: its working directory is not readable; run \`sudo groundwork exec ...\``,
      );
    }
    return run(io, cmd, args, { env, cwd });
  },
});
