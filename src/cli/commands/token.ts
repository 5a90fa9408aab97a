/**
 * `groundwork token create|list|revoke`: API tokens for people of the stack file (`people:` with a role) and
 * for scripts. Runs on the state store directly: whoever can open it (the daemon's user, who can
 * also read the daemon's own token) is the admin here, and each create and revoke is recorded in
 * the audit log. A running daemon sees a new or revoked token at its next request.
 */
import { accessPeople } from '../../config/schema.js';
import os from 'node:os';
import { loadStack } from '../../config/load.js';
import { AuditLog } from '../../security/audit.js';
import { isRole, ROLES, type Role } from '../../security/roles.js';
import { FixedUsers } from '../../security/roles-stack-users.js';
import { TokenRequestError, Tokens, type TokenView } from '../../security/tokens.js';
import type { Store } from '../../store/store.js';
import { systemClock } from '../../util/clock.js';
import { Duration } from '../../util/duration.js';
import { defineCommand, STACK_FLAGS } from '../command.js';
import { EXIT, UsageError, UserError, type CliIo } from '../io.js';
import { openStore, stackFileOf, stateDirOf } from '../workspace.js';

const ACTIONS = ['create', 'list', 'revoke'] as const;

/** Who did it, for the audit log: a local command has no token, only an OS user. */
export function localActor(): { remote: string } {
  const u = os.userInfo();
  return { remote: `cli (uid ${u.uid} ${u.username}, pid ${process.pid})` };
}

async function recordLocal(store: Store, operation: string, reason: string): Promise<void> {
  await new AuditLog(store.audit, systemClock).append({
    token: 'local',
    user: null,
    ...localActor(),
    method: 'CLI',
    path: `groundwork ${operation}`,
    route: null,
    operation: 'access.admin',
    service: null,
    decision: 'allowed',
    status: 0,
    reason,
  });
}

function describe(t: Omit<TokenView, 'state'>): string {
  return [
    `role ${t.role}`,
    t.services ? `services ${t.services.join(', ')}` : 'every service',
    t.user ? `user ${t.user}` : undefined,
    t.expiresAt ? `expires ${t.expiresAt}` : 'never expires',
  ]
    .filter(Boolean)
    .join(', ');
}

function expiresOf(text: string | undefined): Duration | null {
  if (text === 'never') return null;
  const d = Duration.tryParse(text ?? '30d');
  if (!d || d.toMilliseconds() <= 0)
    throw new UsageError(`--expires needs a duration such as 12h, 30d or 365d, or \`never\` (found \`${text}\`)`);
  return d;
}

async function create(
  flags: { role?: string; service: string[]; user?: string; expires?: string; label?: string; json: boolean },
  io: CliIo,
  store: Store,
  stackFile: string,
): Promise<number> {
  const loaded = await loadStack(stackFile);
  if (!loaded.config)
    throw new UserError(
      `${stackFile} has problems, so its people and services are unknown; fix them first (\`groundwork validate\`)`,
    );
  const people = accessPeople(loaded.config);
  let role: Role | undefined;
  if (flags.role !== undefined) {
    if (!isRole(flags.role)) throw new UsageError(`unknown role \`${flags.role}\`; use one of ${ROLES.join(', ')}`);
    role = flags.role;
  } else if (flags.user !== undefined && people[flags.user]) role = people[flags.user]?.role;
  if (!role)
    throw new UsageError(
      `\`token create\` needs --role (one of ${ROLES.join(', ')}), or --user NAME to take that person's role`,
    );
  const tokens = new Tokens(store.tokens, systemClock, new FixedUsers(people));
  try {
    const { token, record } = await tokens.create({
      role,
      services: flags.service,
      ...(flags.user !== undefined ? { user: flags.user } : {}),
      expires: expiresOf(flags.expires),
      ...(flags.label !== undefined ? { label: flags.label } : {}),
      declaredServices: Object.keys(loaded.config.services ?? {}),
    });
    await recordLocal(store, 'token create', `created ${record.id} (${describe(record)})`);
    const { hash: _hash, ...shown } = record;
    if (flags.json) io.stdout(`${JSON.stringify({ ...shown, token }, null, 2)}\n`);
    else {
      io.stderr(`Created token ${record.id} (${describe(record)}). It is shown once, here; store it now:\n`);
      io.stdout(`${token}\n`);
      io.stderr('Use it as `Authorization: Bearer <token>`, or GROUNDWORK_TOKEN=<token> for the CLI.\n');
    }
    return EXIT.ok;
  } catch (e) {
    if (e instanceof TokenRequestError) throw new UserError(e.message);
    throw e;
  }
}

export const tokenCommand = defineCommand({
  name: 'token',
  args: ['ACTION', 'ID'],
  summary: 'Create, list and revoke API tokens (roles, services, expiry)',
  usage:
    'token create --role ROLE [--service NAME]... [--user NAME] [--expires 30d|never] [--label TEXT] [--json] | list [--json] | revoke ID',
  flags: {
    ...STACK_FLAGS,
    role: {
      type: 'string',
      description: `create: ${ROLES.join(', ')} (default: the --user's role)`,
      valueName: 'ROLE',
    },
    service: { type: 'list', description: 'create: limit to this service (repeatable)', valueName: 'NAME' },
    user: { type: 'string', description: 'create: the person of the stack file it is for', valueName: 'NAME' },
    expires: { type: 'string', description: 'create: valid for (default 30d), or never', valueName: 'DURATION' },
    label: { type: 'string', description: 'create: what it is for, shown in the list', valueName: 'TEXT' },
  },
  async run(flags, pos, io) {
    const [action, id] = pos;
    if (!action || !(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`\`groundwork token\` needs one of ${ACTIONS.join(', ')}, e.g. \`groundwork token list\``);
    if (action !== 'revoke' && id !== undefined) throw new UsageError(`unexpected argument \`${id}\``);
    const store = openStore(stateDirOf(io, flags));
    try {
      if (action === 'create') return await create(flags, io, store, stackFileOf(io, flags));
      const tokens = new Tokens(store.tokens, systemClock, new FixedUsers(undefined));
      if (action === 'list') {
        const list = await tokens.list();
        if (flags.json) io.stdout(`${JSON.stringify(list, null, 2)}\n`);
        else if (list.length === 0) io.stdout('No tokens yet. `groundwork token create --role viewer` makes one.\n');
        else
          for (const t of list)
            io.stdout(
              `${t.id}  ${t.state.padEnd(8)} ${describe(t)}${t.label ? `  "${t.label}"` : ''}${t.revokedAt ? ` (revoked ${t.revokedAt})` : ''}\n`,
            );
        return EXIT.ok;
      }
      if (!id)
        throw new UsageError(
          '`groundwork token revoke` needs a token id, e.g. `groundwork token revoke tok_1a2b3c4d5e6f`',
        );
      try {
        const t = await tokens.revoke(id);
        await recordLocal(store, 'token revoke', `revoked ${t.id} (${describe(t)})`);
        if (flags.json) io.stdout(`${JSON.stringify({ id: t.id, revokedAt: t.revokedAt })}\n`);
        else io.stdout(`Revoked ${t.id}; the daemon refuses it from its next request.\n`);
        return EXIT.ok;
      } catch (e) {
        if (e instanceof TokenRequestError) throw new UserError(e.message);
        throw e;
      }
    } finally {
      await store.close();
    }
  },
});
