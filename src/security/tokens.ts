/**
 * API tokens. A token is `gw_` + 256 random bits, shown once at creation; the store keeps only its
 * SHA-256 (256 bits of randomness cannot be found from a hash by guessing, so no slow hash is
 * needed), its role, the services it is limited to, the person it belongs to and when it expires.
 *
 * A request's caller (`authenticate`) is the token's role and services, narrowed by the person's
 * current declaration in the stack file: removing a person or lowering their role takes effect on
 * tokens already handed out. The daemon's own token (.groundwork/daemon.token, readable only by
 * whoever runs the daemon) is the bootstrap admin: every permission, every service.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenRecord, TokenStore } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Duration } from '../util/duration.js';
import { PERMISSIONS, type Permission } from './permissions.js';
import { ROLE_PERMISSIONS, isRole, roleWithin, type Role } from './roles.js';
import type { UserDirectory, Users } from './roles-stack-users.js';

/** Who is calling, as authorization and the audit log see it. */
export interface Caller {
  /** The token's id, or `admin` for the daemon's own token. */
  tokenId: string;
  user: string | null;
  role: Role;
  permissions: ReadonlySet<Permission>;
  /** The services it may touch; null: every service, and stack-wide operations. */
  services: ReadonlySet<string> | null;
}

export type Authentication =
  | { ok: true; caller: Caller }
  /** `tokenId`/`user` when the token was found (expired, revoked, its person gone): for the audit log. */
  | { ok: false; reason: string; tokenId?: string; user?: string };

export interface CreateTokenInput {
  role: Role;
  /** Limit to these services (default: the person's services, or every service). */
  services?: string[];
  /** The person of the stack file it is for. */
  user?: string;
  /** How long it is valid; null: it never expires. */
  expires: Duration | null;
  label?: string;
  /** The stack's services, to refuse a token for a service that does not exist. */
  declaredServices?: readonly string[];
}

export interface CreatedToken {
  /** The token itself: shown once, never stored. */
  token: string;
  record: TokenRecord;
}

export type TokenState = 'active' | 'expired' | 'revoked';

/** A token as listed: everything but its hash. */
export type TokenView = Omit<TokenRecord, 'hash'> & { state: TokenState };

const PREFIX = 'gw_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A problem with a token request (unknown person, a role wider than theirs): the message says how to fix it. */
export class TokenRequestError extends Error {
  override name = 'TokenRequestError';
}

