/** A CheckRunner on a ManualClock, with its statuses in a map, its transitions and samples recorded. */
import { tmpdir } from 'node:os';
import type { CheckConfig } from '../../../src/config/schema.js';
import type { JsonObject } from '../../../src/model/json.js';
import { checkResources } from '../../../src/model/check-resources.js';
import { parseCheckSpec } from '../../../src/observe/checks/check-spec.js';
import type { CheckStatus } from '../../../src/observe/checks/check-status.js';
import { CheckRunner, type CheckTransition, type RunnableCheck } from '../../../src/observe/checks/check-runner.js';
import { silentLogger } from '../../../src/util/logger.js';
import { ManualClock } from '../../helpers/manual-clock.js';

/** A check as the stack file declares it, through the model, as the runner takes it. */
export function declared(name: string, config: CheckConfig, extra: Partial<RunnableCheck> = {}): RunnableCheck {
  const [r] = checkResources({ [name]: config }, (v) => JSON.parse(JSON.stringify(v)) as JsonObject);
  if (!r) throw new Error(`check ${name} made no resource`);
  return { spec: parseCheckSpec(name, r.spec), ...extra };
}

export interface Sample {
  labels: Record<string, string>;
  t: number;
  value: number;
}

export function runnerWorld(opts: { concurrency?: number; wallStart?: Date } = {}) {
  const clock = new ManualClock(opts.wallStart);
  const saved = new Map<string, CheckStatus>();
  const transitions: CheckTransition[] = [];
  const samples: Sample[] = [];
  const runner = new CheckRunner({
    clock,
    logger: silentLogger,
    statuses: { load: (name) => saved.get(name), save: (s) => saved.set(s.name, s) },
    onTransition: (t) => transitions.push(t),
    samples: { append: (labels, t, value) => samples.push({ labels, t, value }) },
    random: () => 0,
    cwd: tmpdir(),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  });
  const status = (name: string): CheckStatus => {
    const s = runner.list().find((x) => x.name === name);
    if (!s) throw new Error(`no check ${name}`);
    return s;
  };
  /** Moves the clock by `ms` and waits for the runs that fell due to finish. */
  const step = async (ms: number) => {
    await clock.advance(ms);
    await runner.idle();
  };
  /** name → state of every check. */
  const list = () => Object.fromEntries(runner.list().map((s) => [s.name, s.state]));
  return { clock, runner, saved, transitions, samples, status, step, list };
}
