import path from 'node:path';
import type { DeployResult, Operations, Progress, ReleasesView } from '../../core/operations.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { varEnvOf } from '../daemon-client.js';
import { EXIT, UserError, type CliIo } from '../io.js';
import { openOps } from '../open-ops.js';
import { colourEnabled, makeStyle, type Style } from '../style.js';
import { authorOf, parseVars, requireModel, type StackFlags } from '../workspace.js';
import { BREAK_GLASS_FLAG, CHANGE_FLAG, DECISION_FLAG, parseDecisions } from './change-flags.js';

const GOVERNANCE_FLAGS = { change: CHANGE_FLAG, 'break-glass': BREAK_GLASS_FLAG, decision: DECISION_FLAG } as const;

/** --change, --break-glass, --decision as the operation's input. */
function governanceOf(flags: { change: number | undefined; 'break-glass': string | undefined; decision: string[] }) {
  if (flags.change !== undefined && (!Number.isInteger(flags.change) || flags.change < 1))
    throw new UserError(`--change needs a change request number, found ${flags.change}`, EXIT.usage);
  return {
    decisions: parseDecisions(flags.decision),
    ...(flags.change !== undefined ? { request: flags.change } : {}),
    ...(flags['break-glass'] !== undefined ? { breakGlass: flags['break-glass'] } : {}),
  };
}

function renderResult(r: DeployResult, verb: string, style: Style): string {
  if (r.ok)
    return `${style.green(`${verb} complete:`)} ${r.service} runs v${r.release} (${(r.ms / 1000).toFixed(1)}s, change #${r.changeId}).\n`;
  if (r.rolledBack)
    return `${style.red(`${verb} of v${r.attempted} failed and was rolled back:`)} ${r.reason}\n${r.service} runs v${r.release ?? '?'}.\n`;
  return `${style.red(`${verb} failed:`)} ${r.reason}\n${r.service} runs ${r.release === null ? 'what it ran before' : `v${r.release}`}.\n`;
}

/** Runs a deploy or rollback through the daemon when one runs, else in this process: one code path in core. */
async function runDeployLike(
  io: CliIo,
  flags: StackFlags,
  verb: 'deploy' | 'rollback',
  service: string,
  call: (ops: Operations, progress: Progress) => Promise<DeployResult>,
): Promise<number> {
  const style = makeStyle(colourEnabled(io.env, io.isTty));
  const progress = (m: string) => {
    if (flags.json) io.stdout(`${JSON.stringify({ type: 'progress', message: m })}\n`);
    else io.stdout(`${service}: ${m}\n`);
  };
  const { ops, close } = openOps(io, flags);
  let result: DeployResult;
  try {
    result = await call(ops, progress);
  } finally {
    await close();
  }
  if (flags.json) io.stdout(`${JSON.stringify({ type: 'result', result })}\n`);
  else io.stdout(renderResult(result, verb === 'deploy' ? 'Deploy' : 'Rollback', style));
  return result.ok ? EXIT.ok : EXIT.failed;
}

export const deployCommand = defineCommand({
  name: 'deploy',
  args: ['SERVICE'],
  summary: 'Build a release of a service (git ref or working tree) and roll it out',
  usage: 'deploy SERVICE [--ref REF] [-m MESSAGE] [--change ID] [--decision N] [--break-glass REASON] [--json]',
  flags: {
    ...STACK_FLAGS,
    ref: {
      type: 'string',
      description: 'git branch, tag or commit to deploy (default: the working tree)',
      valueName: 'REF',
    },
    message: {
      type: 'string',
      short: 'm',
      description: 'Why: recorded with the release and the change',
      valueName: 'MESSAGE',
    },
    ...GOVERNANCE_FLAGS,
  },
  async run(flags, pos, io) {
    const service = pos[0];
    if (!service)
      throw new UserError('`groundwork deploy` needs a service name, e.g. `groundwork deploy web`', EXIT.usage);
    const author = authorOf(io.env);
    const message = flags.message ?? '';
    await requireModel(io, flags);
    const input = {
      ...(flags.ref ? { ref: flags.ref } : {}),
      message,
      author,
      ...governanceOf(flags),
      vars: parseVars(flags.var),
      varEnv: varEnvOf(io.env),
    };
    return runDeployLike(io, flags, 'deploy', service, (ops, progress) => ops.deploy(service, input, progress));
  },
});

export const rollbackCommand = defineCommand({
  name: 'rollback',
  args: ['SERVICE'],
  summary: 'Roll a service back to its previous release (or --to vN): code and config',
  usage: 'rollback SERVICE [--to vN] [-m MESSAGE] [--change ID] [--decision N] [--break-glass REASON] [--json]',
  flags: {
    ...STACK_FLAGS,
    to: { type: 'string', description: 'Release to restore, e.g. v3 (default: the previous one)', valueName: 'vN' },
    message: { type: 'string', short: 'm', description: 'Why: recorded with the change', valueName: 'MESSAGE' },
    ...GOVERNANCE_FLAGS,
  },
  async run(flags, pos, io) {
    const service = pos[0];
    if (!service) throw new UserError('`groundwork rollback` needs a service name', EXIT.usage);
    let to: number | undefined;
    if (flags.to !== undefined) {
      const m = /^v?(\d+)$/.exec(flags.to);
      if (!m) throw new UserError(`--to needs a release such as v3, found "${flags.to}"`, EXIT.usage);
      to = Number(m[1]);
    }
    const author = authorOf(io.env);
    const message = flags.message ?? '';
    const input = { ...(to !== undefined ? { to } : {}), message, author, ...governanceOf(flags) };
    return runDeployLike(io, flags, 'rollback', service, (ops, progress) => ops.rollback(service, input, progress));
  },
});

export const releasesCommand = defineCommand({
  name: 'releases',
  args: ['SERVICE'],
  summary: 'List the releases of a service',
  usage: 'releases SERVICE [--json]',
  flags: { ...STACK_FLAGS, limit: { type: 'number', description: 'How many (default 20)', valueName: 'N' } },
  async run(flags, pos, io) {
    const service = pos[0];
    if (!service) throw new UserError('`groundwork releases` needs a service name', EXIT.usage);
    const { ops, close } = openOps(io, flags);
    let data: ReleasesView;
    try {
      data = await ops.releases(service, flags.limit ?? 20);
    } finally {
      await close();
    }
    if (flags.json) {
      io.stdout(`${JSON.stringify(data, null, 2)}\n`);
      return EXIT.ok;
    }
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    io.stdout(
      `${'RELEASE'.padEnd(10)}${'STATUS'.padEnd(14)}${'KIND'.padEnd(9)}${'CREATED'.padEnd(21)}${'SOURCE'.padEnd(26)}MESSAGE\n`,
    );
    for (const r of data.releases) {
      const mark = r.seq === data.current ? style.green('*') : ' ';
      const status =
        r.status === 'active'
          ? style.green(r.status.padEnd(13))
          : ['failed', 'build-failed', 'rolled-back'].includes(r.status)
            ? style.red(r.status.padEnd(13))
            : r.status.padEnd(13);
      io.stdout(
        `${mark}${`v${r.seq}`.padEnd(9)}${status} ${r.kind.padEnd(9)}${r.createdAt.slice(0, 19).replace('T', ' ').padEnd(21)}${r.source.slice(0, 25).padEnd(26)}${r.message}${r.detail ? style.dim(`  (${r.detail.split('\n')[0]})`) : ''}${r.buildLog ? style.dim(`  build log: ${path.relative(io.cwd, r.buildLog)}`) : ''}\n`,
      );
    }
    return EXIT.ok;
  },
});
