/**
 * A check's recorded spec (model/check-resources.ts writes it) as a typed value: durations as
 * Duration, the target as a tagged union on `type`. Read where the spec crosses the store
 * boundary, so nothing downstream casts.
 */
import type { JsonObject } from '../../model/json.js';
import { Duration } from '../../util/duration.js';

export const CHECK_STATES = ['pending', 'up', 'down'] as const;
export type CheckState = (typeof CHECK_STATES)[number];

export type CheckTarget =
  | {
      type: 'http';
      url: string;
      method: 'GET' | 'HEAD';
      status: { from: number; to: number };
      body: string | null;
      bodyRegex: RegExp | null;
      maxLatency: Duration | null;
    }
  | { type: 'tcp'; address: string }
  | { type: 'dns'; name: string; record: string; server: string | null; expect: string[] }
  | { type: 'tls'; address: string; servername: string | null; minDays: number; verify: boolean }
  | { type: 'exec'; argv: string[] }
  | { type: 'push'; grace: Duration };

export type CheckType = CheckTarget['type'];

export interface CheckSpec {
  name: string;
  interval: Duration;
  timeout: Duration;
  /** Consecutive failures that take the check down. */
  failures: number;
  /** Consecutive successes that bring it up. */
  successes: number;
  target: CheckTarget;
}

const str = (o: JsonObject, k: string, where: string): string => {
  const v = o[k];
  if (typeof v !== 'string') throw new Error(`${where}: \`${k}\` should be text, found ${JSON.stringify(v)}`);
  return v;
};
const optStr = (o: JsonObject, k: string): string | null => (typeof o[k] === 'string' ? (o[k] as string) : null);
const int = (o: JsonObject, k: string, where: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new Error(`${where}: \`${k}\` should be an integer, found ${JSON.stringify(v)}`);
  return v;
};

/** The `200-399` / `200` form of the schema. */
export function parseStatusRange(text: string): { from: number; to: number } {
  const [a, b] = text.split('-');
  const from = Number(a);
  return { from, to: b === undefined ? from : Number(b) };
}

/** Throws, naming the check and the field, when the recorded spec does not have the shape the model writes. */
export function parseCheckSpec(name: string, spec: JsonObject): CheckSpec {
  const where = `check.${name}`;
  const t = spec.target;
  if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new Error(`${where}: the spec has no target`);
  const type = str(spec, 'type', where);
  let target: CheckTarget;
  switch (type) {
    case 'http': {
      const regex = optStr(t, 'body_regex');
      const latency = optStr(t, 'max_latency');
      target = {
        type,
        url: str(t, 'url', where),
        method: t.method === 'HEAD' ? 'HEAD' : 'GET',
        status: parseStatusRange(optStr(t, 'status') ?? '200-399'),
        body: optStr(t, 'body'),
        bodyRegex: regex === null ? null : new RegExp(regex),
        maxLatency: latency === null ? null : Duration.parse(latency),
      };
      break;
    }
    case 'tcp':
      target = { type, address: str(t, 'address', where) };
      break;
    case 'dns':
      target = {
        type,
        name: str(t, 'name', where),
        record: optStr(t, 'record') ?? 'A',
        server: optStr(t, 'server'),
        expect: Array.isArray(t.expect) ? t.expect.filter((x): x is string => typeof x === 'string') : [],
      };
      break;
    case 'tls':
      target = {
        type,
        address: str(t, 'address', where),
        servername: optStr(t, 'servername'),
        minDays: typeof t.min_days === 'number' ? t.min_days : 14,
        verify: t.verify !== false,
      };
      break;
    case 'exec': {
      const shell = optStr(t, 'shell');
      const argv = Array.isArray(t.command) ? t.command.filter((x): x is string => typeof x === 'string') : [];
      target = { type, argv: shell !== null ? ['/bin/sh', '-c', shell] : argv };
      if (target.argv.length === 0) throw new Error(`${where}: exec has neither command nor shell`);
      break;
    }
    case 'push':
      target = { type, grace: Duration.parse(str(t, 'grace', where)) };
      break;
    default:
      throw new Error(`${where}: unknown check type \`${type}\``);
  }
  return {
    name,
    interval: Duration.parse(str(spec, 'interval', where)),
    timeout: Duration.parse(str(spec, 'timeout', where)),
    failures: int(spec, 'failures', where),
    successes: int(spec, 'successes', where),
    target,
  };
}
