/** The routes without a bearer token are exactly the contract's public ones, and their rules say so. */
import { describe, expect, it } from 'vitest';
import { API, type ApiName } from '../../../src/daemon/api/contract.js';
import { ACCESS_RULES } from '../../../src/daemon/api/middleware/auth-rules.js';

describe('open routes', () => {
  it('a rule is open exactly when the contract marks the route public', () => {
    const names = Object.keys(API) as ApiName[];
    const open = names.filter((n) => ACCESS_RULES[n].open === true).sort();
    const pub = names.filter((n) => 'public' in API[n] && (API[n] as { public?: boolean }).public === true).sort();
    expect(open).toEqual(pub);
    expect(pub).toEqual([
      'incidentAckConfirm',
      'incidentAckLink',
      'incidentResolveConfirm',
      'incidentResolveLink',
      'push',
      'pushPost',
    ]);
  });
});
