/**
 * `groundwork secret init|set|get|list|rotate|rm|recipients`: the encrypted secrets file
 * (groundwork.secrets.yaml beside the stack file, safe to commit). A value is read from stdin, a
 * prompt without echo, or --from-file; never from the command line, where `ps` would show it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatDiagnostic } from '../../config/diagnostic.js';
import { loadStack } from '../../config/load.js';
import type { StackConfig } from '../../config/schema.js';
import { decryptValue, encryptValue } from '../../security/age-crypto.js';
import {
  AgeIdentityError,
  ensureIdentity,
  identityFileOf,
  tryLoadIdentity,
  type AgeIdentity,
} from '../../security/age-identity.js';
import {
  latest,
  readSecretsFile,
  secretsFileOf,
  SecretsFileError,
  VERSIONS_KEPT,
  writeSecretsFile,
  type SecretsFile,
  type SecretVersion,
} from '../../security/secret-file.js';
import { EnvFileSecretSource, secretEnvName } from '../../security/secret-source.js';
import { servicesUsingSecrets } from '../../security/secret-versions.js';
import { MIN_REDACTED_LENGTH } from '../../security/redact.js';
import { didYouMean } from '../../util/did-you-mean.js';
import { errorMessage } from '../../util/error-message.js';
import { defineCommand, STACK_FLAGS, type Command } from '../command.js';
import { EXIT, UsageError, UserError, type CliIo } from '../io.js';
import { authorOf, openStore, parseVars, stackFileOf, stateDirOf, type StackFlags } from '../workspace.js';
import { recordRotation } from '../../change/record-rotation.js';
import { ChangeControl, type Admission } from '../../change/change-control.js';
import { ChangeRefused, type ChangeRefusalCode } from '../../change/change-refused.js';
import { admitRotation, rotationTarget } from '../../change/rotation-gate.js';
import { checkNothingPending } from '../../change/rotation-rollout.js';
import type { ChangeRequestRow } from '../../store/store.js';
import type { ApplyResult } from '../../engine/apply.js';
import { OperationError } from '../../core/errors.js';
import { openOps } from '../open-ops.js';
import { varEnvOf } from '../daemon-client.js';
import { colourEnabled, makeStyle } from '../style.js';
import { renderEvent } from './apply.js';
import { systemClock } from '../../util/clock.js';
import { BREAK_GLASS_FLAG, CHANGE_FLAG, DECISION_FLAG, parseDecisions } from './change-flags.js';

/** What every subcommand opens: the stack's config, the secrets file and where the identity lives. */
interface SecretsContext {
  config: StackConfig;
  stackFile: string;
  secretsFile: string;
  identityFile: string;
  stateDir: string;
  file: SecretsFile;
}

async function openSecrets(io: CliIo, flags: StackFlags): Promise<SecretsContext> {
  const stackFile = stackFileOf(io, flags);
  const loaded = await loadStack(stackFile);
  if (!loaded.config)
    throw new UserError(
      `${loaded.diagnostics.map(formatDiagnostic).join('\n\n')}\n\nthe stack file has problems; fix them first (\`groundwork validate\`)`,
    );
  const secretsFile = secretsFileOf(loaded.dir, io.env);
  const stateDir = stateDirOf(io, flags);
  let file: SecretsFile;
  try {
    file = readSecretsFile(secretsFile);
  } catch (e) {
    if (e instanceof SecretsFileError) throw new UserError(`${e.message}\n  fix: ${e.fix}`);
    throw e;
  }
  return {
    config: loaded.config,
    stackFile: loaded.file,
    secretsFile,
    identityFile: identityFileOf(stateDir, io.env),
    stateDir,
    file,
  };
}

