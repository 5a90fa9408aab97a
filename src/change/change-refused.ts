/**
 * Why change management turns a change down. core/ maps the code to its OperationError (this
 * folder sits below core and does not import it).
 */
export const CHANGE_REFUSAL_CODES = ['refused', 'not-found', 'bad-request'] as const;
export type ChangeRefusalCode = (typeof CHANGE_REFUSAL_CODES)[number];

export class ChangeRefused extends Error {
  constructor(
    readonly code: ChangeRefusalCode,
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'ChangeRefused';
  }
}
