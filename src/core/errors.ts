/**
 * The closed set of ways an operation refuses or fails for a reason the caller can act on.
 * Adapters map the code: HTTP status in the daemon API, exit code in the CLI.
 */
import type { Diagnostic } from '../config/diagnostic.js';

export const OPERATION_ERROR_CODES = [
  /** The stack file has problems (diagnostics attached). */
  'invalid-stack',
  /** A named thing (service, change, release) does not exist. */
  'not-found',
  /** Refused: lease held, stale saved plan, an operation already running. */
  'refused',
  /** The request itself is malformed (a saved plan of the wrong shape, a bad parameter). */
  'bad-request',
  /** The credential in the request (a signed link) is not valid for what it asks. */
  'forbidden',
  /** The installation cannot do it right now (disk full, runtime unavailable). */
  'unavailable',
] as const;
export type OperationErrorCode = (typeof OPERATION_ERROR_CODES)[number];

export class OperationError extends Error {
  constructor(
    readonly code: OperationErrorCode,
    message: string,
    readonly fix?: string,
    readonly diagnostics?: Diagnostic[],
  ) {
    super(message);
    this.name = 'OperationError';
  }
}
