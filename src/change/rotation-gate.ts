/**
 * Secret rotation under change management. A new version of a secret is a change of every service
 * that uses it (their specs carry its version), so when an approval policy covers one of those
 * services, `secret set` and `secret rotate` are refused without an approved `rotate` change
 * request, and in a freeze window without --break-glass: the value is not even read, so nothing
 * waits half-done. What is approved is the secret's name, the version it replaces and the services
 * using it; never the value (approvers approve that a rotation happens, not what it is) and never
 * its ciphertext, so no change request, change record, API answer or log can hold it.
 *
 * A rotation carried out under an approved request also rolls the new version out to the services
 * using it, in the same change (rotation-rollout.ts): one approval covers both. A rotation covered
 * by no policy (or of a secret no service uses) goes ahead as before and is recorded as a change;
 * its rollout is the next plan and apply.
 */
import type { StackConfig } from '../config/schema.js';
import type { JsonObject } from '../model/resource.js';
import { latest, type SecretsFile } from '../security/secret-file.js';
import { servicesUsingSecrets } from '../security/secret-versions.js';
import type { Admission, ChangeControl } from './change-control.js';
import type { ChangeRequestView } from './change-requests.js';

/** What a rotation changes, as approvers see it. */
export interface RotationTarget {
  secret: string;
  /** The version the rotation replaces (0: the secret has none yet). */
  version: number;
  /** The services whose env references the secret (sorted). */
  services: string[];
}

export function rotationTarget(config: StackConfig, file: SecretsFile, secret: string): RotationTarget {
  const entry = file.secrets[secret];
  return {
    secret,
    version: entry ? (latest(entry)?.version ?? 0) : 0,
    services: servicesUsingSecrets(config)[secret] ?? [],
  };
}

/** The subject a rotation's request approves: name, replaced version, services; no value. */
export function rotationSubject(t: RotationTarget): JsonObject {
  return { secret: t.secret, version: t.version, services: [...t.services] };
}

export interface RotationGovernance {
  author: string;
  /** An approved `rotate` change request to carry out. */
  request?: number | undefined;
  breakGlass?: string | undefined;
  decisions?: readonly number[] | undefined;
}

/** Refuses the rotation (ChangeRefused) unless the policy and its request allow it now. */
export function admitRotation(
  control: ChangeControl,
  t: RotationTarget,
  g: RotationGovernance,
  opts: { dryRun?: boolean } = {},
): Promise<Admission> {
  return control.admit(
    {
      kind: 'rotate',
      service: null,
      scope: { services: t.services, other: false },
      author: g.author,
      subject: rotationSubject(t),
      request: g.request,
      breakGlass: g.breakGlass,
      decisions: g.decisions,
    },
    opts,
  );
}

export function requestRotation(
  control: ChangeControl,
  t: RotationTarget,
  input: { author: string; message: string; decisions: readonly number[] },
): Promise<ChangeRequestView> {
  return control.request({ kind: 'rotate', service: null, subject: rotationSubject(t), ...input });
}
