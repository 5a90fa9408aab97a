/**
 * The decision: may this caller do this operation on this target? Pure, so every combination is
 * testable without a daemon. Which operation and target a request means is the API's rule table
 * (daemon/api/middleware/auth-rules.ts); this file knows no HTTP.
 */
import type { Permission } from './permissions.js';
import type { Caller } from './tokens.js';

/**
 * What an operation concerns: one service; the whole stack (a token limited to services may not);
 * or nothing in particular (the API document).
 */
export type Target = { kind: 'service'; name: string } | { kind: 'stack' } | { kind: 'none' };

export type Decision = { allowed: true } | { allowed: false; reason: string; fix: string };

export function authorize(caller: Caller, permission: Permission, target: Target): Decision {
  const who = caller.user ? `user \`${caller.user}\` (token ${caller.tokenId})` : `token ${caller.tokenId}`;
  if (!caller.permissions.has(permission))
    return {
      allowed: false,
      reason: `${who} with role ${caller.role} may not ${permission}`,
      fix: `ask an admin for a token whose role allows ${permission} (\`groundwork token create --role ...\`)`,
    };
  if (caller.services === null || target.kind === 'none') return { allowed: true };
  const limited = [...caller.services].join(', ') || '(no service)';
  if (target.kind === 'stack')
    return {
      allowed: false,
      reason: `${who} is limited to ${limited}; ${permission} here concerns the whole stack`,
      fix: 'use a token that is not limited to services, or the service-specific command',
    };
  if (!caller.services.has(target.name))
    return {
      allowed: false,
      reason: `${who} is limited to ${limited}, not \`${target.name}\``,
      fix: `ask an admin for a token for \`${target.name}\` (\`groundwork token create --service ${target.name} ...\`)`,
    };
  return { allowed: true };
}