/** The name must be declared under `secrets:` (so the stack file says what exists). */
function declaredName(ctx: SecretsContext, name: string | undefined, command: string): string {
  if (!name) throw new UsageError(`\`groundwork secret ${command}\` needs a secret name, e.g. db-password`);
  const declared = Object.keys(ctx.config.secrets ?? {});
  if (!declared.includes(name)) {
    const guess = didYouMean(name, declared);
    throw new UserError(
      `secret ${name} is not declared in ${ctx.stackFile}${guess ? `; did you mean ${guess}?` : ''}\n  fix: add it under \`secrets:\` (\`secrets: { ${name}: { description: ... } }\`), then run this again`,
    );
  }
  return name;
}

/** Name → public key of the stack's `secret_recipients`; none is an error that says how to add one. */
function recipientsOf(ctx: SecretsContext, id: AgeIdentity | undefined): Record<string, string> {
  const r = ctx.config.secret_recipients ?? {};
  if (Object.keys(r).length === 0)
    throw new UserError(
      `${ctx.stackFile} lists no secret_recipients, so there is no one to encrypt secrets to\n  fix: add \`secret_recipients: { this-host: ${id?.recipient ?? 'age1...'} }\`${id ? '' : " (run `groundwork secret init` for this installation's key)"} and the keys of the people who may read secrets`,
    );
  return r;
}

async function identity(ctx: SecretsContext, why: string): Promise<AgeIdentity> {
  let id: AgeIdentity | undefined;
  try {
    id = await tryLoadIdentity(ctx.identityFile);
  } catch (e) {
    if (e instanceof AgeIdentityError) throw new UserError(`${e.message}\n  fix: ${e.fix}`);
    throw e;
  }
  if (!id)
    throw new UserError(
      `there is no age identity at ${ctx.identityFile} to ${why}\n  fix: run \`groundwork secret init\` (or set GROUNDWORK_AGE_IDENTITY to an identity file), and add its public key to secret_recipients`,
    );
  return id;
}

async function tryIdentity(ctx: SecretsContext): Promise<AgeIdentity | undefined> {
  try {
    return await tryLoadIdentity(ctx.identityFile);
  } catch {
    return undefined;
  }
}

/** A value typed after the name: refused without echoing it (it is already in `ps` and shell history). */
function refuseArgvValue(name: string, extra: string | undefined): void {
  if (extra !== undefined)
    throw new UsageError(
      `a secret's value is never taken from the command line (it would show in \`ps\` and your shell history; clear that entry); pipe it on stdin (\`groundwork secret set ${name} < file\`), type it at the prompt, or use --from-file PATH`,
    );
}

async function readValue(io: CliIo, name: string, fromFile: string | undefined): Promise<string> {
  let value: string;
  if (fromFile !== undefined) {
    const file = path.resolve(io.cwd, fromFile);
    try {
      value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new UserError(`cannot read the value of secret ${name} from ${file}: ${errorMessage(e)}`);
    }
  } else {
    if (!io.readSecret)
      throw new UserError(
        `no way to read the value of secret ${name} here\n  fix: pipe it on stdin (\`printf %s "$VALUE" | groundwork secret set ${name}\`) or use --from-file PATH`,
      );
    value = await io.readSecret(`Value of secret ${name} (not shown): `);
  }
  if (value.length === 0)
    throw new UserError(
      `the value of secret ${name} is empty\n  fix: pipe the value on stdin, type it at the prompt, or use --from-file PATH`,
    );
  return value;
}

/** Encrypts `value` as the next version of `name` and writes the file; returns the new version. */
async function addVersion(ctx: SecretsContext, io: CliIo, name: string, value: string): Promise<SecretVersion> {
  const recipients = recipientsOf(ctx, await tryIdentity(ctx));
  const keys = [...new Set(Object.values(recipients))].sort();
  const prev = ctx.file.secrets[name];
  const version: SecretVersion = {
    version: (prev ? (latest(prev)?.version ?? 0) : 0) + 1,
    created: new Date().toISOString(),
    by: authorOf(io.env),
    recipients: keys,
    value: await encryptValue(value, keys),
  };
  const versions = [...(prev?.versions ?? []), version].slice(-VERSIONS_KEPT);
  writeSecretsFile(ctx.secretsFile, { secrets: { ...ctx.file.secrets, [name]: { versions } } });
  return version;
}

