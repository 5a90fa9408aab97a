/**
 * `groundwork change request|approve|reject|withdraw|list|show`: changes written down for approval
 * (change/). A rejected or withdrawn request (refused, with who and why) is never carried out.
 * What is approved is the request's hash; `groundwork apply ID`, `deploy SERVICE --change ID` and
 * `rollback SERVICE --change ID` carry out exactly that, or are refused when anything moved.
 */
import os from 'node:os';
import path from 'node:path';
import type { ChangeRequestView, Operations } from '../../core/operations.js';
import { accessPeople } from '../../config/schema.js';
import { localApproverFix, localApproverProblem } from '../../security/approver-credential.js';
import { FixedUsers } from '../../security/roles-stack-users.js';
import { Tokens } from '../../security/tokens.js';
import { didYouMean } from '../../util/did-you-mean.js';
import { defineCommand, STACK_FLAGS, type Command } from '../command.js';
import { varEnvOf } from '../daemon-client.js';
import { EXIT, UsageError, UserError, type CliIo } from '../io.js';
import { openOps } from '../open-ops.js';
import { colourEnabled, makeStyle } from '../style.js';
import { authorOf, parseVars, requireModel } from '../workspace.js';
import { readSavedPlan } from './apply.js';
import { loadStack } from '../../config/load.js';
import { ChangeControl, carryOutCommand } from '../../change/change-control.js';
import { ChangeRefused, type ChangeRefusalCode } from '../../change/change-refused.js';
import { requestRotation, rotationTarget } from '../../change/rotation-gate.js';
import { readSecretsFile, secretsFileOf, SecretsFileError, type SecretsFile } from '../../security/secret-file.js';
import { systemClock } from '../../util/clock.js';
import { openStore, stackFileOf, stateDirOf, type StackFlags } from '../workspace.js';
import { DECISION_FLAG, parseDecisions } from './change-flags.js';

function requestId(raw: string | undefined, verb: string): number {
  const id = Number(raw);
  if (!raw || !Number.isInteger(id) || id < 1)
    throw new UsageError(
      `\`groundwork change ${verb}\` needs a change request number, e.g. \`groundwork change ${verb} 3\` (see \`groundwork change list\`)`,
    );
  return id;
}

/** `deploy web`, `rotate db-password`, `apply`. */
function targetOf(r: ChangeRequestView): string {
  if (r.kind === 'rotate') return `rotate ${typeof r.subject.secret === 'string' ? r.subject.secret : '?'}`;
  return r.service ? `${r.kind} ${r.service}` : r.kind;
}

const REFUSAL_EXIT: Record<ChangeRefusalCode, number> = {
  refused: EXIT.refused,
  'bad-request': EXIT.usage,
  'not-found': EXIT.failed,
};

/**
 * A rotation's request is made here, not through the operations: like `secret rotate` itself it
 * reads the secrets file beside the stack file (versions only, never a value).
 */
async function requestRotate(
  io: CliIo,
  flags: StackFlags,
  secret: string,
  input: { author: string; message: string; decisions: number[] },
): Promise<ChangeRequestView> {
  const loaded = await loadStack(stackFileOf(io, flags));
  if (!loaded.config) throw new UserError('the stack file has problems; `groundwork validate` lists them');
  const declared = Object.keys(loaded.config.secrets ?? {});
  if (!declared.includes(secret)) {
    const guess = didYouMean(secret, declared);
    throw new UserError(
      `secret ${secret} is not declared in ${loaded.file}${guess ? `; did you mean ${guess}?` : ''}\n  fix: a rotation request names a secret under \`secrets:\``,
    );
  }
  let file: SecretsFile;
  try {
    file = readSecretsFile(secretsFileOf(loaded.dir, io.env));
  } catch (e) {
    if (e instanceof SecretsFileError) throw new UserError(`${e.message}\n  fix: ${e.fix}`);
    throw e;
  }
  const store = openStore(stateDirOf(io, flags));
  try {
    const control = new ChangeControl({ store, clock: systemClock, stackFile: loaded.file });
    return await requestRotation(control, rotationTarget(loaded.config, file, secret), input);
  } catch (e) {
    if (e instanceof ChangeRefused) throw new UserError(`${e.message}\n  fix: ${e.fix}`, REFUSAL_EXIT[e.code]);
    throw e;
  } finally {
    await store.close();
  }
}

