/** What plan-scale.bench.ts and its child (measure.ts) exchange. */
export const SCENARIOS = ['baseline', 'validate', 'plan-create', 'plan-noop', 'apply-noop', 'seed'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface MeasureConfig {
  root: string;
  /** The stack file. */
  file: string;
  /** State directory (state.db inside); empty for plan-create, seeded for the no-op scenarios. */
  stateDir: string;
  /** Resources the stack declares; the scenario checks its outcome against it. */
  resources: number;
}

export interface MeasureReport {
  scenario: Scenario;
  /** Wall time of the scenario, after every module was loaded. */
  ms: number;
  /** Peak RSS of the whole child process, module loading included. */
  rssMiB: number;
  /** Wall time of each phase, in order. */
  phases: Record<string, number>;
  /** What the scenario produced (steps, rows, outcome), to check it measured the right thing. */
  outcome: Record<string, number | string>;
}
