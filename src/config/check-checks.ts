/**
 * Checks of the `checks:` section that the schema cannot express: exactly one check type, an
 * exec that says whether it wants a shell, targets that are host:port or a URL once references
 * are set aside, a body regex that compiles, a timeout that fits in the interval, and icmp,
 * which cannot run here (Node opens no raw sockets; see the message).
 */
import type { Diagnostic } from './diagnostic.js';
import { findReferences } from './references.js';
import { CHECK_TYPES, HOST_PORT_PATTERN } from './schema.js';
import { Duration } from '../util/duration.js';

/** Where a document path is (semantic-checks.ts's Locate; repeated here to keep the import one way). */
type Locate = (path: (string | number)[], key?: boolean) => { line: number; column: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasRefs = (s: string): boolean => findReferences(s).length > 0;
const HOST_PORT = new RegExp(HOST_PORT_PATTERN);

export function checkChecks(doc: Record<string, unknown>, file: string, locate: Locate): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!isObj(doc.checks)) return out;
  const push = (
    path: (string | number)[],
    d: Omit<Diagnostic, 'file' | 'line' | 'column' | 'path' | 'severity'>,
    key = false,
  ) => {
    const pos = locate(path, key);
    out.push({ severity: 'error', file, line: pos.line, column: pos.column, path: path.join('.'), ...d });
  };
  const hostPort = (value: unknown, path: (string | number)[], what: string) => {
    if (typeof value !== 'string' || hasRefs(value)) return;
    const m = HOST_PORT.exec(value);
    if (!m || m[2] === undefined || Number(m[2].slice(1)) < 1 || Number(m[2].slice(1)) > 65535)
      push(path, {
        code: 'invalid-value',
        message: `${what} needs host:port`,
        expected: 'host:port with a port from 1 to 65535',
        found: JSON.stringify(value),
        fix: 'write e.g. 127.0.0.1:445, [::1]:443, or ${service.NAME.address.PORT}',
      });
  };
  for (const [name, raw] of Object.entries(doc.checks)) {
    if (!isObj(raw)) continue;
    const base = ['checks', name];
    if (raw.icmp !== undefined) {
      push(
        [...base, 'icmp'],
        {
          code: 'unsupported',
          message: `check \`${name}\`: icmp checks are not available: they need a raw socket (or unprivileged ICMP sockets, net.ipv4.ping_group_range), which Node cannot open, and no setuid ping is relied on`,
          fix: `check a port instead (\`tcp: HOST:22\`), or run ping yourself: \`exec: { command: [ping, -c1, -W1, HOST] }\``,
        },
        true,
      );
      continue;
    }
    const types = CHECK_TYPES.filter((t) => raw[t] !== undefined);
    if (types.length !== 1) {
      push(
        base,
        {
          code: types.length ? 'conflict' : 'missing-key',
          message: `check \`${name}\` needs exactly one of ${CHECK_TYPES.filter((t) => t !== 'icmp').join(', ')}`,
          found: types.length ? types.join(' and ') : 'none',
          fix: types.length
            ? `keep one of ${types.join(', ')} (make another check for the other)`
            : 'add e.g. `http: { url: http://127.0.0.1:8080/healthz }` or `tcp: 127.0.0.1:445`',
        },
        true,
      );
    }
    const http = raw.http;
    if (isObj(http)) {
      if (typeof http.url === 'string' && !/^https?:\/\//.test(http.url) && !/^\$\{service\./.test(http.url))
        push([...base, 'http', 'url'], {
          code: 'invalid-value',
          message: `check \`${name}\`: the url must start with http:// or https://`,
          found: JSON.stringify(http.url),
          fix: 'write e.g. http://127.0.0.1:8080/healthz or ${service.web.url.http}/healthz',
        });
      if (typeof http.body_regex === 'string') {
        try {
          new RegExp(http.body_regex);
        } catch (e) {
          push([...base, 'http', 'body_regex'], {
            code: 'invalid-value',
            message: `check \`${name}\`: body_regex is not a valid regular expression (${e instanceof Error ? e.message : String(e)})`,
            found: JSON.stringify(http.body_regex),
            fix: 'fix the expression, or use `body:` for a plain substring',
          });
        }
      }
      if (typeof http.status === 'string' && http.status.includes('-')) {
        const [lo, hi] = http.status.split('-').map(Number);
        if ((lo ?? 0) > (hi ?? 0))
          push([...base, 'http', 'status'], {
            code: 'invalid-value',
            message: `check \`${name}\`: status range ${http.status} is empty`,
            fix: `write the lower status first, e.g. ${hi}-${lo}`,
          });
      }
    }
    hostPort(raw.tcp, [...base, 'tcp'], `check \`${name}\`: tcp`);
    if (isObj(raw.tls)) hostPort(raw.tls.address, [...base, 'tls', 'address'], `check \`${name}\`: tls address`);
    if (isObj(raw.dns) && isObj(raw.dns) && typeof raw.dns.server === 'string')
      hostPort(
        raw.dns.server.includes(':') || raw.dns.server.startsWith('[') ? raw.dns.server : `${raw.dns.server}:53`,
        [...base, 'dns', 'server'],
        `check \`${name}\`: dns server`,
      );
    if (isObj(raw.exec)) {
      const forms = ['command', 'shell'].filter((k) => (raw.exec as Record<string, unknown>)[k] !== undefined);
      if (forms.length !== 1)
        push(
          [...base, 'exec'],
          {
            code: forms.length ? 'conflict' : 'missing-key',
            message: `check \`${name}\`: exec needs exactly one of command (a program and its arguments, no shell) or shell (a command line for /bin/sh -c)`,
            found: forms.length ? 'both' : 'neither',
            fix: 'write `exec: { command: [pg_isready, -h, 127.0.0.1] }`, or `exec: { shell: "..." }` when you need a shell',
          },
          true,
        );
    }
    const interval = typeof raw.interval === 'string' ? Duration.tryParse(raw.interval) : undefined;
    const timeout = typeof raw.timeout === 'string' ? Duration.tryParse(raw.timeout) : undefined;
    if (interval && interval.toMilliseconds() < 100)
      push([...base, 'interval'], {
        code: 'invalid-value',
        message: `check \`${name}\`: interval ${raw.interval as string} is shorter than 100ms`,
        fix: 'use an interval of 100ms or more (a few seconds is usual)',
      });
    if (interval && timeout && timeout.toMilliseconds() > interval.toMilliseconds() && raw.push === undefined)
      push([...base, 'timeout'], {
        code: 'invalid-value',
        message: `check \`${name}\`: timeout ${raw.timeout as string} is longer than its interval ${raw.interval as string}`,
        expected: 'a timeout no longer than the interval',
        fix: `lower the timeout to ${raw.interval as string} or less, or raise the interval`,
      });
  }
  return out;
}
