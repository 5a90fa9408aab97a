/**
 * The secret values this installation can see, in the order they are looked up:
 *
 *   1. the encrypted secrets file (groundwork.secrets.yaml), decrypted with this installation's
 *      age identity: the version a service's spec names, else the newest;
 *   2. the environment variable GROUNDWORK_SECRET_<NAME>;
 *   3. the plaintext file <state dir>/secrets/<name> (mode 0600).
 *
 * Decryption is asynchronous (age-encryption), lookups are not (they happen while a process is
 * started): `refresh()` decrypts every version in the file once, before plans, applies and
 * daemon start, and keeps the values in memory only. They never go to disk, state, or logs.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Redactor, type NamedSecretValue } from './redact.js';
import { AgeIdentityError, identityFileOf, tryLoadIdentity, type AgeIdentity } from './age-identity.js';
import { EnvFileSecretSource, secretEnvName, type SecretSource } from './secret-source.js';
import {
  latest,
  readSecretsFile,
  secretsFileOf,
  SecretsFileError,
  VERSIONS_KEPT,
  type SecretsFile,
} from './secret-file.js';

export interface SecretVaultOptions {
  secretsFile: string;
  identityFile: string;
  env: Record<string, string | undefined>;
  /** <state dir>/secrets: the plaintext fallback. */
  plainDir: string;
  /**
   * Which versions refresh() decrypts: all (default: a rollback or a restart may need an older
   * one), or only the newest of each secret (a redactor for a short-lived CLI process: each value
   * costs an X25519 operation, ~5-30 ms).
   */
  decrypt?: 'all' | 'newest';
}

export class SecretVault implements SecretSource {
  private file: SecretsFile = { secrets: {} };
  private fileError: SecretsFileError | undefined;
  private identity: AgeIdentity | undefined;
  private identityError: AgeIdentityError | undefined;
  /** Armored ciphertext → plaintext (keyed by ciphertext: a re-encrypted or re-made version is decrypted anew). */
  private readonly values = new Map<string, string>();
  /** Armored ciphertext → why it could not be decrypted. */
  private readonly failures = new Map<string, string>();
  private declared: string[] = [];
  private readonly fallback: EnvFileSecretSource;
  private cachedRedactor: { key: string; redactor: Redactor } | undefined;

  constructor(private readonly opts: SecretVaultOptions) {
    this.fallback = new EnvFileSecretSource(opts.env, opts.plainDir);
  }

  /**
   * Reads the secrets file and the identity again and decrypts what is new. Never throws: what
   * cannot be read is reported by howToSet() when a value is needed.
   * @param declared the stack's secret names (their fallback values are redacted too).
   */
  async refresh(declared: readonly string[] = this.declared): Promise<void> {
    this.declared = [...declared];
    try {
      this.file = readSecretsFile(this.opts.secretsFile);
      this.fileError = undefined;
    } catch (e) {
      if (!(e instanceof SecretsFileError)) throw e;
      this.file = { secrets: {} };
      this.fileError = e;
    }
    try {
      this.identity = await tryLoadIdentity(this.opts.identityFile);
      this.identityError = undefined;
    } catch (e) {
      if (!(e instanceof AgeIdentityError)) throw e;
      this.identity = undefined;
      this.identityError = e;
    }
    const identity = this.identity;
    if (!identity) {
      this.rebuildRedactor();
      return;
    }
    const live = new Set<string>();
    // Loaded only with an identity to decrypt with (see tryLoadIdentity).
    const { decrypterFor } = await import('./age-crypto.js');
    const decrypt = decrypterFor(identity.identity);
    for (const entry of Object.values(this.file.secrets)) {
      const wanted = this.opts.decrypt === 'newest' ? entry.versions.slice(-1) : entry.versions;
      for (const v of wanted) {
        live.add(v.value);
        if (this.values.has(v.value)) continue;
        try {
          this.values.set(v.value, await decrypt(v.value));
          this.failures.delete(v.value);
        } catch (e) {
          this.failures.set(v.value, (e as Error).message);
        }
      }
    }
    // Values of removed versions are dropped from memory.
    for (const k of [...this.values.keys()]) if (!live.has(k)) this.values.delete(k);
    this.rebuildRedactor();
  }

