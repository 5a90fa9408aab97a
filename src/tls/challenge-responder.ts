/**
 * HTTP-01 answers by token, served by every plain HTTP listener of the proxy. A file of its own,
 * without acme-client: the data-plane process needs it at start, the ACME client only once a
 * listener orders a certificate (loading acme-client costs every start a few hundred ms).
 */
/** HTTP-01 answers by token: what `GET /.well-known/acme-challenge/<token>` returns. */
export class ChallengeResponder {
  private readonly answers = new Map<string, string>();
  set(token: string, keyAuthorization: string): void {
    this.answers.set(token, keyAuthorization);
  }
  delete(token: string): void {
    this.answers.delete(token);
  }
  /** The key authorization for a request path, or undefined when it is no pending challenge. */
  answer(path: string): string | undefined {
    if (!path.startsWith(CHALLENGE_PREFIX)) return undefined;
    return this.answers.get(path.slice(CHALLENGE_PREFIX.length));
  }
}

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
