/**
 * An approved rotation carries through: `secret rotate NAME --change ID` writes the new version,
 * then the same request rolls it out (an apply restarting exactly the services that use the
 * secret), and both are one change on the record, carrying the request, its decisions and any
 * break-glass reason. The approvers approved the rotation of a version and the services it
 * restarts; the rollout checks that this is still what would run: the secrets file has exactly
 * the next version (one rotation since the request, not two), the same services use the secret,
 * and the plan holds nothing but their `secrets.NAME` update. Anything else pending is refused
 * and named (it needs an approval of its own), so an approval of a rotation never carries an
 * unrelated change through.
 */
import type { JsonObject } from '../model/resource.js';
import type { ChangeRequestRow } from '../store/store.js';
import { ChangeRefused } from './change-refused.js';
import { rotationSubject } from './rotation-gate.js';

/** A plan step as the rollout reads it (structural: change/ does not import the engine). */
export interface RolloutStep {
  address: string;
  kind: string;
  action: string;
  changes: readonly { path: string; before?: unknown; after?: unknown }[];
}

/** The rotation request's secret and the version it replaces. */
export function rotationOfRequest(r: ChangeRequestRow): { secret: string; version: number } {
  const { secret, version } = r.subject;
  if (r.kind !== 'rotate' || typeof secret !== 'string' || typeof version !== 'number')
    throw new ChangeRefused(
      'bad-request',
      `change request #${r.id} is not a secret rotation`,
      '`groundwork change show ID` says what a request approves',
    );
  return { secret, version };
}

/**
 * The subject the rollout admits under the request (equal to the request's when nothing moved),
 * or ChangeRefused naming what moved. `latest`: the secret's newest version in the secrets file
 * now; `services`: the services whose env references it now; `steps`: the plan now.
 */
export function rolloutSubject(
  r: ChangeRequestRow,
  latest: number | undefined,
  services: readonly string[],
  steps: readonly RolloutStep[],
): JsonObject {
  const { secret, version } = rotationOfRequest(r);
  if (latest !== version + 1)
    throw new ChangeRefused(
      'refused',
      latest === version
        ? `change request #${r.id} rolls out the rotation of secret \`${secret}\` from version ${version}, and the secrets file still has version ${version}: the new version is not written yet`
        : `change request #${r.id} approves one rotation of secret \`${secret}\` from version ${version}, but the secrets file has version ${latest ?? 'none'}`,
      latest === version
        ? `run \`groundwork secret rotate ${secret} --change ${r.id}\`: it writes the new version and rolls it out in one change`
        : `request the rotation again with \`groundwork change request rotate ${secret} -m "why"\` and have it approved`,
    );
  const others = steps.filter((s) => !isRolloutStep(s, secret, services));
  if (others.length)
    throw new ChangeRefused(
      'refused',
      `change request #${r.id} approves the rotation of secret \`${secret}\` and the restart of ${services.length ? services.map((s) => `service.${s}`).join(', ') : 'no service'}, but the plan also holds ${others.map(describeStep).join(', ')}`,
      'apply those changes first (`groundwork plan` shows them; they need an approval of their own), then run this again',
    );
  return rotationSubject({ secret, version, services: [...services].sort() });
}

/** Steps that are exactly the restart of a service using the secret for its new version. */
function isRolloutStep(s: RolloutStep, secret: string, services: readonly string[]): boolean {
  return (
    s.kind === 'service' &&
    s.action === 'update' &&
    services.includes(s.address.slice('service.'.length)) &&
    s.changes.length > 0 &&
    s.changes.every((c) => c.path === `secrets.${secret}`)
  );
}

function describeStep(s: RolloutStep): string {
  const fields = s.changes.map((c) => c.path).filter((p) => p.length > 0);
  return `${s.action} ${s.address}${fields.length ? ` (${fields.join(', ')})` : ''}`;
}

/**
 * Before the new version is written: the plan must be empty, or the rollout that follows would
 * be refused with the version already written. ChangeRefused naming what is pending.
 */
export function checkNothingPending(r: ChangeRequestRow, steps: readonly RolloutStep[]): void {
  const { secret } = rotationOfRequest(r);
  if (steps.length)
    throw new ChangeRefused(
      'refused',
      `change request #${r.id} rotates secret \`${secret}\` and restarts the services using it in one change, but the stack file has other changes pending: ${steps.map(describeStep).join(', ')}`,
      'apply those first (`groundwork plan` shows them; they need an approval of their own), then rotate; nothing was written',
    );
}