  /** The newest version of each secret in the encrypted file. */
  versions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, entry] of Object.entries(this.file.secrets)) {
      const v = latest(entry);
      if (v) out[name] = v.version;
    }
    return out;
  }

  tryGet(name: string, version?: number): string | undefined {
    const entry = this.file.secrets[name];
    if (!entry) return this.fallback.tryGet(name);
    const v = version === undefined ? latest(entry) : entry.versions.find((x) => x.version === version);
    return v ? this.values.get(v.value) : undefined;
  }

  howToSet(name: string, version?: number): string {
    if (this.fileError) return `${this.fileError.message}; ${this.fileError.fix}`;
    const entry = this.file.secrets[name];
    if (!entry) return `${this.fallback.howToSet(name)}, or run \`groundwork secret set ${name}\``;
    const v = version === undefined ? latest(entry) : entry.versions.find((x) => x.version === version);
    if (!v)
      return `version ${version} of secret ${name} is no longer in ${this.opts.secretsFile} (the last ${VERSIONS_KEPT} are kept); apply the stack to use the newest version`;
    if (this.identityError) return `${this.identityError.message}; ${this.identityError.fix}`;
    if (!this.identity)
      return `there is no age identity at ${this.opts.identityFile} to decrypt ${this.opts.secretsFile}; run \`groundwork secret init\` (or set GROUNDWORK_AGE_IDENTITY to an identity file) and have its public key added to secret_recipients`;
    if (!v.recipients.includes(this.identity.recipient))
      return `version ${v.version} of secret ${name} is encrypted to ${v.recipients.join(', ')}, not to this installation's key ${this.identity.recipient}; add it under secret_recipients and have a holder of a listed key run \`groundwork secret recipients --update\``;
    const why = this.failures.get(v.value);
    return `version ${v.version} of secret ${name} cannot be decrypted${why ? ` (${why})` : ''}; set it again with \`groundwork secret set ${name}\``;
  }

  /** Every value this installation knows (every decrypted version, and the fallbacks of declared secrets). */
  knownValues(): NamedSecretValue[] {
    const out: NamedSecretValue[] = [];
    for (const [name, entry] of Object.entries(this.file.secrets))
      for (const v of entry.versions) {
        const value = this.values.get(v.value);
        if (value !== undefined) out.push({ name, value });
      }
    // Plaintext files: those of declared secrets, and any other file there (a secret no longer declared is still one).
    for (const name of new Set([...this.declared, ...plainFiles(this.opts.plainDir)])) {
      const value = this.fallback.tryGet(name);
      if (value !== undefined) out.push({ name, value });
    }
    // Every GROUNDWORK_SECRET_* of the environment, declared or not: it is a secret by its name.
    for (const [k, value] of Object.entries(this.opts.env))
      if (k.startsWith('GROUNDWORK_SECRET_') && value !== undefined && !out.some((o) => o.value === value))
        out.push({
          name: this.declared.find((n) => secretEnvName(n) === k) ?? k.slice('GROUNDWORK_SECRET_'.length).toLowerCase(),
          value,
        });
    return out;
  }

  /**
   * A redactor of every value known at the last refresh() (cheap to call per answer: no file is
   * read, the regular expression is built once per set of values).
   */
  redactor(): Redactor {
    return (this.cachedRedactor ??= this.rebuildRedactor()).redactor;
  }

  private rebuildRedactor(): { key: string; redactor: Redactor } {
    const values = this.knownValues();
    const key = JSON.stringify(values);
    if (this.cachedRedactor?.key !== key) this.cachedRedactor = { key, redactor: new Redactor(values) };
    return this.cachedRedactor;
  }
}

function plainFiles(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * A redactor for the stack at `target` (a stack file or its directory) without loading the stack:
 * the newest version of each secret in the file beside it, the plaintext files of its state
 * directory, and the GROUNDWORK_SECRET_* of `env`. For everything the CLI prints.
 */
export async function redactorForStack(opts: {
  target: string;
  stateDir?: string;
  env: Record<string, string | undefined>;
}): Promise<Redactor> {
  let dir = opts.target;
  try {
    if (!statSync(dir).isDirectory()) dir = path.dirname(dir);
  } catch {
    dir = path.dirname(dir);
  }
  const stateDir =
    opts.stateDir ??
    (opts.env.GROUNDWORK_STATE_DIR ? path.resolve(opts.env.GROUNDWORK_STATE_DIR) : path.join(dir, '.groundwork'));
  const vault = new SecretVault({
    secretsFile: secretsFileOf(dir, opts.env),
    identityFile: identityFileOf(stateDir, opts.env),
    env: opts.env,
    plainDir: path.join(stateDir, 'secrets'),
    decrypt: 'newest',
  });
  await vault.refresh([]);
  return vault.redactor();
}
