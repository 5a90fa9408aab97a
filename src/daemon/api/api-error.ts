/** The API's error: a status, a code from the closed set, a message and how to fix it. */
import type { ErrorBody, ErrorCode, Problem } from './schemas.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly fix?: string,
    /** Every problem found in a request body, each at its JSON path. */
    readonly problems?: Problem[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The message of an unexpected failure: clients get this, the daemon log gets the real one. */
export const INTERNAL_MESSAGE = 'internal error; see the daemon log';

/** `{ error: { code, message, fix?, problems? } }`, as every non-2xx JSON answer. */
export function errorBody(e: ApiError): ErrorBody {
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(e.fix ? { fix: e.fix } : {}),
      ...(e.problems?.length ? { problems: e.problems } : {}),
    },
  };
}
