/**
 * Push-check tokens. The token is the only credential a pinging job holds: state keeps its
 * SHA-256 (a lookup key that reveals nothing), the token itself is shown once to its owner.
 */
import { createHash, randomBytes } from 'node:crypto';

export function newPushToken(): string {
  return randomBytes(24).toString('base64url');
}

export function pushTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The path a job calls (GET or POST). */
export function pushPath(token: string): string {
  return `/v1/push/${token}`;
}
