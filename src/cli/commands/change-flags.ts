/** The flags of change management shared by apply, deploy, rollback and `change request`. */
import { EXIT, UserError } from '../io.js';

/** `--decision 3 --decision 0004` → [3, 4]. */
export function parseDecisions(list: readonly string[]): number[] {
  return list.map((d) => {
    const m = /^#?(\d{1,6})$/.exec(d.trim());
    if (!m || Number(m[1]) < 1)
      throw new UserError(`--decision needs a decision number such as 3, found "${d}"`, EXIT.usage);
    return Number(m[1]);
  });
}

export const DECISION_FLAG = {
  type: 'list',
  description: 'A decision record this change implements (repeatable; `groundwork decision list`)',
  valueName: 'N',
} as const;

export const BREAK_GLASS_FLAG = {
  type: 'string',
  description: 'Make the change during a freeze window; the reason is audited and the approvers notified',
  valueName: 'REASON',
} as const;

export const CHANGE_FLAG = {
  type: 'number',
  description: 'Carry out this approved change request (`groundwork change list`)',
  valueName: 'ID',
} as const;
