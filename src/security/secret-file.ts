/**
 * The encrypted secrets file, `groundwork.secrets.yaml` beside the stack file: safe to commit.
 * Each secret keeps its versions (newest last); each version's value is an age-armored ciphertext
 * encrypted to the recipients it lists. Everything but the values is plain text, so `secret list`,
 * `plan` and reviewers of a diff see names, versions, dates and authors without any key.
 *
 *   format: 1
 *   secrets:
 *     db-password:
 *       versions:
 *         - version: 3
 *           created: 2026-12-01T16:00:00.000Z
 *           by: ana
 *           recipients: [age1…, age1…]
 *           value: |
 *             -----BEGIN AGE ENCRYPTED FILE-----
 *             …
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const SECRETS_FILE_NAME = 'groundwork.secrets.yaml';
export const SECRETS_FILE_FORMAT = 1;
/** Versions kept per secret: old ones let a rollback run the release with the value it had. */
export const VERSIONS_KEPT = 10;

export interface SecretVersion {
  version: number;
  /** ISO time. */
  created: string;
  /** Who set it, when known. */
  by: string | null;
  /** The public keys the value is encrypted to. */
  recipients: string[];
  /** age ciphertext, armored. */
  value: string;
}

export interface SecretEntry {
  versions: SecretVersion[];
}

export interface SecretsFile {
  secrets: Record<string, SecretEntry>;
}

export class SecretsFileError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** `groundwork.secrets.yaml` beside the stack file, or GROUNDWORK_SECRETS_FILE. */
export function secretsFileOf(stackDir: string, env: Record<string, string | undefined>): string {
  return env.GROUNDWORK_SECRETS_FILE
    ? path.resolve(env.GROUNDWORK_SECRETS_FILE)
    : path.join(stackDir, SECRETS_FILE_NAME);
}

export function latest(entry: SecretEntry): SecretVersion | undefined {
  return entry.versions[entry.versions.length - 1];
}

/** The file's secrets; an absent file has none. A malformed one throws SecretsFileError naming the place. */
export function readSecretsFile(file: string): SecretsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { secrets: {} };
    throw new SecretsFileError(`cannot read ${file}: ${(e as Error).message}`, 'check the file and its permissions');
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new SecretsFileError(
      `${file} is not valid YAML: ${(e as Error).message}`,
      'restore it from version control (it is written only by `groundwork secret`)',
    );
  }
  return parseSecretsFile(doc, file);
}

function parseSecretsFile(doc: unknown, file: string): SecretsFile {
  const bad = (where: string, expected: string) =>
    new SecretsFileError(
      `${file}: ${where} should be ${expected}`,
      'restore the file from version control; it is written only by `groundwork secret`',
    );
  if (doc === null || doc === undefined) return { secrets: {} };
  if (!isRecord(doc)) throw bad('the document', 'a map with `format` and `secrets`');
  if (doc.format !== SECRETS_FILE_FORMAT) throw bad('`format`', `${SECRETS_FILE_FORMAT}`);
  const raw = doc.secrets ?? {};
  if (!isRecord(raw)) throw bad('`secrets`', 'a map of secret names');
  const secrets: Record<string, SecretEntry> = {};
  for (const [name, entry] of Object.entries(raw)) {
    if (!isRecord(entry) || !Array.isArray(entry.versions)) throw bad(`secrets.${name}`, 'a map with `versions`');
    const versions = entry.versions.map((v: unknown, i: number): SecretVersion => {
      const at = `secrets.${name}.versions[${i}]`;
      if (!isRecord(v)) throw bad(at, 'a map');
      if (typeof v.version !== 'number' || !Number.isInteger(v.version) || v.version < 1)
        throw bad(`${at}.version`, 'a whole number from 1');
      if (typeof v.created !== 'string') throw bad(`${at}.created`, 'an ISO time');
      if (v.by !== null && v.by !== undefined && typeof v.by !== 'string') throw bad(`${at}.by`, 'a name or null');
      if (!Array.isArray(v.recipients) || !v.recipients.every((r) => typeof r === 'string'))
        throw bad(`${at}.recipients`, 'a list of age public keys');
      if (typeof v.value !== 'string' || !v.value.includes('BEGIN AGE ENCRYPTED FILE'))
        throw bad(`${at}.value`, 'an armored age ciphertext');
      return {
        version: v.version,
        created: v.created,
        by: typeof v.by === 'string' ? v.by : null,
        recipients: v.recipients as string[],
        value: v.value,
      };
    });
    versions.sort((a: SecretVersion, b: SecretVersion) => a.version - b.version);
    secrets[name] = { versions };
  }
  return { secrets };
}

/** Writes the file whole (tmp + rename: a reader never sees half of it). Mode 0644: it is meant to be committed. */
export function writeSecretsFile(file: string, data: SecretsFile): void {
  const names = Object.keys(data.secrets).sort();
  const doc = {
    format: SECRETS_FILE_FORMAT,
    secrets: Object.fromEntries(names.map((n) => [n, data.secrets[n]])),
  };
  const header =
    "# Secrets of this stack, encrypted with age to the stack's secret_recipients.\n" +
    '# Safe to commit. Written by `groundwork secret`; do not edit by hand.\n';
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, header + YAML.stringify(doc, { lineWidth: 0 }), { mode: 0o644 });
  renameSync(tmp, file);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