function usedBy(ctx: SecretsContext, name: string): string[] {
  return servicesUsingSecrets(ctx.config)[name] ?? [];
}

function reportSet(
  io: CliIo,
  json: boolean,
  ctx: SecretsContext,
  name: string,
  v: SecretVersion,
  warn: string[],
  rollout?: ApplyResult,
): number {
  const services = usedBy(ctx, name);
  const recipients = Object.entries(ctx.config.secret_recipients ?? {})
    .filter(([, k]) => v.recipients.includes(k))
    .map(([n]) => n);
  if (json) {
    io.stdout(
      `${JSON.stringify({ name, version: v.version, created: v.created, by: v.by, recipients, services, file: ctx.secretsFile, warnings: warn, ...(rollout ? { change: rollout.changeId, rollout } : {}) }, null, 2)}\n`,
    );
    return exitOfRollout(rollout);
  }
  for (const w of warn) io.stderr(`warning: ${w}\n`);
  io.stdout(
    `secret ${name}: version ${v.version} written to ${path.basename(ctx.secretsFile)} (encrypted to ${recipients.join(', ')})\n` +
      (rollout
        ? rolloutLine(rollout)
        : services.length
          ? `used by ${services.map((s) => `service.${s}`).join(', ')}: \`groundwork apply\` restarts ${services.length === 1 ? 'it' : 'them'} with the new value\n`
          : `no service references \${secret.${name}} yet\n`),
  );
  return exitOfRollout(rollout);
}

/** What the rollout of a carried-through rotation did, in one line. */
function rolloutLine(r: ApplyResult): string {
  const restarted = r.applied;
  if (r.outcome === 'applied')
    return `change #${r.changeId}: ${restarted.length ? `restarted ${restarted.join(', ')} with the new version` : 'no applied service uses it yet (they take it when created)'}\n`;
  return `change #${r.changeId}: the rollout ${r.outcome === 'partial' ? 'partly failed' : 'failed'}: ${r.failed.map((f) => `${f.address}: ${f.error}`).join('; ')}\n`;
}

function exitOfRollout(r: ApplyResult | undefined): number {
  return !r || r.outcome === 'applied' || r.outcome === 'no-op' ? EXIT.ok : EXIT.failed;
}

async function warningsFor(ctx: SecretsContext, value: string): Promise<string[]> {
  const warn: string[] = [];
  if (value.length < MIN_REDACTED_LENGTH)
    warn.push(`the value is shorter than ${MIN_REDACTED_LENGTH} characters: it is not redacted from logs`);
  const id = await tryIdentity(ctx);
  if (id && !Object.values(ctx.config.secret_recipients ?? {}).includes(id.recipient))
    warn.push(
      `this installation's key ${id.recipient} is not in secret_recipients: it cannot decrypt the value (add it if this host runs the stack)`,
    );
  return warn;
}

const SET_FLAGS = {
  ...STACK_FLAGS,
  'from-file': {
    type: 'string',
    description: 'Read the value from this file (one trailing newline dropped)',
    valueName: 'PATH',
  },
} as const;

interface NewVersion {
  version: SecretVersion;
  value: string;
  /** The rollout of an approved rotation (`--change ID`): the one change holding both. */
  rollout?: ApplyResult;
}

type GateFlags = StackFlags & {
  message: string | undefined;
  change: number | undefined;
  'break-glass': string | undefined;
  decision: string[];
};

/** Change management on a new version (change/rotation-gate.ts): the flags of set and rotate. */
const GATE_FLAGS = {
  message: { type: 'string', short: 'm', description: 'Why: recorded with the change', valueName: 'MESSAGE' },
  change: CHANGE_FLAG,
  'break-glass': BREAK_GLASS_FLAG,
  decision: DECISION_FLAG,
} as const;

