import { readFileSync } from 'node:fs';
import path from 'node:path';
import { applyPlan, type ApplyEvent, type ApplyResult } from '../../engine/apply.js';
import { LeaseHeldError, withLease } from '../../engine/lock.js';
import { makePlan, PLAN_FORMAT_VERSION, type Plan } from '../../engine/plan.js';
import type { Store } from '../../store/store.js';
import { stalePlanReason } from '../../engine/stale-plan.js';
import { planShapeProblem } from '../../engine/plan-schema.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UserError, type CliIo } from '../io.js';
import { renderPlan } from '../render-plan.js';
import { colourEnabled, makeStyle, type Style } from '../style.js';
import { authorOf, makeRuntime, openStore, parseVars, requireModel, stackFileOf, stateDirOf } from '../workspace.js';
import { checkSameStack, streamLines, tryConnect, varEnvOf, type DaemonConnection } from '../daemon-client.js';

export function readSavedPlan(file: string): Plan {
  let plan: Plan;
  try {
    plan = JSON.parse(readFileSync(file, 'utf8')) as Plan;
  } catch (e) {
    throw new UserError(
      `cannot read the saved plan ${file}: ${(e as Error).message}; make one with \`groundwork plan --out ${path.basename(file)}\``,
    );
  }
  const problem = planShapeProblem(plan);
  if (problem) {
    throw new UserError(
      `${file} is not a Groundwork plan (format ${PLAN_FORMAT_VERSION}): ${problem}; make one with \`groundwork plan --out FILE\``,
    );
  }
  return plan;
}

export function renderEvent(e: ApplyEvent, style: Style): string | undefined {
  switch (e.type) {
    case 'recovered':
      return style.yellow(
        `Recovered from an interrupted run: ${e.entries.map((x) => `${x.action} ${x.address}`).join(', ')} did not finish; this run completes it.`,
      );
    case 'change-start':
      return `Applying change #${e.changeId} (${e.steps} step${e.steps === 1 ? '' : 's'})`;
    case 'step-start':
      return `${e.address}: ${e.action === 'delete' ? 'deleting' : e.action === 'create' ? 'creating' : e.action === 'update' ? 'updating' : 'replacing'}...`;
    case 'progress':
      return style.dim(`${e.address}: ${e.message}`);
    case 'step-end':
      if (e.status === 'applied')
        return `${e.address}: ${style.green(`${e.action} done`)} ${style.dim(`(${(e.ms / 1000).toFixed(1)}s)`)}`;
      if (e.status === 'failed') return `${e.address}: ${style.red(`${e.action} failed`)}: ${e.error}`;
      return `${e.address}: ${style.yellow('skipped')} (${e.error})`;
    case 'change-end':
      return undefined;
  }
}

export function renderResult(r: ApplyResult, style: Style): string {
  const head =
    r.outcome === 'applied' || r.outcome === 'no-op'
      ? style.green('Apply complete!')
      : style.red(`Apply ${r.outcome === 'partial' ? 'partly failed' : 'failed'}.`);
  const lines = [
    `\n${head} ${r.applied.length} applied, ${r.failed.length} failed, ${r.skipped.length} skipped. (change #${r.changeId}, state serial ${r.serial})`,
  ];
  for (const f of r.failed) lines.push(`  ${style.red('failed')}  ${f.address}: ${f.error}`);
  for (const s of r.skipped) lines.push(`  ${style.yellow('skipped')} ${s.address}: ${s.because}`);
  return `${lines.join('\n')}\n`;
}

