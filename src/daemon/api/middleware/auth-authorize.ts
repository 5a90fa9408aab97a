/**
 * Authorization and audit, per route, from the rule table (auth-rules.ts): the caller's permission
 * and services against what the route needs (security/authorize.ts decides), before the body is
 * read; a refusal is a 403 and an audit entry. A route that changes something, or reads a
 * secret's value, is recorded twice: before it runs (status 0, `started`), and with the status
 * it answered once its handler answered.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AuditEntry } from '../../../security/audit.js';
import { authorize, type Target } from '../../../security/authorize.js';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../api-env.js';
import type { Route } from '../route.js';
import { remoteOf, type ApiAccess } from './auth.js';
import type { AccessRule } from './auth-rules.js';

function targetOf(rule: AccessRule, c: Context<ApiEnv>): Target {
  const t = rule.target;
  if (t === 'stack' || t === 'none') return { kind: t };
  const name = 'param' in t ? c.req.param(t.param) : c.req.query(t.query);
  // A query that names no service asks about the whole stack.
  return name === undefined || name === '' ? { kind: 'stack' } : { kind: 'service', name };
}

export function authorizeRoute(r: Route, access: ApiAccess): MiddlewareHandler<ApiEnv>[] {
  const rule = access.ruleFor(r.method, r.path);
  const declared = `${r.method} ${r.path}`;
  const entry = (
    c: Context<ApiEnv>,
    target: Target | undefined,
    status: number,
    reason?: string,
    note?: string,
  ): AuditEntry => {
    const caller = c.get('caller');
    return {
      token: caller.tokenId,
      user: caller.user,
      remote: remoteOf(c),
      method: c.req.method,
      path: c.req.path,
      route: declared,
      operation: rule?.permission ?? null,
      service: target?.kind === 'service' ? target.name : null,
      decision: reason === undefined ? 'allowed' : 'denied',
      status,
      ...(reason !== undefined ? { reason } : note !== undefined ? { reason: note } : {}),
    };
  };
  return [
    async (c, next) => {
      if (!rule) {
        // Fail closed: a route nobody wrote a rule for is nobody's to call.
        await access.record(entry(c, undefined, 403, `no access rule for ${declared}`));
        throw new ApiError(
          403,
          'forbidden',
          `${declared} has no access rule, so it is refused to everyone`,
          'add its rule to src/daemon/api/middleware/auth-rules.ts',
        );
      }
      const target = targetOf(rule, c);
      const decision = authorize(c.get('caller'), rule.permission, target);
      if (!decision.allowed) {
        await access.record(entry(c, target, 403, decision.reason));
        throw new ApiError(403, 'forbidden', decision.reason, decision.fix);
      }
      if (rule.audit === 'read') return next();
      // Written before the operation runs, as Vault's audit device does: when the log cannot be
      // written (a full disk), the change is refused (500) instead of happening unrecorded.
      await access.record(entry(c, target, 0, undefined, 'started'));
      await next();
      // For a stream, the status it started with; its outcome is in the change record.
      await access.record(entry(c, target, c.res.status));
    },
  ];
}

/**
 * A person's token speaks for that person: the author a change is recorded with is their name
 * from the stack file, whatever the body says (a deployer must not sign changes as someone else;
 * approvals will rely on it). The daemon's own token and tokens of no person keep the author the
 * client sent. Runs after the body is checked, on routes whose body has an `author`.
 */
export function attributeToPerson(r: Route): MiddlewareHandler<ApiEnv>[] {
  const body = r.body;
  if (!body || !('properties' in body) || typeof body.properties !== 'object' || !('author' in body.properties))
    return [];
  return [
    async (c, next) => {
      const user = c.get('caller').user;
      const sent: unknown = c.get('body');
      if (user !== null && typeof sent === 'object' && sent !== null) c.set('body', { ...sent, author: user });
      await next();
    },
  ];
}