export class Tokens {
  /** SHA-256 of `Bearer <admin token>`, compared in constant time. */
  private readonly admin: Buffer | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
    private readonly directory: UserDirectory,
    /** The daemon's own token (bootstrap admin); absent where only stored tokens count. */
    adminToken?: string,
  ) {
    if (adminToken !== undefined && adminToken.trim() === '')
      throw new Error(
        'the API token is empty; delete .groundwork/daemon.token and restart the daemon to make a new one',
      );
    this.admin = adminToken === undefined ? undefined : digest(`Bearer ${adminToken}`);
  }

  async create(input: CreateTokenInput): Promise<CreatedToken> {
    let services = input.services && input.services.length ? [...new Set(input.services)].sort() : null;
    for (const s of services ?? [])
      if (input.declaredServices && !input.declaredServices.includes(s))
        throw new TokenRequestError(
          `service \`${s}\` is not declared in the stack file; use one of: ${input.declaredServices.join(', ') || '(none)'}`,
        );
    if (input.user !== undefined) {
      const people = await this.directory.users();
      const person = people?.[input.user];
      if (!person)
        throw new TokenRequestError(
          `user \`${input.user}\` is not declared in the stack file; declare them under \`people:\` with a role (e.g. \`people: { ${input.user}: { role: ${input.role} } }\`; a person without a role gets no token)${people && Object.keys(people).length ? `, or use one of: ${Object.keys(people).join(', ')}` : ''}`,
        );
      if (!roleWithin(input.role, person.role))
        throw new TokenRequestError(
          `user \`${input.user}\` is a ${person.role}: a ${input.role} token would allow more than their role; use --role ${person.role} (or lower), or change their role in the stack file`,
        );
      if (person.services) {
        const outside = (services ?? []).filter((s) => !person.services?.includes(s));
        if (outside.length)
          throw new TokenRequestError(
            `user \`${input.user}\` is limited to ${person.services.join(', ')}; a token for ${outside.join(', ')} would allow more; drop those --service flags`,
          );
        services ??= [...person.services].sort();
      }
    }
    const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    const record: TokenRecord = {
      id: `tok_${randomBytes(6).toString('hex')}`,
      hash: hashToken(token),
      role: input.role,
      services,
      user: input.user ?? null,
      label: input.label ?? '',
      createdAt: now.toISOString(),
      expiresAt: input.expires ? new Date(now.getTime() + input.expires.toMilliseconds()).toISOString() : null,
      revokedAt: null,
    };
    await this.store.saveToken(record);
    return { token, record };
  }

  async list(): Promise<TokenView[]> {
    return (await this.store.listTokens()).map((t) => {
      const { hash: _hash, ...rest } = t;
      return { ...rest, state: this.stateOf(t) };
    });
  }

  /** Revokes token `id`; an error naming the tokens there are when there is none to revoke. */
  async revoke(id: string): Promise<TokenRecord> {
    const t = await this.store.tryGetToken(id);
    if (!t) throw new TokenRequestError(`no token \`${id}\`; \`groundwork token list\` shows the ids`);
    if (t.revokedAt) throw new TokenRequestError(`token \`${id}\` was already revoked at ${t.revokedAt}`);
    const at = this.clock.now().toISOString();
    // The store revokes only a token not revoked yet: another revoke between the read and here wins.
    if (!(await this.store.revokeToken(id, at))) {
      const now = await this.store.tryGetToken(id);
      throw new TokenRequestError(`token \`${id}\` was already revoked at ${now?.revokedAt ?? 'the same moment'}`);
    }
    return { ...t, revokedAt: at };
  }

  private stateOf(t: TokenRecord): TokenState {
    if (t.revokedAt) return 'revoked';
    if (t.expiresAt && Date.parse(t.expiresAt) <= this.clock.now().getTime()) return 'expired';
    return 'active';
  }

  /** Who an `Authorization` header names, or why nobody. */
  async authenticate(header: string | undefined): Promise<Authentication> {
    if (header === undefined) return { ok: false, reason: 'no bearer token' };
    if (this.admin && timingSafeEqual(digest(header), this.admin))
      return {
        ok: true,
        caller: { tokenId: 'admin', user: null, role: 'admin', permissions: new Set(PERMISSIONS), services: null },
      };
    const m = /^Bearer (gw_[A-Za-z0-9_-]{43})$/.exec(header);
    if (!m?.[1]) return { ok: false, reason: 'not a Groundwork bearer token' };
    // Looked up by hash: the timing of the lookup tells nothing about a token nobody can guess.
    const t = await this.store.tryGetTokenByHash(hashToken(m[1]));
    if (!t) return { ok: false, reason: 'unknown token' };
    const found = { tokenId: t.id, ...(t.user !== null ? { user: t.user } : {}) };
    const state = this.stateOf(t);
    if (state !== 'active')
      return {
        ok: false,
        reason: state === 'revoked' ? `token revoked at ${t.revokedAt}` : `token expired at ${t.expiresAt}`,
        ...found,
      };
    if (!isRole(t.role)) return { ok: false, reason: `token has an unknown role \`${t.role}\``, ...found };
    let permissions: Set<Permission> = new Set(ROLE_PERMISSIONS[t.role]);
    let services = t.services === null ? null : new Set(t.services);
    if (t.user !== null) {
      const people: Users | undefined = await this.directory.users();
      const person = people?.[t.user];
      if (!person)
        return {
          ok: false,
          reason: people
            ? `user \`${t.user}\` is no longer declared in the stack file`
            : 'the stack file cannot be read, so its people are unknown',
          ...found,
        };
      // Never more than the person may do now.
      permissions = new Set([...permissions].filter((p) => ROLE_PERMISSIONS[person.role].has(p)));
      if (person.services) {
        const allowed = new Set(person.services);
        services = new Set(services === null ? allowed : [...services].filter((s) => allowed.has(s)));
      }
    }
    return { ok: true, caller: { tokenId: t.id, user: t.user, role: t.role, permissions, services } };
  }
}
