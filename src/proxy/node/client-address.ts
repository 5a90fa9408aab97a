/** The client's address as logged and sent in X-Forwarded-For: `::ffff:127.0.0.1` → `127.0.0.1`. */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return 'unknown';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}
