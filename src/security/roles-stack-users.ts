/**
 * The people of the stack file (`people:` with a role), as the daemon sees them at each request: the file is
 * read again when it changes (size or modification time), so removing a person or lowering a role
 * takes effect on their tokens without a restart.
 */
import { statSync } from 'node:fs';
import { loadStack, resolveStackFile } from '../config/load.js';
import { accessPeople, type UserConfig } from '../config/schema.js';

export type Users = Readonly<Record<string, UserConfig>>;

/** Where the people come from; `undefined` when they cannot be known (then person tokens are refused). */
export interface UserDirectory {
  users(): Promise<Users | undefined>;
}

export class StackUsers implements UserDirectory {
  private stamp = '';
  private last: Users | undefined;

  constructor(private readonly stackFile: string) {}

  async users(): Promise<Users | undefined> {
    let stamp: string;
    try {
      const file = resolveStackFile(this.stackFile);
      const st = statSync(file);
      stamp = `${file}:${st.size}:${st.mtimeMs}`;
    } catch {
      // No stack file: nobody is declared any more.
      this.stamp = '';
      this.last = undefined;
      return undefined;
    }
    if (stamp === this.stamp) return this.last;
    const loaded = await loadStack(this.stackFile);
    this.stamp = stamp;
    // A stack file being edited may be invalid for a moment: its people are unknown until it is
    // valid again, and person tokens are refused meanwhile (never the old, perhaps wider, roles).
    this.last = loaded.config ? accessPeople(loaded.config) : undefined;
    return this.last;
  }
}

/** A fixed set of people (tests, and callers that already loaded the stack). */
export class FixedUsers implements UserDirectory {
  constructor(private readonly people: Users | undefined) {}
  users(): Promise<Users | undefined> {
    return Promise.resolve(this.people);
  }
}
