/**
 * Which uid:gid a container runs as. A `user:` name means the same OS user as for the process
 * runtime (looked up on this host, created when Groundwork runs as root), passed to the engine
 * as numbers: files the service writes in bind mounts and volumes then belong to that user on
 * the host too, and the image needs no /etc/passwd entry for it.
 */
import { ensureUser, tryLookupUser, type OsUser } from '../process/os-user.js';

export type UserResolver = (name: string) => OsUser;

export const hostUsers: UserResolver = (name) => tryLookupUser(name) ?? ensureUser(name);

/** `uid:gid` for a name; numeric `uid` or `uid:gid` pass through; null means the image's user. */
export function containerUser(user: string | null, resolve: UserResolver): string | undefined {
  if (!user) return undefined;
  if (/^\d+(:\d+)?$/.test(user)) return user;
  const u = resolve(user);
  return `${u.uid}:${u.gid}`;
}