const REFUSAL_EXIT: Record<ChangeRefusalCode, number> = {
  refused: EXIT.refused,
  'bad-request': EXIT.usage,
  'not-found': EXIT.failed,
};

/**
 * Asks change management before a new version is made (before the value is read); `commit`
 * writes the version with `write` and records the rotation as a change. Under an approved request
 * (`--change ID`) the change is the rotation and its rollout together (carryThrough).
 */
async function gateNewVersion(
  ctx: SecretsContext,
  io: CliIo,
  name: string,
  flags: GateFlags,
): Promise<{ commit: (write: () => Promise<NewVersion>) => Promise<NewVersion> }> {
  const store = openStore(ctx.stateDir);
  const control = new ChangeControl({ store, clock: systemClock, stackFile: ctx.stackFile });
  const author = authorOf(io.env);
  const carried = flags.change !== undefined;
  let admission: Admission;
  let request: ChangeRequestRow | undefined;
  try {
    // Under a request the rollout admits the change for real (a break-glass audited and notified
    // once, there); here it is only asked, so nothing is read or written when it would be refused.
    admission = await admitRotation(
      control,
      rotationTarget(ctx.config, ctx.file, name),
      { author, request: flags.change, breakGlass: flags['break-glass'], decisions: parseDecisions(flags.decision) },
      { dryRun: carried },
    );
    if (flags.change !== undefined) request = await control.requestOf(flags.change);
  } catch (e) {
    await store.close();
    if (e instanceof ChangeRefused) throw new UserError(`${e.message}\n  fix: ${e.fix}`, REFUSAL_EXIT[e.code]);
    throw e;
  }
  if (request) {
    await store.close();
    return carryThrough(io, name, flags, request);
  }
  return {
    async commit(write) {
      try {
        const made = await write();
        // A rotation is a change on the record (history), like an apply; the value never is.
        const id = await recordRotation(store.journal, {
          secret: name,
          version: made.version.version,
          author,
          message: flags.message ?? '',
        });
        await control.record(id, admission);
        return made;
      } finally {
        await store.close();
      }
    },
  };
}

/**
 * An approved rotation carried through (change/rotation-rollout.ts): checked that nothing else is
 * pending, the version written, then the request's rollout restarts the services using the
 * secret, through the daemon when one runs. One change on the record holds both.
 */
async function carryThrough(
  io: CliIo,
  name: string,
  flags: GateFlags,
  request: ChangeRequestRow,
): Promise<{ commit: (write: () => Promise<NewVersion>) => Promise<NewVersion> }> {
  const { ops, close } = openOps(io, flags);
  const inputs = { vars: parseVars(flags.var), varEnv: varEnvOf(io.env) };
  try {
    const plan = await ops.plan(inputs);
    checkNothingPending(request, plan.steps);
  } catch (e) {
    await close();
    if (e instanceof ChangeRefused) throw new UserError(`${e.message}\n  fix: ${e.fix}`, REFUSAL_EXIT[e.code]);
    throw e;
  }
  const style = makeStyle(colourEnabled(io.env, io.isTty));
  return {
    async commit(write) {
      try {
        const made = await write();
        let rollout: ApplyResult;
        try {
          rollout = await ops.apply(
            {
              ...inputs,
              request: request.id,
              author: authorOf(io.env),
              message: flags.message ?? '',
              decisions: parseDecisions(flags.decision),
              ...(flags['break-glass'] !== undefined ? { breakGlass: flags['break-glass'] } : {}),
            },
            {
              onEvent: (e) => {
                const line = flags.json ? undefined : renderEvent(e, style);
                if (line) io.stdout(`${line}\n`);
              },
            },
          );
        } catch (e) {
          const why = e instanceof OperationError ? `${e.message}${e.fix ? ` (${e.fix})` : ''}` : errorMessage(e);
          throw new UserError(
            `secret ${name}: version ${made.version.version} is written, but its rollout under change request #${request.id} did not start: ${why}\n  fix: once that is fixed, \`groundwork apply ${request.id}\` rolls it out (the approval still holds: the request is not carried out yet)`,
            e instanceof OperationError && e.code === 'refused' ? EXIT.refused : EXIT.failed,
          );
        }
        return { ...made, rollout };
      } finally {
        await close();
      }
    },
  };
}

