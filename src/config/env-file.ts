/**
 * `env_file:` of a service, in the format docker compose reads: one `KEY=VALUE` per line, `#`
 * comments and blank lines skipped, an optional `export ` prefix, values in single quotes taken
 * as they are, in double quotes with `\n` `\"` `\\` escapes, unquoted ones up to a ` #` comment.
 * Values are taken literally (no `${...}` references): put references in `env:`, which wins over
 * the file for the same name.
 *
 * The spec records each file's absolute path and a hash of its content, never its values: a
 * changed file is a changed spec (plan shows it and apply rolls the service), and the values stay
 * out of plans and state. The instance reads the files when it starts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface EnvFileSpec {
  /** Absolute path. */
  path: string;
  /** sha256 of the content when the model was built. */
  sha256: string;
}

export interface EnvFileProblem {
  line: number;
  message: string;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every `KEY=VALUE` of a file's text, and a problem per line that is not one. */
export function parseEnvFile(text: string): { values: Record<string, string>; problems: EnvFileProblem[] } {
  const values: Record<string, string> = {};
  const problems: EnvFileProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice('export '.length).trimStart() : line;
    const eq = body.indexOf('=');
    const key = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!KEY.test(key)) {
      problems.push({
        line: i + 1,
        message: `\`${key}\` is not an environment name (letters, digits and _, not starting with a digit)`,
      });
      return;
    }
    // A bare KEY takes its value from the environment in compose; here there is none to take: say so.
    if (eq < 0) {
      problems.push({ line: i + 1, message: `\`${key}\` has no \`=\`; write ${key}=VALUE (or ${key}= for empty)` });
      return;
    }
    const rest = body.slice(eq + 1).trim();
    const q = rest[0];
    if (q === "'" || q === '"') {
      const end = rest.indexOf(q, 1);
      let close = end;
      if (q === '"') {
        close = -1;
        for (let j = 1; j < rest.length; j++) {
          if (rest[j] === '\\') j++;
          else if (rest[j] === '"') {
            close = j;
            break;
          }
        }
      }
      if (close < 0) {
        problems.push({ line: i + 1, message: `the value of \`${key}\` opens a ${q} quote that is not closed` });
        return;
      }
      const inner = rest.slice(1, close);
      values[key] =
        q === "'" ? inner : inner.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
      return;
    }
    const comment = rest.search(/\s#/);
    values[key] = (comment < 0 ? rest : rest.slice(0, comment)).trimEnd();
  });
  return { values, problems };
}

/** The spec form of `env_file:` given relative to `dir` (the stack file's folder). Throws when a file cannot be read. */
export function envFileSpec(files: string | string[] | undefined, dir: string): EnvFileSpec[] | undefined {
  if (files === undefined) return undefined;
  return (Array.isArray(files) ? files : [files]).map((f) => {
    const abs = path.resolve(dir, f);
    return { path: abs, sha256: createHash('sha256').update(readFileSync(abs)).digest('hex') };
  });
}

/**
 * The values of a service's env files, in order (a later file wins), read now. Throws naming the
 * file and line when one cannot be read or has a line that is not `KEY=VALUE`.
 */
export function readEnvFiles(service: string, files: readonly EnvFileSpec[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f.path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(
        `service ${service}: env_file ${f.path} cannot be read (${code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : String(code)}); restore it or remove it from env_file`,
      );
    }
    const { values, problems } = parseEnvFile(text);
    if (problems.length)
      throw new Error(
        `service ${service}: env_file ${problems.map((p) => `${f.path}:${p.line}: ${p.message}`).join('; ')}`,
      );
    Object.assign(out, values);
  }
  return out;
}

/**
 * Validation of `services.NAME.env_file` (called by semantic-checks; paths relative to `dir`, the
 * stack file's folder): each file exists and every
 * line is `KEY=VALUE`. Located at the entry, naming the file's own line.
 */
export function envFileChecks(
  services: Record<string, unknown>,
  dir: string,
  locate: (path: (string | number)[]) => { line: number; column: number },
): { path: (string | number)[]; line: number; column: number; message: string; fix: string }[] {
  const out: { path: (string | number)[]; line: number; column: number; message: string; fix: string }[] = [];
  for (const [name, raw] of Object.entries(services)) {
    const files = (raw as { env_file?: unknown } | null)?.env_file;
    const list = typeof files === 'string' ? [files] : Array.isArray(files) ? files : [];
    list.forEach((f, i) => {
      if (typeof f !== 'string' || f === '') return;
      const at = typeof files === 'string' ? ['services', name, 'env_file'] : ['services', name, 'env_file', i];
      const abs = path.resolve(dir, f);
      let text: string;
      try {
        text = readFileSync(abs, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        out.push({
          path: at,
          ...locate(at),
          message: `env_file ${f} cannot be read (${code === 'ENOENT' ? `no such file: ${abs}` : code === 'EISDIR' ? 'it is a directory' : String(code)})`,
          fix: 'create the file (KEY=VALUE lines), or correct the path (relative to the stack file)',
        });
        return;
      }
      for (const p of parseEnvFile(text).problems)
        out.push({
          path: at,
          ...locate(at),
          message: `env_file ${f}, line ${p.line}: ${p.message}`,
          fix: 'write one KEY=VALUE per line; # starts a comment',
        });
    });
  }
  return out;
}
