/**
 * Roles: each a fixed set of permissions (permissions.ts). A person's role comes from the stack
 * file (`people:`), a token's from its creation; a token of a person never does more than the
 * person's current role allows (tokens.ts intersects the two at every request).
 */
import { ROLES, type Role } from '../config/schema.js';
import type { Permission } from './permissions.js';

export { ROLES, type Role } from '../config/schema.js';

const VIEWER: readonly Permission[] = ['status.read', 'config.read', 'logs.read'];
const DEPLOYER: readonly Permission[] = [...VIEWER, 'service.deploy'];
const OPERATOR: readonly Permission[] = [...DEPLOYER, 'service.operate', 'stack.apply', 'stack.down'];

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(VIEWER),
  deployer: new Set(DEPLOYER),
  operator: new Set(OPERATOR),
  // Approves others' changes and sees what they are; changes nothing itself.
  approver: new Set([...VIEWER, 'change.approve']),
  // The only role that reads secret values, writes secrets or manages tokens and the audit log.
  admin: new Set([...OPERATOR, 'change.approve', 'secret.reveal', 'secret.write', 'access.admin']),
};

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/** The role named `s`, or an error naming the roles there are. */
export function roleOf(s: string): Role {
  if (!isRole(s)) throw new Error(`unknown role \`${s}\`; use one of ${ROLES.join(', ')}`);
  return s;
}

/** True when every permission of `narrow` is also one of `wide`. */
export function roleWithin(narrow: Role, wide: Role): boolean {
  for (const p of ROLE_PERMISSIONS[narrow]) if (!ROLE_PERMISSIONS[wide].has(p)) return false;
  return true;
}