const initCommand = defineCommand({
  name: 'secret init',
  summary: "Make this installation's age identity (the key that decrypts secrets)",
  usage: 'secret init [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    const stateDir = stateDirOf(io, flags);
    const file = identityFileOf(stateDir, io.env);
    let result: Awaited<ReturnType<typeof ensureIdentity>>;
    try {
      result = await ensureIdentity(file, new Date());
    } catch (e) {
      if (e instanceof AgeIdentityError) throw new UserError(`${e.message}\n  fix: ${e.fix}`);
      throw e;
    }
    const { id, created } = result;
    if (flags.json) {
      io.stdout(`${JSON.stringify({ identityFile: id.file, recipient: id.recipient, created }, null, 2)}\n`);
      return EXIT.ok;
    }
    io.stdout(
      `${created ? 'made' : 'found'} the age identity ${id.file} (mode 0600; keep it private, back it up)\n` +
        `its public key: ${id.recipient}\n\n` +
        `add it to the stack file so secrets are encrypted to this installation:\n\n` +
        `secret_recipients:\n  ${path.basename(path.dirname(path.resolve(stateDir)))}: ${id.recipient}\n`,
    );
    return EXIT.ok;
  },
});

const setCommand = defineCommand({
  name: 'secret set',
  summary: 'Set a secret (a new version), value from stdin, a prompt or --from-file',
  usage:
    'secret set NAME [--from-file PATH] [-m MESSAGE] [--change ID] [--break-glass REASON] [--decision N] [-f FILE] [--json]   (value on stdin or typed at the prompt)',
  flags: { ...SET_FLAGS, ...GATE_FLAGS },
  // A second argument is taken only to refuse it without echoing it (see refuseArgvValue).
  args: ['NAME', 'VALUE'],
  async run(flags, pos, io) {
    refuseArgvValue(pos[0] ?? 'NAME', pos[1]);
    const ctx = await openSecrets(io, flags);
    const name = declaredName(ctx, pos[0], 'set');
    recipientsOf(ctx, await tryIdentity(ctx));
    const gate = await gateNewVersion(ctx, io, name, flags);
    const {
      version: v,
      value,
      rollout,
    } = await gate.commit(async () => {
      const value = await readValue(io, name, flags['from-file']);
      return { version: await addVersion(ctx, io, name, value), value };
    });
    return reportSet(io, flags.json, ctx, name, v, await warningsFor(ctx, value), rollout);
  },
});

const rotateCommand = defineCommand({
  name: 'secret rotate',
  summary: 'Give an existing secret a new value (a new version); --generate makes a random one',
  usage:
    'secret rotate NAME [--generate | --from-file PATH] [-m MESSAGE] [--change ID] [--break-glass REASON] [--decision N] [-f FILE] [--json]',
  flags: {
    ...SET_FLAGS,
    ...GATE_FLAGS,
    generate: { type: 'boolean', description: 'A random value: 32 bytes, base64url (43 characters)' },
  },
  args: ['NAME', 'VALUE'],
  async run(flags, pos, io) {
    refuseArgvValue(pos[0] ?? 'NAME', pos[1]);
    const ctx = await openSecrets(io, flags);
    const name = declaredName(ctx, pos[0], 'rotate');
    if (!ctx.file.secrets[name])
      throw new UserError(
        `secret ${name} is not in ${ctx.secretsFile} yet, so there is nothing to rotate\n  fix: set its first version with \`groundwork secret set ${name}\``,
      );
    if (flags.generate && flags['from-file'] !== undefined)
      throw new UsageError('give either --generate or --from-file, not both');
    recipientsOf(ctx, await tryIdentity(ctx));
    const gate = await gateNewVersion(ctx, io, name, flags);
    const {
      version: v,
      value,
      rollout,
    } = await gate.commit(async () => {
      const value = flags.generate
        ? randomBytes(32).toString('base64url')
        : await readValue(io, name, flags['from-file']);
      return { version: await addVersion(ctx, io, name, value), value };
    });
    return reportSet(io, flags.json, ctx, name, v, await warningsFor(ctx, value), rollout);
  },
});