export const applyCommand = defineCommand({
  name: 'apply',
  summary: 'Make the running stack match the stack file (or apply a saved plan)',
  usage: 'apply [-f FILE] [--plan PLANFILE] [-m MESSAGE] [--parallelism N] [--json]',
  flags: {
    ...STACK_FLAGS,
    plan: {
      type: 'string',
      description: 'Apply exactly this saved plan; refused when state or stack changed since',
      valueName: 'PLANFILE',
    },
    message: { type: 'string', short: 'm', description: 'Why: recorded with the change', valueName: 'MESSAGE' },
    parallelism: { type: 'number', description: 'Steps run at once (default 8)', valueName: 'N' },
  },
  async run(flags, _pos, io) {
    const model = await requireModel(io, flags);
    const stateDir = stateDirOf(io, flags);
    const store = openStore(stateDir);
    const style = makeStyle(colourEnabled(io.env, io.isTty));
    const parallelism = flags.parallelism ?? 8;
    if (!Number.isInteger(parallelism) || parallelism < 1)
      throw new UserError('--parallelism needs a whole number of at least 1', EXIT.usage);
    const daemon = tryConnect(stateDir);
    if (daemon) {
      store.close();
      checkSameStack(daemon, stackFileOf(io, flags));
      return applyThroughDaemon(
        io,
        daemon,
        style,
        {
          vars: parseVars(flags.var),
          varEnv: varEnvOf(io.env),
          message: flags.message ?? '',
          author: authorOf(io.env),
          parallelism,
          ...(flags.plan ? { plan: readSavedPlan(path.resolve(io.cwd, flags.plan)) } : {}),
        },
        flags.json,
      );
    }
    try {
      return await withLease(store, `groundwork apply`, async () =>
        runApply(
          io,
          flags.json,
          store,
          style,
          async (rt) => {
            const rtKinds = rt.kinds;
            if (flags.plan) {
              const saved = readSavedPlan(path.resolve(io.cwd, flags.plan));
              const stale = stalePlanReason(saved, store, model.configHash);
              if (stale) throw new UserError(`Refusing to apply ${flags.plan}: ${stale}`, EXIT.refused);
              return saved;
            }
            return makePlan(model, store.listResources(), store.serial(), rtKinds);
          },
          makeRuntime(model.stack, model.dir, stateDir, io.env),
          parallelism,
          flags.message ?? '',
          authorOf(io.env),
        ),
      );
    } catch (e) {
      if (e instanceof LeaseHeldError) throw new UserError(e.message, EXIT.refused);
      throw e;
    } finally {
      store.close();
    }
  },
});

async function runApply(
  io: CliIo,
  json: boolean,
  store: Store,
  style: Style,
  getPlan: (rt: ReturnType<typeof makeRuntime>) => Promise<Plan>,
  rt: ReturnType<typeof makeRuntime>,
  parallelism: number,
  message: string,
  author: string,
): Promise<number> {
  const plan = await getPlan(rt);
  if (!json) io.stdout(renderPlan(plan, style));
  if (!json && plan.steps.length) io.stdout('\n');
  const result = await applyPlan(plan, {
    store,
    kinds: rt.kinds,
    context: rt.context,
    parallelism,
    author,
    message,
    portRange: rt.portRange,
    onEvent: (e) => {
      if (json) {
        io.stdout(`${JSON.stringify(e)}\n`);
        return;
      }
      const line = renderEvent(e, style);
      if (line) io.stdout(`${line}\n`);
    },
  });
  if (!json && result.outcome !== 'no-op') io.stdout(renderResult(result, style));
  if (json && result.outcome === 'no-op') io.stdout(`${JSON.stringify({ seq: 0, type: 'change-end', result })}\n`);
  return result.outcome === 'applied' || result.outcome === 'no-op' ? EXIT.ok : EXIT.failed;
}

async function applyThroughDaemon(
  io: CliIo,
  conn: DaemonConnection,
  style: Style,
  body: Record<string, unknown>,
  json: boolean,
): Promise<number> {
  let result: ApplyResult | undefined;
  let failure: string | undefined;
  await streamLines(conn, 'POST', '/v1/apply', body, (raw) => {
    if (json) io.stdout(`${raw}\n`);
    type Line =
      | { type: 'plan'; plan: Plan }
      | { type: 'result'; result: ApplyResult }
      | { type: 'error'; error: { message: string } }
      | ApplyEvent;
    const line = JSON.parse(raw) as Line;
    if (line.type === 'plan') {
      if (!json) io.stdout(`${renderPlan(line.plan, style)}\n`);
      return;
    }
    if (line.type === 'result') {
      result = line.result;
      return;
    }
    if (line.type === 'error') {
      failure = line.error.message;
      return;
    }
    if (!json) {
      const text = renderEvent(line, style);
      if (text) io.stdout(`${text}\n`);
    }
  });
  if (failure) throw new UserError(failure, failure.startsWith('refusing') ? EXIT.refused : EXIT.failed);
  if (!result) throw new UserError('the daemon ended the apply without a result; see its log');
  if (!json && result.outcome !== 'no-op') io.stdout(renderResult(result, style));
  return result.outcome === 'applied' || result.outcome === 'no-op' ? EXIT.ok : EXIT.failed;
}
