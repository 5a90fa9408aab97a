import { planHashOf, type Plan } from './plan.js';
import type { Store } from '../store/store.js';

/** Why a saved plan may not be applied any more, or undefined when it still may. */
export async function stalePlanReason(plan: Plan, store: Store, configHash: string): Promise<string | undefined> {
  if (planHashOf(plan) !== plan.planHash) {
    return 'the plan file was modified after it was made (its contents do not match its planHash); make a new one with `groundwork plan --out FILE`.';
  }
  const serial = await store.resources.serial();
  if (plan.stateSerial !== serial) {
    const since = (await store.journal.listChanges(20)).filter(
      (c) => (c.serialAfter ?? c.serialBefore) > plan.stateSerial,
    );
    const what = since
      .map(
        (c) =>
          `  change #${c.id} (${c.kind}) by ${c.author} at ${c.startedAt}: ${c.message || '(no message)'} [${c.outcome}]`,
      )
      .join('\n');
    return `the state moved from serial ${plan.stateSerial} to ${serial} since this plan was made:\n${what || '  (changes no longer listed)'}\nRun \`groundwork plan --out FILE\` again and review the new plan.`;
  }
  if (plan.configHash !== configHash) {
    return 'the stack file changed since this plan was made; run `groundwork plan --out FILE` again and review the new plan.';
  }
  return undefined;
}
