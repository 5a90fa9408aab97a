/**
 * The age identity (private key) of this installation: what the daemon and the CLI decrypt secret
 * values with. Kept in `<state dir>/age.key` (mode 0600, in the format of `age-keygen`), or in the
 * file GROUNDWORK_AGE_IDENTITY names. Its public key (the recipient, `age1…`) goes into the stack
 * file under `secret_recipients:` so that values are encrypted to it.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface AgeIdentity {
  /** `AGE-SECRET-KEY-1…`: never printed, logged or sent anywhere. */
  identity: string;
  /** `age1…`: public, safe to share and commit. */
  recipient: string;
  file: string;
}

export class AgeIdentityError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** Where the identity lives: GROUNDWORK_AGE_IDENTITY, else `<stateDir>/age.key`. */
export function identityFileOf(stateDir: string, env: Record<string, string | undefined>): string {
  const override = env.GROUNDWORK_AGE_IDENTITY;
  return override ? path.resolve(override) : path.join(stateDir, 'age.key');
}

/** The identity in `file`, or undefined when there is no such file; a bad file throws AgeIdentityError. */
export async function tryLoadIdentity(file: string): Promise<AgeIdentity | undefined> {
  let text: string;
  try {
    const mode = statSync(file).mode & 0o777;
    // A private key others can read is not private: refuse it rather than use it.
    if ((mode & 0o077) !== 0)
      throw new AgeIdentityError(
        `the age identity ${file} has mode ${mode.toString(8).padStart(4, '0')} (readable by others)`,
        `make it private: \`chmod 600 ${file}\``,
      );
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof AgeIdentityError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgeIdentityError(
      `cannot read the age identity ${file}: ${(e as Error).message}`,
      'check the file and its permissions',
    );
  }
  const identity = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (!identity)
    throw new AgeIdentityError(
      `${file} holds no age identity (a line starting with AGE-SECRET-KEY-)`,
      `move it away and run \`groundwork secret init\` to make a new one, or point GROUNDWORK_AGE_IDENTITY at an age-keygen file`,
    );
  // age-encryption (and its post-quantum curves) loads only here, once there is a key: every CLI
  // command asks for the identity to redact its output, and most stacks have none.
  const { identityToRecipient } = await import('age-encryption');
  let recipient: string;
  try {
    recipient = await identityToRecipient(identity);
  } catch (e) {
    throw new AgeIdentityError(
      `${file} holds an age identity that cannot be read: ${(e as Error).message}`,
      'replace it with a key made by `groundwork secret init` or age-keygen',
    );
  }
  return { identity, recipient, file };
}

/** Loads the identity in `file`, making one (mode 0600) when there is none. */
export async function ensureIdentity(file: string, now: Date): Promise<{ id: AgeIdentity; created: boolean }> {
  const existing = await tryLoadIdentity(file);
  if (existing) return { id: existing, created: false };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption');
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  writeFileSync(file, `# created: ${now.toISOString()}\n# public key: ${recipient}\n${identity}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  chmodSync(file, 0o600);
  return { id: { identity, recipient, file }, created: true };
}