const getCommand = defineCommand({
  name: 'secret get',
  summary: "Print the value of a secret (decrypted with this installation's identity)",
  usage: 'secret get NAME [--version N] [-f FILE] [--json]',
  flags: {
    ...STACK_FLAGS,
    version: { type: 'number', description: 'That version (default: the newest)', valueName: 'N' },
  },
  args: ['NAME'],
  async run(flags, pos, io) {
    const ctx = await openSecrets(io, flags);
    const name = declaredName(ctx, pos[0], 'get');
    const entry = ctx.file.secrets[name];
    let value: string | undefined;
    let version: number | null = null;
    let source: string;
    if (entry) {
      const v = flags.version === undefined ? latest(entry) : entry.versions.find((x) => x.version === flags.version);
      if (!v)
        throw new UserError(
          `secret ${name} has no version ${flags.version} in ${ctx.secretsFile} (it has ${entry.versions.map((x) => x.version).join(', ')}; the last ${VERSIONS_KEPT} are kept)\n  fix: pick one of those with --version`,
        );
      const id = await identity(ctx, `decrypt secret ${name}`);
      try {
        value = await decryptValue(v.value, id.identity);
      } catch (e) {
        throw new UserError(
          `cannot decrypt version ${v.version} of secret ${name} with ${id.file} (${errorMessage(e)}): it is encrypted to ${v.recipients.join(', ')}, not to ${id.recipient}\n  fix: add ${id.recipient} to secret_recipients and have a holder of a listed key run \`groundwork secret recipients --update\``,
        );
      }
      version = v.version;
      source = 'encrypted';
    } else {
      if (flags.version !== undefined)
        throw new UserError(
          `secret ${name} is not in ${ctx.secretsFile}, so it has no versions\n  fix: drop --version`,
        );
      const fallback = new EnvFileSecretSource(io.env, path.join(ctx.stateDir, 'secrets'));
      value = fallback.tryGet(name);
      source = io.env[secretEnvName(name)] !== undefined ? 'environment' : 'plaintext-file';
      if (value === undefined)
        throw new UserError(
          `secret ${name} has no value\n  fix: run \`groundwork secret set ${name}\`, or ${fallback.howToSet(name)}`,
        );
    }
    if (flags.json) io.stdout(`${JSON.stringify({ name, version, source, value }, null, 2)}\n`);
    else io.stdout(`${value}\n`);
    return EXIT.ok;
  },
});

