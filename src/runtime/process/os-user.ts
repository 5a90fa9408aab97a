/** Looks up, or creates, the OS user an instance runs as. Root only. */
import { execFileSync } from 'node:child_process';

export interface OsUser {
  uid: number;
  gid: number;
  name: string;
}

export function tryLookupUser(name: string): OsUser | undefined {
  try {
    const uid = Number(
      execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
    const gid = Number(
      execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
    return { uid, gid, name };
  } catch {
    return undefined;
  }
}

export function ensureUser(name: string): OsUser {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `running as user \`${name}\` needs Groundwork to run as root; remove \`user:\` or run the daemon as root`,
    );
  }
  const existing = tryLookupUser(name);
  if (existing) return existing;
  try {
    execFileSync('useradd', ['--system', '--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    throw new Error(
      `could not create OS user \`${name}\`: ${((e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message).trim()}`,
    );
  }
  const created = tryLookupUser(name);
  if (!created) throw new Error(`OS user \`${name}\` was created but cannot be looked up`);
  return created;
}
