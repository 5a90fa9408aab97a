/**
 * Where secret values come from at run time. Values are read only when a process starts and go
 * only into its environment; nothing else ever holds them.
 *
 * This is the fallback of the encrypted secrets file (secret-vault.ts). Order: the environment variable GROUNDWORK_SECRET_<NAME> (dashes as underscores, upper case),
 * then the file <stateDir>/secrets/<name> (mode 0600, trailing newline trimmed).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Redactor } from './redact.js';

export interface SecretSource {
  /**
   * undefined when the secret has no value anywhere. `version`: the version a service's spec
   * names (encrypted secrets only; sources without versions ignore it).
   */
  tryGet(name: string, version?: number): string | undefined;
  /** Where a user puts a value (or why the one there cannot be read), for error messages. */
  howToSet(name: string, version?: number): string;
  /** Every value the source knows, as a redactor (for outputs such as build logs); absent: none known. */
  redactor?(): Redactor;
}

export function secretEnvName(name: string): string {
  return `GROUNDWORK_SECRET_${name.replace(/-/g, '_').toUpperCase()}`;
}

export class EnvFileSecretSource implements SecretSource {
  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly dir: string,
  ) {}

  tryGet(name: string): string | undefined {
    const fromEnv = this.env[secretEnvName(name)];
    if (fromEnv !== undefined) return fromEnv;
    const file = path.join(this.dir, name);
    try {
      if ((statSync(file).mode & 0o077) !== 0) return undefined;
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      return undefined;
    }
  }

  howToSet(name: string): string {
    const file = path.join(this.dir, name);
    try {
      const mode = statSync(file).mode & 0o777;
      // The file exists but is readable by others: it is ignored on purpose, and the fix is a chmod.
      if ((mode & 0o077) !== 0)
        return `${file} exists but its mode is ${mode.toString(8).padStart(4, '0')} (readable by others), so it is ignored; make it 0600 (\`chmod 600 ${file}\`), or set ${secretEnvName(name)} in the environment`;
    } catch {
      /* no file: say how to make one */
    }
    return `set ${secretEnvName(name)} in the environment, or write it to ${file} with mode 0600`;
  }
}
