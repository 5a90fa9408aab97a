/** The pure part of change management: which rules cover a change, and when a freeze window holds. */
import { describe, expect, it } from 'vitest';
import { changePolicyOf, gateFor, scopeOfAddresses } from '../../src/change/change-policy.js';
import { approverProblem } from '../../src/change/change-requests.js';

const policy = changePolicyOf({
  approvals: {
    everything: { approvals: 1 },
    payments: { services: ['pay', 'ledger'], approvals: 2 },
  },
  freezes: {
    'year-end': { once: { start: '2026-12-24T00:00:00+01:00', end: '2027-01-02T00:00:00+01:00' } },
    // Friday evening to Monday morning in Berlin, for the payment services only.
    weekend: {
      services: ['pay'],
      weekly: { days: ['fri'], from: '18:00', to: '08:00', timezone: 'Europe/Berlin' },
    },
  },
  notify: ['ops'],
});

describe('change policy', () => {
  it('asks the most approvals any covering rule asks, and names those rules', () => {
    const tue = new Date('2026-12-01T12:00:00Z');
    expect(gateFor(policy, { services: ['web'], other: false }, tue)).toEqual({
      approvals: 1,
      rules: ['everything'],
      freeze: undefined,
    });
    expect(gateFor(policy, { services: ['web', 'pay'], other: false }, tue).approvals).toBe(2);
    // Routes, DNS, alerts: covered by rules without services only.
    expect(gateFor(policy, scopeOfAddresses(['route.0', 'alert.down']), tue).rules).toEqual(['everything']);
    // Nothing changes: nothing to gate.
    expect(gateFor(policy, scopeOfAddresses([]), tue).approvals).toBe(0);
  });

  it('freezes by one-off dates with their offset', () => {
    const scope = { services: ['web'], other: false };
    expect(gateFor(policy, scope, new Date('2026-12-23T22:59:00Z')).freeze).toBeUndefined();
    expect(gateFor(policy, scope, new Date('2026-12-23T23:00:00Z')).freeze).toBe('year-end');
    expect(gateFor(policy, scope, new Date('2027-01-01T23:00:00Z')).freeze).toBeUndefined();
  });

  it('freezes weekly windows in their time zone, over midnight, for their services only', () => {
    const pay = { services: ['pay'], other: false };
    // Friday 2026-11-27 18:30 in Berlin is 17:30 UTC (CET, +01:00).
    expect(gateFor(policy, pay, new Date('2026-11-27T17:30:00Z')).freeze).toBe('weekend');
    expect(gateFor(policy, pay, new Date('2026-11-27T16:59:00Z')).freeze).toBeUndefined();
    // Saturday 07:59 Berlin: the morning part belongs to Friday's window.
    expect(gateFor(policy, pay, new Date('2026-11-28T06:59:00Z')).freeze).toBe('weekend');
    expect(gateFor(policy, pay, new Date('2026-11-28T07:00:00Z')).freeze).toBeUndefined();
    // In summer Berlin is +02:00: 18:30 local is 16:30 UTC.
    expect(gateFor(policy, pay, new Date('2026-07-03T16:30:00Z')).freeze).toBe('weekend');
    expect(gateFor(policy, { services: ['web'], other: false }, new Date('2026-11-27T17:30:00Z')).freeze).toBe(
      undefined,
    );
  });

  it('counts an approval only from someone other than the author whose role approves', () => {
    const users = {
      ann: { role: 'approver' as const },
      dev: { role: 'deployer' as const },
      olga: { role: 'admin' as const },
    };
    expect(approverProblem('olga', 'olga', users)).toContain('is the author');
    expect(approverProblem('dev', 'olga', users)).toContain('role deployer');
    expect(approverProblem('zed', 'olga', users)).toContain('not a person of the stack file');
    expect(approverProblem('ann', 'olga', users)).toBeUndefined();
    expect(approverProblem('olga', 'ann', users)).toBeUndefined();
    // No people declared: anyone but the author.
    expect(approverProblem('someone', 'olga', undefined)).toBeUndefined();
  });
});
