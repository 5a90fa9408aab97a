/**
 * What a caller may do, one permission per kind of operation. Roles (roles.ts) are sets of these;
 * the API's rule table (daemon/api/middleware/auth-rules.ts) names the one each route needs.
 * Reading a secret's value is its own permission: reading config never implies it.
 */
export const PERMISSIONS = [
  /** Services, instances, events, proxy metrics, the API document. */
  'status.read',
  /** Plans, recorded changes, releases: configuration, never secret values. */
  'config.read',
  /** A service's log lines. */
  'logs.read',
  /** A secret's value (`secret get`). */
  'secret.reveal',
  /** Setting, rotating, removing secrets. */
  'secret.write',
  /** Deploy a release of a service, roll it back. */
  'service.deploy',
  /** Restart or scale a service. */
  'service.operate',
  /** Apply the stack file, refresh recorded state. */
  'stack.apply',
  /** Stop every service (and the daemon). */
  'stack.down',
  /** Approve someone else's change. */
  'change.approve',
  /** Tokens and the audit log. */
  'access.admin',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(s: string): s is Permission {
  return (PERMISSIONS as readonly string[]).includes(s);
}