const listCommand = defineCommand({
  name: 'secret list',
  summary: 'List secrets: versions, who set them, where the value comes from, which services use them',
  usage: 'secret list [-f FILE] [--json]',
  flags: STACK_FLAGS,
  async run(flags, _pos, io) {
    const ctx = await openSecrets(io, flags);
    const using = servicesUsingSecrets(ctx.config);
    const fallback = new EnvFileSecretSource(io.env, path.join(ctx.stateDir, 'secrets'));
    const names = [...new Set([...Object.keys(ctx.config.secrets ?? {}), ...Object.keys(ctx.file.secrets)])].sort();
    const rows = names.map((name) => {
      const entry = ctx.file.secrets[name];
      const last = entry ? latest(entry) : undefined;
      const source = last
        ? 'encrypted'
        : io.env[secretEnvName(name)] !== undefined
          ? 'environment'
          : fallback.tryGet(name) !== undefined
            ? 'plaintext-file'
            : 'missing';
      return {
        name,
        declared: name in (ctx.config.secrets ?? {}),
        source,
        version: last?.version ?? null,
        versions: entry?.versions.map((v) => v.version) ?? [],
        created: last?.created ?? null,
        by: last?.by ?? null,
        services: using[name] ?? [],
      };
    });
    if (flags.json) {
      io.stdout(`${JSON.stringify({ file: ctx.secretsFile, secrets: rows }, null, 2)}\n`);
      return EXIT.ok;
    }
    if (rows.length === 0) {
      io.stdout(
        'No secrets declared. Declare one under `secrets:` in the stack file, then `groundwork secret set NAME`.\n',
      );
      return EXIT.ok;
    }
    io.stdout(`${'name'.padEnd(22)}${'version'.padEnd(9)}${'source'.padEnd(16)}${'set'.padEnd(28)}used by\n`);
    for (const r of rows) {
      const set = r.created ? `${r.created.slice(0, 16).replace('T', ' ')} ${r.by ?? ''}` : '';
      io.stdout(
        `${r.name.padEnd(22)}${String(r.version ?? '-').padEnd(9)}${(r.declared ? r.source : 'undeclared').padEnd(16)}${set.padEnd(28)}${r.services.join(', ') || '-'}\n`,
      );
    }
    return EXIT.ok;
  },
});

const rmCommand = defineCommand({
  name: 'secret rm',
  summary: 'Remove a secret and all its versions from the secrets file',
  usage: 'secret rm NAME [-f FILE] [--json]',
  flags: STACK_FLAGS,
  args: ['NAME'],
  async run(flags, pos, io) {
    const ctx = await openSecrets(io, flags);
    const name = pos[0];
    if (!name) throw new UsageError('`groundwork secret rm` needs a secret name');
    if (!ctx.file.secrets[name]) {
      const guess = didYouMean(name, Object.keys(ctx.file.secrets));
      throw new UserError(
        `secret ${name} is not in ${ctx.secretsFile}${guess ? `; did you mean ${guess}?` : ''}\n  fix: see \`groundwork secret list\``,
      );
    }
    const { [name]: removed, ...rest } = ctx.file.secrets;
    writeSecretsFile(ctx.secretsFile, { secrets: rest });
    const services = usedBy(ctx, name);
    if (flags.json) {
      io.stdout(`${JSON.stringify({ name, removedVersions: removed?.versions.length ?? 0, services }, null, 2)}\n`);
      return EXIT.ok;
    }
    io.stdout(
      `secret ${name}: removed from ${path.basename(ctx.secretsFile)} (${removed?.versions.length ?? 0} versions)\n`,
    );
    if (services.length)
      io.stderr(
        `warning: ${services.map((s) => `service.${s}`).join(', ')} still reference \${secret.${name}}; at the next apply they take the value from ${secretEnvName(name)} or ${path.join(ctx.stateDir, 'secrets', name)}, and fail without one\n`,
      );
    return EXIT.ok;
  },
});