function renderRequest(r: ChangeRequestView): string {
  const target = targetOf(r);
  const lines = [
    `change request #${r.id}: ${target} [${r.status}]`,
    `  author:    ${r.author}`,
    `  message:   ${r.message || '(none)'}`,
    `  requested: ${r.createdAt}`,
    `  hash:      ${r.hash}`,
    `  approvals: ${r.approvedBy.length} of ${r.required} needed${r.approvedBy.length ? ` (${r.approvedBy.join(', ')})` : ''}`,
    ...r.approvals.map((a) => `    ${a.by} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`),
  ];
  if (r.decisions.length) lines.push(`  decisions: ${r.decisions.map((d) => `#${d}`).join(', ')}`);
  if (r.refusal !== null) {
    const verb = r.refusal.by === r.author ? 'withdrawn by its author' : 'rejected by';
    lines.push(`  refused:   ${verb} ${r.refusal.by} at ${r.refusal.at}: ${r.refusal.reason}`);
  }
  if (r.appliedChange !== null) lines.push(`  carried out by change #${r.appliedChange}`);
  else if (r.status === 'approved') {
    lines.push(`  carry it out with: ${carryOutCommand(r)}`);
  }
  const plan = r.subject.plan;
  if (plan && typeof plan === 'object' && !Array.isArray(plan) && Array.isArray(plan.steps))
    for (const s of plan.steps)
      if (s && typeof s === 'object' && !Array.isArray(s)) lines.push(`    ${String(s.action)} ${String(s.address)}`);
  if (r.kind === 'rotate') {
    const { version, services } = r.subject;
    lines.push(
      `  secret:    version ${typeof version === 'number' ? version : '?'} -> a new one, used by ${Array.isArray(services) && services.length ? services.map((x) => `service.${String(x)}`).join(', ') : 'no service'}`,
    );
  }
  if (r.kind === 'deploy') {
    const { ref, commit } = r.subject;
    // The commit is what is approved and deployed, even when the ref moves on (change/deploy-pin.ts).
    lines.push(
      `  ref:       ${typeof ref === 'string' ? `${ref}${typeof commit === 'string' ? ` (commit ${commit})` : ''}` : '(working tree)'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function printRequest(io: CliIo, json: boolean, r: ChangeRequestView): void {
  if (json) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
  else
    io.stdout(
      `${renderRequest(r)}${r.required && r.status === 'pending' ? `\nAsk an approver (not ${r.author}) to run: groundwork change approve ${r.id}\n` : ''}`,
    );
}

const requestCommand = defineCommand({
  name: 'change request',
  args: ['KIND', 'SERVICE'],
  summary:
    'Write a change down for approval: apply [--plan FILE], deploy SERVICE [--ref], rollback SERVICE [--to], rotate SECRET',
  usage:
    'change request apply [--plan FILE] | deploy SERVICE [--ref REF] | rollback SERVICE [--to vN] | rotate SECRET  [-m MESSAGE] [--decision N] [--json]',
  flags: {
    ...STACK_FLAGS,
    plan: { type: 'string', description: 'A saved plan (`groundwork plan --out FILE`) to approve', valueName: 'FILE' },
    ref: { type: 'string', description: 'git ref of a deploy (default: the working tree)', valueName: 'REF' },
    to: { type: 'string', description: 'Release of a rollback, e.g. v3 (default: the previous one)', valueName: 'vN' },
    message: { type: 'string', short: 'm', description: 'Why: shown to approvers, recorded', valueName: 'MESSAGE' },
    decision: DECISION_FLAG,
  },
  async run(flags, pos, io) {
    const [kind, service] = pos;
    const common = {
      author: authorOf(io.env),
      message: flags.message ?? '',
      decisions: parseDecisions(flags.decision),
      vars: parseVars(flags.var),
      varEnv: varEnvOf(io.env),
    };
    let input: Parameters<import('../../core/operations.js').Operations['requestChange']>[0];
    if (kind === 'rotate') {
      if (!service)
        throw new UsageError('`change request rotate` needs a secret, e.g. `change request rotate db-password`');
      const r = await requestRotate(io, flags, service, common);
      printRequest(io, flags.json, r);
      return EXIT.ok;
    }
    if (kind === 'apply') {
      if (service) throw new UsageError('`change request apply` takes no service; it approves the whole plan');
      const plan = flags.plan ? readSavedPlan(path.resolve(io.cwd, flags.plan)) : undefined;
      input = { ...common, kind, ...(plan ? { plan } : {}) };
    } else if (kind === 'deploy' || kind === 'rollback') {
      if (!service)
        throw new UsageError(`\`change request ${kind}\` needs a service, e.g. \`change request ${kind} web\``);
      if (kind === 'deploy') input = { ...common, kind, service, ...(flags.ref ? { ref: flags.ref } : {}) };
      else {
        const m = flags.to === undefined ? undefined : /^v?(\d+)$/.exec(flags.to);
        if (flags.to !== undefined && !m)
          throw new UserError(`--to needs a release such as v3, found "${flags.to}"`, EXIT.usage);
        input = { ...common, kind, service, ...(m ? { to: Number(m[1]) } : {}) };
      }
    } else
      throw new UsageError(
        `\`change request\` needs what to request: apply, deploy SERVICE, rollback SERVICE or rotate SECRET${kind ? ` (found \`${kind}\`)` : ''}`,
      );
    await requireModel(io, flags);
    const { ops, close } = openOps(io, flags);
    try {
      printRequest(io, flags.json, await ops.requestChange(input));
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});

const approveCommand = defineCommand({
  name: 'change approve',
  args: ['ID'],
  summary: 'Approve a change request (not your own); your token names you',
  usage: 'change approve ID [--as PERSON] [-m COMMENT] [--json]',
  flags: {
    ...STACK_FLAGS,
    message: { type: 'string', short: 'm', description: 'A comment kept with the approval', valueName: 'COMMENT' },
    as: {
      type: 'string',
      description:
        'The person approving (default GROUNDWORK_AUTHOR, else the OS user); without a daemon it needs their token or OS account',
      valueName: 'PERSON',
    },
  },
  async run(flags, pos, io) {
    const id = requestId(pos[0], 'approve');
    const claimed = flags.as ?? authorOf(io.env);
    const { ops, via, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      // A daemon asked with a person's token decides who approves; anything else is checked here.
      if (via === 'local' || !io.env.GROUNDWORK_TOKEN) await checkLocalApprover(io, flags, id, claimed, ops);
      const r = await ops.approveChange(id, { author: claimed, message: flags.message ?? '' });
      if (flags.json) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      else io.stdout(renderRequest(r));
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});

const REASON_FLAG = {
  type: 'string',
  short: 'r',
  description: 'Why (required): kept with the request and shown wherever it is',
  valueName: 'TEXT',
} as const;

function reasonOf(raw: string | undefined, verb: string, id: number): string {
  if (raw === undefined || raw.trim() === '')
    throw new UsageError(
      `\`groundwork change ${verb}\` needs a reason, e.g. \`groundwork change ${verb} ${id} --reason "the plan deletes the data volume"\``,
    );
  return raw;
}

const rejectCommand = defineCommand({
  name: 'change reject',
  args: ['ID'],
  summary: 'Reject a change request with a reason (as an approver): it can no longer be approved or carried out',
  usage: 'change reject ID --reason TEXT [--as PERSON] [--json]',
  flags: {
    ...STACK_FLAGS,
    reason: REASON_FLAG,
    as: {
      type: 'string',
      description:
        'The person rejecting (default GROUNDWORK_AUTHOR, else the OS user); without a daemon it needs their token or OS account',
      valueName: 'PERSON',
    },
  },
  async run(flags, pos, io) {
    const id = requestId(pos[0], 'reject');
    const reason = reasonOf(flags.reason, 'reject', id);
    const claimed = flags.as ?? authorOf(io.env);
    const { ops, via, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      // Rejecting decides as much as approving: the same proof of who is asking.
      if (via === 'local' || !io.env.GROUNDWORK_TOKEN) await checkLocalApprover(io, flags, id, claimed, ops, 'reject');
      const r = await ops.rejectChange(id, { author: claimed, reason });
      io.stdout(flags.json ? `${JSON.stringify(r, null, 2)}\n` : renderRequest(r));
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});

const withdrawCommand = defineCommand({
  name: 'change withdraw',
  args: ['ID'],
  summary: 'Withdraw your own change request with a reason',
  usage: 'change withdraw ID --reason TEXT [--json]',
  flags: { ...STACK_FLAGS, reason: REASON_FLAG },
  async run(flags, pos, io) {
    const id = requestId(pos[0], 'withdraw');
    const reason = reasonOf(flags.reason, 'withdraw', id);
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      const r = await ops.withdrawChange(id, { author: authorOf(io.env), reason });
      io.stdout(flags.json ? `${JSON.stringify(r, null, 2)}\n` : renderRequest(r));
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});

/**
 * An approval not vouched for by a daemon with a person's token counts as `claimed` only with
 * their credential (security/approver-credential.ts); refused (exit 4) before anything is written.
 * Its author claiming it is left to the operation, which refuses that with its own reason.
 */
async function checkLocalApprover(
  io: CliIo,
  flags: StackFlags,
  id: number,
  claimed: string,
  ops: Pick<Operations, 'changeRequest'>,
  verb: 'approve' | 'reject' = 'approve',
): Promise<void> {
  if ((await ops.changeRequest(id)).author === claimed) return;
  const loaded = await loadStack(stackFileOf(io, flags));
  const store = openStore(stateDirOf(io, flags));
  try {
    const people = loaded.config ? accessPeople(loaded.config) : undefined;
    const tokens = new Tokens(store.tokens, systemClock, new FixedUsers(people));
    const problem = await localApproverProblem(
      { claimed, token: io.env.GROUNDWORK_TOKEN, osUser: osUserName() },
      tokens,
    );
    if (problem)
      throw new UserError(
        `cannot ${verb} change request #${id} as \`${claimed}\`: ${problem}\n  fix: ${localApproverFix(claimed)}`,
        EXIT.refused,
      );
  } finally {
    await store.close();
  }
}

function osUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}

const listCommand = defineCommand({
  name: 'change list',
  summary: 'Change requests, newest first, with their approvals',
  usage: 'change list [--limit N] [--json]',
  flags: { ...STACK_FLAGS, limit: { type: 'number', description: 'How many (default 20)', valueName: 'N' } },
  async run(flags, _pos, io) {
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      const list = await ops.changeRequests(flags.limit ?? 20);
      if (flags.json) {
        io.stdout(`${JSON.stringify(list, null, 2)}\n`);
        return EXIT.ok;
      }
      if (!list.length) {
        io.stdout('No change requests. Make one with `groundwork change request apply -m "why"`.\n');
        return EXIT.ok;
      }
      const style = makeStyle(colourEnabled(io.env, io.isTty));
      io.stdout(
        `${'#'.padEnd(6)}${'status'.padEnd(10)}${'approvals'.padEnd(11)}${'what'.padEnd(20)}${'author'.padEnd(12)}message\n`,
      );
      for (const r of list) {
        const status =
          r.status === 'pending'
            ? style.yellow(r.status.padEnd(9))
            : r.status === 'refused'
              ? style.red(r.status.padEnd(9))
              : style.green(r.status.padEnd(9));
        io.stdout(
          `${String(r.id).padEnd(6)}${status} ${`${r.approvedBy.length}/${r.required}`.padEnd(11)}${targetOf(r).slice(0, 19).padEnd(20)}${r.author.slice(0, 11).padEnd(12)}${r.message || style.dim('(no message)')}${r.refusal ? style.dim(` (refused by ${r.refusal.by}: ${r.refusal.reason})`) : ''}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});

const showCommand = defineCommand({
  name: 'change show',
  args: ['ID'],
  summary: 'One change request: what it approves (its plan and hash), who approved it',
  usage: 'change show ID [--json]',
  flags: STACK_FLAGS,
  async run(flags, pos, io) {
    const id = requestId(pos[0], 'show');
    const { ops, close } = openOps(io, flags, { otherStack: 'local' });
    try {
      const r = await ops.changeRequest(id);
      io.stdout(flags.json ? `${JSON.stringify(r, null, 2)}\n` : renderRequest(r));
      return EXIT.ok;
    } finally {
      await close();
    }
  },
});

/** A command with subcommands (`groundwork change approve`), each its own defineCommand. */
export function commandGroup(name: string, summary: string, subs: readonly Command[], intro: string[]): Command {
  const usage = (): string => {
    const width = Math.max(...subs.map((c) => c.name.length)) + 2;
    return [
      `Usage: groundwork ${name} SUBCOMMAND [flags]`,
      '',
      ...intro,
      '',
      ...subs.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
      '',
      `Run \`groundwork ${name} SUBCOMMAND --help\` for its flags.`,
      '',
    ].join('\n');
  };
  return {
    name,
    summary,
    async run(argv: string[], io: CliIo) {
      const [sub, ...rest] = argv;
      if (!sub || sub === '--help' || sub === '-h') {
        io.stdout(usage());
        return sub ? EXIT.ok : EXIT.usage;
      }
      const command = subs.find((c) => c.name === `${name} ${sub}`);
      if (!command) {
        const guess = didYouMean(
          sub,
          subs.map((c) => c.name.slice(name.length + 1)),
        );
        throw new UsageError(
          `unknown subcommand \`${name} ${sub}\`${guess ? `; did you mean \`${name} ${guess}\`?` : ''}; run \`groundwork ${name} --help\``,
        );
      }
      return command.run(rest, io);
    },
  };
}

export const changeCommand = commandGroup(
  'change',
  'Changes awaiting approval: request, approve, reject, withdraw, list, show',
  [requestCommand, approveCommand, rejectCommand, withdrawCommand, listCommand, showCommand],
  [
    'Policies in the stack file (changes:) say which changes need approvals and when changes are frozen.',
    'An approved request is carried out exactly: `apply ID`, `deploy SERVICE --change ID`, `rollback SERVICE --change ID`,',
    '`secret rotate SECRET --change ID`.',
  ],
);
