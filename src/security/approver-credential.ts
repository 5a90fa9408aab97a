/**
 * Who may approve as a person when no daemon checks a token: `groundwork change approve` run
 * in-process writes to the state store directly, so the name it claims (GROUNDWORK_AUTHOR, --as)
 * proves nothing by itself. An approval there counts as person P only when the caller shows P's
 * credential: GROUNDWORK_TOKEN set to an active token of P (the same token the daemon would
 * accept), or, without a token, the caller's OS account being P's (on this machine the OS account
 * is the identity, as it is for the files under .groundwork/). Everyone else is refused before
 * anything is written, naming what would prove it.
 */
import type { Tokens } from './tokens.js';

export interface LocalApprover {
  /** The person the approval claims to be from. */
  claimed: string;
  /** GROUNDWORK_TOKEN, if set. */
  token: string | undefined;
  /** The OS account running the command. */
  osUser: string;
}

/** Why `a` may not approve as `a.claimed` in-process; undefined when the credential proves it. */
export async function localApproverProblem(a: LocalApprover, tokens: Tokens): Promise<string | undefined> {
  if (a.token !== undefined && a.token !== '') {
    const auth = await tokens.authenticate(`Bearer ${a.token.trim()}`);
    if (!auth.ok) return `GROUNDWORK_TOKEN is not a token that may approve (${auth.reason})`;
    if (auth.caller.user !== a.claimed)
      return `GROUNDWORK_TOKEN belongs to ${auth.caller.user === null ? 'no person' : `\`${auth.caller.user}\``}, not to \`${a.claimed}\``;
    if (!auth.caller.permissions.has('change.approve'))
      return `the token of \`${a.claimed}\` (role ${auth.caller.role}) does not approve changes`;
    return undefined;
  }
  if (a.claimed === a.osUser) return undefined;
  return `an approval made without a daemon counts as \`${a.claimed}\` only with their credential, and this command runs as the OS user \`${a.osUser}\` with no GROUNDWORK_TOKEN`;
}

export function localApproverFix(claimed: string): string {
  return `\`${claimed}\` approves with their own token (GROUNDWORK_TOKEN=<token of ${claimed}> groundwork change approve ID; an admin makes one with \`groundwork token create --user ${claimed} --role approver\`), or runs the command as their own OS account`;
}
