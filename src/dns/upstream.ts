/** `host:port` of a DNS server, as the stack file writes it (`127.0.0.1:53`, `[::1]:53`, `1.1.1.1`). */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host[:port]` (IPv6 in brackets); undefined when it is not one. `defaultPort` when absent. */
export function tryParseHostPort(text: string, defaultPort: number): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const host = m[1] ?? m[2] ?? '';
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (!host || port < 0 || port > 65535) return undefined;
  return { host, port };
}

export function parseHostPort(text: string, defaultPort: number): HostPort {
  const hp = tryParseHostPort(text, defaultPort);
  if (!hp) throw new Error(`"${text}" is not host:port (write e.g. 127.0.0.1:53 or [::1]:53)`);
  return hp;
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
