/** Who is logged in (GET /v1/whoami), so pages hide the actions the role may not take. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Whoami } from './api-types.js';

export const SessionContext = createContext<Whoami | null>(null);

export interface Session {
  who: Whoami | null;
  /** May the caller do `permission` (to `service`, when it concerns one)? */
  can(permission: string, service?: string): boolean;
}

export function useSession(): Session {
  const who = useContext(SessionContext);
  return {
    who,
    can: (permission, service) => {
      if (!who || !who.permissions.includes(permission)) return false;
      if (who.services === null) return true;
      // A token limited to some services may not take stack-wide actions.
      return service !== undefined && who.services.includes(service);
    },
  };
}