const recipientsCommand = defineCommand({
  name: 'secret recipients',
  summary: 'Show who each secret is encrypted to; --update re-encrypts every version to secret_recipients',
  usage: 'secret recipients [--update] [-f FILE] [--json]',
  flags: { ...STACK_FLAGS, update: { type: 'boolean', description: 'Re-encrypt every version to the current list' } },
  async run(flags, _pos, io) {
    const ctx = await openSecrets(io, flags);
    const declared = ctx.config.secret_recipients ?? {};
    const want = [...new Set(Object.values(declared))].sort();
    const nameOf = (k: string) => Object.entries(declared).find(([, v]) => v === k)?.[0] ?? k;
    const stale = () =>
      Object.entries(ctx.file.secrets).flatMap(([name, e]) =>
        e.versions
          .filter((v) => v.recipients.join(' ') !== want.join(' '))
          .map((v) => ({
            name,
            version: v.version,
            missing: want.filter((k) => !v.recipients.includes(k)).map(nameOf),
            extra: v.recipients.filter((k) => !want.includes(k)).map(nameOf),
          })),
      );
    let updated = 0;
    if (flags.update && stale().length > 0) {
      recipientsOf(ctx, await tryIdentity(ctx));
      const id = await identity(ctx, 're-encrypt the secrets');
      const next: SecretsFile = { secrets: {} };
      const failed: string[] = [];
      for (const [name, e] of Object.entries(ctx.file.secrets)) {
        const versions: SecretVersion[] = [];
        for (const v of e.versions) {
          if (v.recipients.join(' ') === want.join(' ')) {
            versions.push(v);
            continue;
          }
          try {
            const value = await decryptValue(v.value, id.identity);
            versions.push({ ...v, recipients: want, value: await encryptValue(value, want) });
            updated++;
          } catch {
            failed.push(`${name} version ${v.version}`);
            versions.push(v);
          }
        }
        next.secrets[name] = { versions };
      }
      if (failed.length)
        throw new UserError(
          `cannot re-encrypt ${failed.join(', ')}: this installation's key ${id.recipient} is not among their recipients; nothing was changed\n  fix: run \`groundwork secret recipients --update\` where a listed key is (e.g. the machine of a person in secret_recipients)`,
        );
      writeSecretsFile(ctx.secretsFile, next);
      ctx.file = next;
    }
    const left = stale();
    if (flags.json) {
      io.stdout(`${JSON.stringify({ recipients: declared, updated, stale: left }, null, 2)}\n`);
      return EXIT.ok;
    }
    io.stdout(
      `secret_recipients: ${
        Object.keys(declared).length
          ? Object.entries(declared)
              .map(([n, k]) => `${n} (${k.slice(0, 12)}…)`)
              .join(', ')
          : '(none)'
      }\n`,
    );
    if (updated) io.stdout(`re-encrypted ${updated} version${updated === 1 ? '' : 's'} to them\n`);
    if (left.length === 0) io.stdout('every version of every secret is encrypted to exactly these recipients\n');
    else {
      for (const s of left)
        io.stdout(
          `  ${s.name} version ${s.version}:${s.missing.length ? ` not readable by ${s.missing.join(', ')}` : ''}${s.extra.length ? ` still readable by ${s.extra.join(', ')}` : ''}\n`,
        );
      io.stdout(
        'run `groundwork secret recipients --update` to re-encrypt them (a removed key keeps what it could read before: rotate those secrets too)\n',
      );
    }
    return EXIT.ok;
  },
});

const SUBCOMMANDS: Command[] = [
  initCommand,
  setCommand,
  getCommand,
  listCommand,
  rotateCommand,
  rmCommand,
  recipientsCommand,
];

function secretUsage(): string {
  const width = Math.max(...SUBCOMMANDS.map((c) => c.name.length)) + 2;
  return [
    'Usage: groundwork secret SUBCOMMAND [flags]',
    '',
    "Secrets are encrypted with age to the stack's secret_recipients, in groundwork.secrets.yaml",
    'beside the stack file (safe to commit). Values are read from stdin or a prompt, never argv.',
    '',
    ...SUBCOMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Every subcommand takes --json and -f FILE. Run `groundwork secret SUBCOMMAND --help` for its flags.',
    '',
  ].join('\n');
}

export const secretCommand: Command = {
  name: 'secret',
  summary: 'Encrypted secrets: init, set, get, list, rotate, rm, recipients',
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (!sub || sub === '--help' || sub === '-h') {
      io.stdout(secretUsage());
      return sub ? EXIT.ok : EXIT.usage;
    }
    const command = SUBCOMMANDS.find((c) => c.name === `secret ${sub}`);
    if (!command) {
      const guess = didYouMean(
        sub,
        SUBCOMMANDS.map((c) => c.name.slice('secret '.length)),
      );
      throw new UsageError(
        `unknown subcommand \`secret ${sub}\`${guess ? `; did you mean \`secret ${guess}\`?` : ''}; run \`groundwork secret --help\``,
      );
    }
    return command.run(rest, io);
  },
};
